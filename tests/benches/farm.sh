#!/bin/sh
# ctxscope beside its peers on the 1 GB generated farm (README, Performance), in one run:
#   tests/benches/farm.sh [FILE] [RUNS]          (defaults: /var/tmp/farm.pcap, 3)
# Generates FILE if it is missing (`generate --farm --size 1G --seed 1`), then times, with
# hyperfine, tcpdump (the libpcap read floor), ndpiReader (nDPI: detection, no reassembly) and
# `ctxscope report` with one and with two workers, and measures each one's peak RSS once with
# GNU time. Needs hyperfine, tcpdump and libndpi-bin.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
file=${1:-/var/tmp/farm.pcap}
runs=${2:-3}
bin="$root/target/release/ctxscope"
(cd "$root" && cargo build --quiet --release)
[ -e "$file" ] || "$bin" generate --farm "$file" --size 1G --seed 1 >/dev/null
set -- "tcpdump -r $file -w /dev/null" \
    "ndpiReader -q -i $file" \
    "$bin report $file --format json -o /dev/null --workers 1" \
    "$bin report $file --format json -o /dev/null --workers 2"
hyperfine -N -r "$runs" --export-markdown /dev/stdout "$@" 2>/dev/null | grep '^|'
for command in "$@"; do
    # shellcheck disable=SC2086 # the commands are split into words on purpose
    kib=$(/usr/bin/time -f %M $command 2>&1 >/dev/null | tail -n 1)
    printf 'peak RSS %s MiB: %s\n' "$((kib / 1024))" "$command"
done
