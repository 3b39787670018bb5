#!/bin/bash
# Paired CPU-per-request measurement: pollux and one peer, both pinned to CPU 0, driven in
# alternating wrk runs (pinned to CPU 1), so drift of this shared machine hits both alike.
# compare.sh measures each server in its own 5-second window one after the other, and a
# change of machine state between the windows lands in the ratio (±15% on single runs).
#
# Usage: bench/paired.sh plain|small|big [ROUNDS=10] [SECONDS=4]
#   plain  target/release/examples/$APP against nginx, GET /plaintext (APP=hello by default;
#          APP=techempower for the pollux-web framework)
#   small  target/release/pollux serve against lighttpd, GET /index.html (1 KiB)
#   big    target/release/pollux serve against nginx, GET /big.bin (32 MiB) over 4 connections
# Prints, per round, user and system µs per request of each (ticks from /proc/PID/stat over
# the run, divided by wrk's request count), then the mean of each and the ratio of means.
# For big: per round GB/s of each (wrk's Transfer/sec) and the ratio, then the means.
# Needs: apt-get install -y nginx lighttpd wrk.
set -euo pipefail
cd "$(dirname "$0")/.."
kit=$PWD/bench/kit
case=${1:?plain or small}; rounds=${2:-10}; secs=${3:-4}
app=${APP:-hello}
cargo build --release --bin pollux --example "$app"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /tmp/paired.XXXXXX); chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
"$kit/setup-www.sh" "$work/www" >/dev/null; chmod -R a+rX "$work/www"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pp=$(port) cp=$(port)
if [ "$case" = plain ] || [ "$case" = big ]; then
  path=/plaintext; [ "$case" = big ] && path=/big.bin
  mkdir -p "$work/ngx/logs"; ln -s "$work/www" "$work/ngx/www"
  sed -e "s|@ROOT@|$work/www|g" -e "s|@PORT@|$pp|g" "$kit/peers/nginx.conf" > "$work/ngx/nginx.conf"
  taskset -c 0 nginx -p "$work/ngx" -c nginx.conf & pids+=($!)
  if [ "$case" = plain ]; then
    taskset -c 0 "target/release/examples/$app" --bind "127.0.0.1:$cp" --workers 1 >/dev/null & pids+=($!)
  else
    taskset -c 0 target/release/pollux serve "$work/www" --bind "127.0.0.1:$cp" --workers 1 \
      --access-log off >/dev/null & pids+=($!)
  fi
else
  path=/index.html
  sed -e "s|@ROOT@|$work/www|g" -e "s|@PORT@|$pp|g" "$kit/peers/lighttpd.conf" > "$work/lighttpd.conf"
  taskset -c 0 lighttpd -D -f "$work/lighttpd.conf" & pids+=($!)
  taskset -c 0 target/release/pollux serve "$work/www" --bind "127.0.0.1:$cp" --workers 1 --access-log off \
    >/dev/null & pids+=($!)
fi
peer_pid=${pids[0]} cand_pid=${pids[1]}
sleep 1
# nginx serves from a worker process, a child of its master.
[ "$case" != small ] && peer_pid=$(pgrep -P "$peer_pid" | head -1)
run() { # PORT PID -> "user_us sys_us"
  local a b n
  a=$(awk '{print $14, $15}' "/proc/$2/stat")
  n=$(taskset -c 1 wrk -t1 -c64 -d"${secs}s" "http://127.0.0.1:$1$path" | awk '/requests in/ {print $1}')
  b=$(awk '{print $14, $15}' "/proc/$2/stat")
  awk -v a="$a" -v b="$b" -v n="$n" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); f = 1e6 / hz / n
    printf "%.2f %.2f", (y[1] - x[1]) * f, (y[2] - x[2]) * f }'
}
if [ "$case" = big ]; then
  gbps() { # PORT -> GB/s (GiB, as wrk counts)
    taskset -c 1 wrk -t1 -c4 -d"${secs}s" "http://127.0.0.1:$1$path" | awk '/Transfer\/sec/ {
      v = $2; u = substr(v, length(v) - 1); x = substr(v, 1, length(v) - 2) + 0
      if (u == "MB") x /= 1024; else if (u == "KB") x /= 1048576; printf "%.3f", x }'
  }
  printf "round\tnginx_GBps\tpollux_GBps\tratio\n"
  for r in $(seq "$rounds"); do
    if [ $((r % 2)) -eq 1 ]; then p=$(gbps "$pp"); c=$(gbps "$cp"); else c=$(gbps "$cp"); p=$(gbps "$pp"); fi
    echo "$r $p $c" | awk '{printf "%d\t%.2f\t%.2f\t%.2f\n", $1, $2, $3, $3 / $2}'
  done | tee "$work/rows"
  awk '{p += $2; c += $3; n++} END {printf "mean\t%.2f\t%.2f\t%.2f\n", p/n, c/n, c/p}' "$work/rows"
  exit 0
fi
printf "round\tpeer_user\tpeer_sys\tpollux_user\tpollux_sys\tratio\n"
for r in $(seq "$rounds"); do
  # Odd rounds measure the peer first, even rounds pollux first: drift within a round then
  # favours neither.
  if [ $((r % 2)) -eq 1 ]; then p=$(run "$pp" "$peer_pid"); c=$(run "$cp" "$cand_pid")
  else c=$(run "$cp" "$cand_pid"); p=$(run "$pp" "$peer_pid"); fi
  echo "$r $p $c" | awk '{printf "%d\t%s\t%s\t%s\t%s\t%.2f\n", $1, $2, $3, $4, $5, ($4 + $5) / ($2 + $3)}'
done | tee "$work/rows"
awk '{pu += $2; ps += $3; cu += $4; cs += $5; n++} END {
  printf "mean\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\n", pu/n, ps/n, cu/n, cs/n, (cu + cs) / (pu + ps) }' "$work/rows"
