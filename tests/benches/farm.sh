#!/bin/sh
# ctxscope beside its peers on the 1 GB generated farm (README, Performance), in one run:
#   tests/benches/farm.sh [FILE] [RUNS]          (defaults: /var/tmp/farm.pcap, 3)
# Generates FILE if it is missing (`generate --farm --size 1G --seed 1`), then times, with
# hyperfine, tcpdump (the libpcap read floor), ndpiReader (nDPI: detection, no reassembly) and
# `ctxscope report` with one and with two workers, printing each one's median and its rate
# relative to tcpdump's, and measures each one's peak RSS once with GNU time. Needs hyperfine,
# tcpdump, libndpi-bin and python3.
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
times=$(mktemp)
trap 'rm -f "$times"' EXIT
hyperfine -N -r "$runs" --export-json "$times" "$@" >/dev/null 2>&1
python3 -c '
import json, sys
results = json.load(open(sys.argv[1]))["results"]
floor = results[0]["median"]
print("| command | median (s) | min-max (s) | rate relative to tcpdump |")
print("|---|---|---|---|")
for r in results:
    command, median, low, high = (r[k] for k in ("command", "median", "min", "max"))
    print(f"| `{command}` | {median:.3f} | {low:.3f}-{high:.3f} | {floor / median:.0%} |")
' "$times"
for command in "$@"; do
    # shellcheck disable=SC2086 # the commands are split into words on purpose
    kib=$(/usr/bin/time -f %M $command 2>&1 >/dev/null | tail -n 1)
    printf 'peak RSS %s MiB: %s\n' "$((kib / 1024))" "$command"
done
