#!/usr/bin/env bash
# Long-run memory of the sensor (not a CI test): replays a capture onto lo in a loop for N
# minutes, with new client and server addresses on every pass (tcpreplay --unique-ip: churn, as
# weeks of connections coming and going), under `ctxscope monitor -i lo`, and samples the
# sensor's resident memory. Needs root (or the capabilities) and tcpreplay, tcprewrite.
#
#   tests/benches/monitor_rss.sh [MINUTES] [CAPTURE] [PPS]
#
# Prints one line per sample, `seconds rss_kb packets_read`, then the first and last sample.
# The capture's frames get MAC addresses of their own, so the sensor sees only the replay.
# One pass of the sample farm takes a fraction of a second where the real one took minutes:
# the connections a pass leaves open would wait for timeouts.tcp_idle_secs (an hour) to be
# retired, so the sensor runs with it at 120 s, and memory should be flat after a few minutes.
set -euo pipefail
minutes=${1:-30}
capture=${2:-captures/farm/mixed_farm.pcap}
pps=${3:-5000}
every=10
cd "$(dirname "$0")/../.."
cargo build --release --quiet
work=$(mktemp -d)
# The sensor writes its final records on SIGTERM: wait for it before its folder goes.
trap 'kill "$replay" "$sensor" 2>/dev/null || true; wait "$sensor" 2>/dev/null || true; rm -rf "$work"' EXIT
smac=02:c8:00:00:00:01
tcprewrite --enet-smac="$smac" --enet-dmac=02:c8:00:00:00:02 \
  --infile="$capture" --outfile="$work/replay.pcap"
port=$((20000 + $$ % 20000))
./target/release/ctxscope monitor -i lo -f "ether host $smac" --out "$work/out" \
  --rotate-size 64M --metrics "127.0.0.1:$port" --set timeouts.tcp_idle_secs=120 &
sensor=$!
sleep 2
tcpreplay -q --loop=0 --unique-ip --pps="$pps" -i lo "$work/replay.pcap" >/dev/null 2>&1 &
replay=$!
end=$((SECONDS + minutes * 60))
start=$SECONDS
samples=()
while [ $SECONDS -lt $end ]; do
  sleep "$every"
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$sensor/status")
  packets=$(curl -s "127.0.0.1:$port/metrics" | awk '$1 == "ctxscope_packets_total" {print $2}')
  line="$((SECONDS - start)) $rss $packets"
  echo "$line"
  samples+=("$line")
done
echo "first: ${samples[0]}"
echo "last:  ${samples[-1]}"
