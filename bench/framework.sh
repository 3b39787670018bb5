#!/bin/bash
# What the pollux-web framework costs, and what /json costs over /plaintext, in CPU per request:
# examples/hello (the bare pollux-server handler) and examples/techempower (the same answers
# through pollux-web's router and extractors), both pinned to CPU 0 and driven in alternating
# wrk runs (pinned to CPU 1) so the machine's drift hits all three alike.
#
# Usage: bench/framework.sh [ROUNDS=8] [SECONDS=4]
# Prints per round user+system µs per request of: hello /plaintext, techempower /plaintext,
# techempower /json; then the means and the ratios framework/bare and json/plaintext.
# Needs: wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-8}; secs=${2:-4}
cargo build --release --example hello --example techempower
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
hp=$(port) tp=$(port)
taskset -c 0 target/release/examples/hello --bind "127.0.0.1:$hp" --workers 1 >/dev/null & pids+=($!)
taskset -c 0 target/release/examples/techempower --bind "127.0.0.1:$tp" --workers 1 >/dev/null & pids+=($!)
sleep 1
run() { # PORT PID PATH -> µs per request (user + system)
  local a b n
  a=$(awk '{print $14 + $15}' "/proc/$2/stat")
  n=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$1$3" | awk '/requests in/ {print $1}')
  b=$(awk '{print $14 + $15}' "/proc/$2/stat")
  awk -v a="$a" -v b="$b" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.2f", (b - a) * 1e6 / hz / n }'
}
printf "round\thello_plain\tweb_plain\tweb_json\n"
for r in $(seq "$rounds"); do
  printf "%d\t%s\t%s\t%s\n" "$r" "$(run "$hp" "${pids[0]}" /plaintext)" "$(run "$tp" "${pids[1]}" /plaintext)" \
    "$(run "$tp" "${pids[1]}" /json)"
done | tee /dev/stderr | awk '{h += $2; p += $3; j += $4; n++} END {
  printf "mean\t%.2f\t%.2f\t%.2f\nframework/bare %.3f   json/plaintext %.3f\n", h/n, p/n, j/n, p/h, j/p }'
