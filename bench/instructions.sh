#!/usr/bin/env bash
# Instructions per request of a server, counted by callgrind (deterministic where wall-clock
# CPU per request on this shared machine moves by ±15%).
#
# Usage: bench/instructions.sh 'SERVER CMD with {port}' PATH [SECONDS] [CONNS] [PIPELINE]
#   e.g. bench/instructions.sh 'target/release/examples/techempower --bind 127.0.0.1:{port} --workers 1' /plaintext
# Prints: requests, total instructions, instructions per request (start-up included: a few
# million, under 1% of a 5 s run).
# HEADERS='Name: value' (one field per line) adds request fields; BROWSER=1 adds the fields of
# a Chrome page request (sec-ch-ua, sec-fetch-*, User-Agent, Accept, Accept-Encoding, ...).
# Needs: valgrind, wrk.
set -euo pipefail
cmd=$1; path=$2; secs=${3:-5}; conns=${4:-8}; depth=${5:-1}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
valgrind --tool=callgrind --callgrind-out-file="$out/cg.out" ${cmd//\{port\}/$port} >/dev/null 2>"$out/vg.log" &
vg=$!
for _ in $(seq 100); do
  curl -fs "http://127.0.0.1:$port$path" >/dev/null 2>&1 && break
  sleep 0.2
done
script=()
if [ "$depth" -gt 1 ]; then
  script=(-s "$(dirname "$0")/kit/pipeline.lua")
fi
fields=()
if [ "${BROWSER:-}" = 1 ]; then
  fields+=(-H 'Connection: keep-alive' -H 'sec-ch-ua: "Chromium";v="131", "Not_A Brand";v="24"'
    -H 'sec-ch-ua-mobile: ?0' -H 'sec-ch-ua-platform: "Linux"' -H 'Upgrade-Insecure-Requests: 1'
    -H 'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
    -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8'
    -H 'Sec-Fetch-Site: none' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-User: ?1' -H 'Sec-Fetch-Dest: document'
    -H 'Accept-Encoding: gzip, deflate, br, zstd' -H 'Accept-Language: en-US,en;q=0.9')
fi
while IFS= read -r h; do [ -n "$h" ] && fields+=(-H "$h"); done <<< "${HEADERS:-}"
res=$(DEPTH=$depth wrk -t1 -c"$conns" -d"${secs}s" "${script[@]}" "${fields[@]}" "http://127.0.0.1:$port$path" 2>&1)
reqs=$(echo "$res" | awk '/requests in/{print $1}')
kill -TERM $vg
wait $vg || true
ir=$(awk '/^summary:|^totals:/{print $2; exit}' "$out/cg.out")
awk -v r="$reqs" -v i="$ir" 'BEGIN{printf "requests=%d instructions=%d per_request=%.0f\n", r, i, i/r}'
