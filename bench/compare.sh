#!/usr/bin/env bash
# Side-by-side benchmark: pollux against nginx, lighttpd, h2o and the ceiling server, one core
# each, in one run (the kit in bench/kit pins every server to CPU 0 and wrk to CPU 1).
#
# Usage: bench/compare.sh [--runs N] [--seconds N] [--only plain,plain16,small,small16,asset,big,idle]
#   --runs N repeats the whole comparison N times and prints per-cell medians (bench/median.py):
#   on this shared machine one run moves by ±15%, too much for targets that sit near parity.
#   --app    is target/release/examples/$APP (plaintext scenarios; APP=hello by default, the bare
#            handler interface; APP=techempower measures the pollux-web framework)
#   --static is target/release/pollux serve (file scenarios and idle-connection memory)
# Needs: apt-get install -y nginx lighttpd h2o wrk gcc python3 (installed here if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
kit=bench/kit
missing=()
for t in nginx:nginx lighttpd:lighttpd h2o:h2o wrk:wrk gcc:gcc python3:python3; do
  command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
app=${APP:-hello}
cargo build --release --bin pollux --example "$app"
# 10,000 idle connections need descriptors.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
bin=$PWD/target/release
runs=1
if [ "${1:-}" = --runs ]; then runs=$2; shift 2; fi
if [ "$runs" -gt 1 ]; then
  for i in $(seq "$runs"); do
    "$kit/compare.sh" \
      --app "$bin/examples/$app --bind 127.0.0.1:{port} --workers 1" \
      --static "$bin/pollux serve {root} --bind 127.0.0.1:{port} --workers 1 --access-log off" \
      "$@" | tee -a /dev/stderr
  done | python3 bench/median.py
  exit
fi
exec "$kit/compare.sh" \
  --app "$bin/examples/$app --bind 127.0.0.1:{port} --workers 1" \
  --static "$bin/pollux serve {root} --bind 127.0.0.1:{port} --workers 1 --access-log off" \
  "$@"
