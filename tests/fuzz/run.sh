#!/bin/sh
# Runs one fuzz target: tests/fuzz/run.sh TARGET [libFuzzer options...]
#   TARGET: engine, pcapng, packets, reassembly or dissector-NAME (NAME a protocol of the
#   registry: lmgrd, vendor_daemon, ica, cgp, ima, tls, edt, ...).
# The corpus is tests/fuzz/corpus/TARGET (seed it with tests/fuzz/seeds.sh) plus the kept
# regression inputs; the dictionary is dict/NAME.dict for a dissector, all of them for the
# others. Crashes go to tests/fuzz/artifacts/TARGET/. Extra options go to libFuzzer, e.g.
# -runs=1000000, -max_total_time=600. FUZZ_SANITIZER=none builds without AddressSanitizer
# (safe Rust: several times faster, same coverage).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
target=${1:?usage: run.sh TARGET [libFuzzer options...]}
shift
dict=$(mktemp)
trap 'rm -f "$dict"' EXIT
# A packets input runs a whole engine: a few dozen frames (the seeds' size) keep it fast.
max_len=65536
[ "$target" = packets ] && max_len=8192
case $target in
dissector-*)
    bin=dissector
    CTXSCOPE_FUZZ_PROTO=${target#dissector-}
    export CTXSCOPE_FUZZ_PROTO
    [ -e "$here/dict/$CTXSCOPE_FUZZ_PROTO.dict" ] && cat "$here/dict/$CTXSCOPE_FUZZ_PROTO.dict" >"$dict"
    ;;
*)
    bin=$target
    cat "$here"/dict/*.dict | sort -u >"$dict"
    ;;
esac
mkdir -p "$here/corpus/$target" "$here/regressions/$target" "$here/artifacts/$target"
cd "$here/../.."
cargo +nightly fuzz run --fuzz-dir tests/fuzz -O -s "${FUZZ_SANITIZER:-address}" \
    "$bin" "$here/corpus/$target" "$here/regressions/$target" -- \
    -dict="$dict" -max_len="$max_len" -artifact_prefix="$here/artifacts/$target/" "$@"
