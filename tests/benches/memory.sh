#!/bin/sh
# Peak RSS of `ctxscope report` on the adversarial captures (README, Performance):
#   tests/benches/memory.sh [DIR] [BUDGET...]
# Generates a 96 MB SYN flood, a 428 MB gap bomb and a 256 MB overlap storm into DIR (default
# /var/tmp/ctxscope-memory, kept for reruns) and reports each at the default settings and with
# each BUDGET given (default: 32M) as limits.memory, with the caps the run hit. Needs GNU time.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=${1:-/var/tmp/ctxscope-memory}
[ $# -gt 0 ] && shift
budgets=${*:-32M}
bin="$root/target/release/ctxscope"
(cd "$root" && cargo build --quiet --release)
mkdir -p "$dir"
for spec in flood:96000000 gap-bomb:428000000 overlap-storm:256000000; do
    kind=${spec%%:*}
    file="$dir/$kind.pcap"
    [ -e "$file" ] || "$bin" generate --"$kind" "$file" --size "${spec#*:}" >/dev/null
done
printf '| capture | limits.memory | peak RSS (MiB) | caps hit |\n|---|---|---|---|\n'
for kind in flood gap-bomb overlap-storm; do
    for budget in default $budgets; do
        set --
        [ "$budget" = default ] || set -- --set "limits.memory=$budget"
        report=$(mktemp)
        kib=$(/usr/bin/time -f %M "$bin" report "$dir/$kind.pcap" "$@" --format json -o "$report" 2>&1 >/dev/null | tail -n 1)
        hits=$(python3 -c '
import json, sys
def walk(prefix, v):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from walk(prefix + [k], x)
    elif isinstance(v, int) and v and prefix[-1] not in ("created", "peak_concurrent", "registered", "claimed", "retired_closed", "retired_idle"):
        yield ".".join(prefix) + " " + str(v)
print(", ".join(walk([], json.load(open(sys.argv[1]))["limits"])) or "none")' "$report")
        rm -f "$report"
        printf '| %s | %s | %s | %s |\n' "$kind" "$budget" "$((kib / 1024))" "$hits"
    done
done
