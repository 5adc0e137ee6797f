#!/bin/sh
# Live capture at line rate (README, Performance): trafgen (Debian netsniff-ng) sends 60-byte
# TCP SYNs onto `lo` as fast as one CPU can for SECONDS while `ctxscope report -i lo` captures
# them, once per WORKERS value:
#   tests/benches/live_rate.sh [SECONDS] [WORKERS...]      (root; defaults: 30, "1 2")
# Prints, per run, the load average before it, the packets trafgen sent and their rate, those
# ctxscope analysed, the kernel's counters from the report (received, dropped for a full
# buffer, dropped by the interface, received but unread) and whether every packet sent is
# either analysed or counted (sent = analysed + dropped + unread).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
secs=${1:-30}
[ $# -gt 0 ] && shift
workers=${*:-1 2}
bin="$root/target/release/ctxscope"
(cd "$root" && cargo build --quiet --release)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/syn.trafgen" <<'EOF'
{
  eth(da=00:00:00:00:00:00, sa=00:00:00:00:00:00, type=0x0800),
  ipv4(saddr=10.77.0.1, daddr=10.78.0.1, proto=6, ttl=64),
  tcp(sp=dinc(1024, 60000), dp=1494, syn, seq=drnd()),
  fill(0x00, 6)
}
EOF
printf '| workers | load before | sent | sent/s | analysed | kernel received | dropped (buffer) | dropped (interface) | unread | sent = analysed + dropped + unread |\n|---|---|---|---|---|---|---|---|---|---|\n'
for n in $workers; do
    load=$(cut -d' ' -f1 /proc/loadavg)
    "$bin" report -i lo -f 'tcp and host 10.78.0.1' --duration $((secs + 3)) --workers "$n" \
        --format json -o "$tmp/report.json" 2>"$tmp/err" &
    capture=$!
    sleep 2 # the capture is open before the first packet
    timeout -s INT "$secs" trafgen --dev lo --conf "$tmp/syn.trafgen" --cpus 1 >"$tmp/sent" 2>&1 || true
    wait "$capture"
    sent=$(tr -d '\r' <"$tmp/sent" | awk '/packets outgoing/ { print $1 }')
    python3 - "$tmp/report.json" "$n" "$sent" "$secs" "$load" <<'EOF'
import json, sys
report = json.load(open(sys.argv[1]))
workers, sent, secs, load = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
k = report["sources"][0]["kernel"]
analysed = report["capture"]["packets"]
exact = "yes" if sent == analysed + k["dropped"] + k["unread"] else "no"
print(f"| {workers} | {load} | {sent:,} | {sent // secs:,} | {analysed:,} | {k['received']:,} | {k['dropped']:,} | {k['if_dropped']:,} | {k['unread']:,} | {exact} |")
EOF
done
