#!/usr/bin/env bash
# HTTP/2 side by side: pollux against nginx and h2o, each speaking HTTP/2 over TLS (ALPN h2) with
# one worker pinned to CPU 1, the client (h2load) pinned to CPU 0, the same ECDSA P-256
# certificate (made here with openssl, as bench/tls.sh does) and the same files
# (bench/kit/setup-www.sh: 1 KiB index.html, 32 MiB big.bin), access logs off. Method:
# bench/README.md ("h2.sh"). HTTP/2 idle memory is out of scope here.
#
# Usage: bench/h2.sh [--runs N] [--seconds N] [--big-seconds N] [--only rps,cpu,big]
#                    [--servers pollux,nginx,h2o] [--results DIR] [--nice N] [--wait-idle N]
#   --runs N         repeat everything N times; the table shows per-cell medians and each run's
#                    pollux/best ratio (default 1)
#   --seconds N      measured window of rps and cpu (h2load -D; default 5), each after a 1 s
#                    warm-up on connections of its own
#   --big-seconds N  about how long each big window lasts: the warm-up times two 32 MiB
#                    downloads and sets h2load -n from that (default 4)
#   --only           scenarios, comma-separated (default rps,cpu,big):
#                      rps  h2load -c 32 -m 16, 1 KiB file: requests/s
#                      cpu  h2load -c 32 -m 1, 1 KiB file: server CPU per request
#                      big  h2load -c 1 -m 1, 32 MiB file over one stream at a time: bytes/s
#   --servers        servers, comma-separated (default pollux,nginx,h2o)
#   --results D      where raw numbers, every h2load output and the table go
#                    (default target/bench-h2/DATE)
#   --nice N         run servers and client at nice N (e.g. -5, as root); off by default
#   --wait-idle N    before each run, wait up to N seconds for a 5-second stretch in which
#                    everything on the machine used under 10% of one core (default 0: no wait)
# POLLUX_CMD overrides pollux's command line; {port} {root} {cert} {key} are replaced. Default:
#   target/release/pollux serve {root} --tls-bind 127.0.0.1:{port} --cert {cert} --key {key}
#     --workers 1 --access-log off
# A server that does not start, does not negotiate h2, or answers anything but 2xx gets `n/a`
# in its cells (with the reason on stderr); the others are measured all the same.
# Needs: nginx h2o h2load (nghttp2-client) openssl python3 (installed from Debian when missing)
# and cargo (pollux's release build).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
runs=1 secs=5 big_secs=4 only=rps,cpu,big servers=pollux,nginx,h2o results="" nice="" wait_idle=0
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2;; --seconds) secs=$2; shift 2;; --big-seconds) big_secs=$2; shift 2;;
    --only) only=$2; shift 2;; --servers) servers=$2; shift 2;;
    --results) results=$2; shift 2;; --nice) nice=$2; shift 2;; --wait-idle) wait_idle=$2; shift 2;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "bench/h2.sh: unknown argument $1" >&2; exit 2;;
  esac
done
# The issue's method: each server on one core, the client on the other.
srv=(taskset -c 1) cli=(taskset -c 0)
[ -n "$nice" ] && srv=(nice -n "$nice" taskset -c 1) cli=(nice -n "$nice" taskset -c 0)
has() { [[ ",$2," == *",$1,"* ]]; }

missing=()
for t in nginx h2o h2load openssl python3 taskset; do command -v $t >/dev/null || missing+=($t); done
if ((${#missing[@]})); then
  missing=("${missing[@]/taskset/util-linux}"); missing=("${missing[@]/h2load/nghttp2-client}")
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
results=${results:-$repo/target/bench-h2/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"
note() { echo "# $*" >&2; echo "# $*" >>"$results/notes.txt"; }  # failures and warnings, kept with the results
if has pollux "$servers" && [ -z "${POLLUX_CMD:-}" ]; then
  if ! cargo build --release -q --bin pollux; then
    note "pollux: the release build failed (above); measuring the peers only"
    servers=$(echo ",$servers," | sed 's/,pollux,/,/; s/^,//; s/,$//')
  elif ! target/release/pollux serve --help 2>/dev/null | grep -q -- --no-http2; then
    # Measured anyway: without HTTP/2 it negotiates http/1.1, h2load refuses, its cells say n/a.
    note "pollux: 'pollux serve --help' has no --no-http2, so probably no HTTP/2 yet"
  fi
fi
pollux_cmd=${POLLUX_CMD:-"$repo/target/release/pollux serve {root} --tls-bind 127.0.0.1:{port} --cert {cert} --key {key} --workers 1 --access-log off"}

work=$(mktemp -d /tmp/pollux-bench-h2.XXXXXX); chmod 755 "$work"  # nginx's worker runs as nobody
declare -A PORT PID
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; pids=(); PORT=(); PID=(); }
trap 'stop_all; rm -rf "$work"' EXIT

# The certificate every server presents: ECDSA P-256, self-signed, for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem"
bench/kit/setup-www.sh "$work/www" >/dev/null; chmod -R a+rX "$work/www"

port_of() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
declare -A CMD  # each server's command line, for the report
start() { # NAME: start it pinned on a fresh port; remember port and pid (0 when it did not start)
  local n=$1 p; p=$(port_of)
  case $n in
    nginx)
      rm -rf "$work/ngx"; mkdir -p "$work/ngx/logs"; ln -s "$work/www" "$work/ngx/www"
      cp "$work/cert.pem" "$work/key.pem" "$work/ngx/"
      sed -e "s|@PORT@|$p|" -e "s|@ACCESS_LOG@|off|" bench/h2/nginx.conf >"$work/ngx/nginx.conf"
      CMD[nginx]="nginx -p PREFIX -c nginx.conf  # bench/h2/nginx.conf"
      "${srv[@]}" nginx -p "$work/ngx" -c nginx.conf >"$work/nginx.log" 2>&1 & ;;
    h2o)
      sed -e "s|@PORT@|$p|" -e "s|@ROOT@|$work/www|" -e "s|@CERT@|$work/cert.pem|" \
        -e "s|@KEY@|$work/key.pem|" bench/h2/h2o.conf >"$work/h2o.conf"
      CMD[h2o]="h2o -c h2o.conf  # bench/h2/h2o.conf"
      "${srv[@]}" h2o -c "$work/h2o.conf" >"$work/h2o.log" 2>&1 & ;;
    pollux)
      local c=${pollux_cmd//\{port\}/$p}; c=${c//\{root\}/$work/www}
      c=${c//\{cert\}/$work/cert.pem}; c=${c//\{key\}/$work/key.pem}
      local d=${pollux_cmd/#$repo\//}; d=${d//\{port\}/PORT}; d=${d//\{root\}/ROOT}
      d=${d//\{cert\}/CERT}; CMD[pollux]=${d//\{key\}/KEY}
      "${srv[@]}" bash -c "exec $c" >"$work/pollux.log" 2>&1 & ;;
  esac
  pids+=($!); PID[$n]=$!; PORT[$n]=$p
  if ! wait_port "$p"; then
    note "$n never opened port $p; its cells are n/a: $(tail -3 "$work/$n.log" | tr '\n' ' ')"
    PID[$n]=0
  fi
  return 0
}
start_all() { for n in ${servers//,/ }; do start "$n"; done; }
# Server CPU: utime+stime of the whole process tree (each /proc/PID/stat already sums the
# process's threads). nginx's worker is a child of its master, and h2o keeps its private key in
# a child process (neverbleed) that signs every handshake.
tree() { echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
ticks() { local t=0 p; for p in $(tree "$1"); do t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo $t; }
hz=$(getconf CLK_TCK)
# Busy ticks of the whole machine (user nice system irq softirq steal of the "cpu" line), to
# tell what else ran during a window: other people's compiles on this shared machine.
machine_ticks() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat; }
raw=$results/raw.tsv
[ -s "$raw" ] || printf "run\tscenario\tmetric\tserver\tvalue\n" >"$raw"
put() { printf "%s\t%s\t%s\t%s\t%s\n" "$run" "$1" "$2" "$3" "$4" >>"$raw"; }
field() { sed -n "s/$1/\\1/p" <<<"$2" | head -1; }
seconds() { # h2load's "finished in 5.00s" / "612.41ms" / "950us" -> seconds
  awk -v v="$1" 'BEGIN{u=v; gsub(/[0-9.]/,"",u); x=v+0; if(u=="ms")x/=1e3; else if(u=="us")x/=1e6; printf "%.6f", x}'
}

# h2load pinned to the client core, inside a shell that prints the CPU its children used
# (cutime+cstime, fields 16 and 17 of its own stat, once they have been waited for). A hung
# server cannot hang the script: timeout ends h2load.
client() { # LIMIT_S ARGS... -> h2load's output, then "client_ticks=N"
  local limit=$1; shift
  "${cli[@]}" bash -c 'timeout "$0" h2load "$@"; rc=$?; read -r -a s </proc/$$/stat
    echo "client_ticks=$((s[15] + s[16]))"; exit $rc' "$limit" "$@" 2>&1
}
declare -A SEEN  # server -> what it negotiated, printed once
# check OUT WANT: h2 negotiated, every finished request 2xx, nothing failed; WANT requests
# done when given (-n). Prints the reason when not.
check() {
  local out=$1 want=${2:-} proto done ok2 failed errored tmo
  proto=$(field '^Application protocol: \(.*\)' "$out")
  if [ -z "$proto" ]; then echo "no connection: $(grep -m1 -iE 'error|refused|failed|timed out' <<<"$out")"; return 1; fi
  # h2load falls back to HTTP/1.1 when the server's ALPN picks it.
  [ "$proto" = h2 ] || { echo "the server negotiated $proto by ALPN, not h2"; return 1; }
  done=$(field '^requests: .* \([0-9]*\) done.*' "$out"); ok2=$(field '^status codes: \([0-9]*\) 2xx.*' "$out")
  failed=$(field '.* \([0-9]*\) failed.*' "$out"); errored=$(field '.* \([0-9]*\) errored.*' "$out")
  tmo=$(field '.* \([0-9]*\) timeout.*' "$out")
  [ -n "$done" ] && [ "$done" -gt 0 ] || { echo "no request finished: $(tail -2 <<<"$out" | tr '\n' ' ')"; return 1; }
  [ -z "$want" ] || [ "$done" = "$want" ] || { echo "$done of $want requests done"; return 1; }
  [ "$ok2" = "$done" ] && [ "$failed$errored$tmo" = 000 ] ||
    { echo "$(grep -m1 '^requests:' <<<"$out"); $(grep -m1 '^status codes:' <<<"$out")"; return 1; }
}
declare -A H2LOAD  # scenario -> the measured h2load command, for the report
# measure SCEN SERVER PATH ARGS...: a warm-up, then the measured h2load run with the server's
# CPU read around it; files the scenario's figures (none when the run failed).
measure() {
  local sc=$1 n=$2 path=$3; shift 3
  local url="https://127.0.0.1:${PORT[$n]}$path" out why t0 t1 m0 m1 w0 w1 ctk k=""
  if [ "${PID[$n]}" = 0 ]; then note "$n $sc: n/a (not running)"; return; fi
  # Warm-up on connections of its own, so the measured window holds no cold caches and only
  # its own 32 (or 1) handshakes. For big it also sizes -n: about --big-seconds of transfer.
  if [ "$sc" = big ]; then out=$(client 120 "$@" -n 2 "$url"); else out=$(client 60 "$@" -D 1 "$url"); fi
  echo "$out" >"$results/run$run-$sc-$n-warmup.txt"
  if ! why=$(check "$out"); then note "$n $sc: n/a (warm-up: $why)"; return; fi
  if [ -z "${SEEN[$n]:-}" ]; then
    SEEN[$n]=1
    echo "# $n: $(grep -E '^(TLS Protocol|Cipher|Server Temp Key|Application protocol):' <<<"$out" | sed 's/: /=/' | tr '\n' ' ')"
  fi
  local args=("$@")
  if [ "$sc" = big ]; then
    k=$(awk -v t="$(seconds "$(field '^finished in \([0-9.]*[mu]*s\),.*' "$out")")" -v s="$big_secs" \
      'BEGIN{k=int(s/(t/2)+0.5); if(k<2)k=2; if(k>5000)k=5000; print k}')
    args+=(-n "$k")
  else
    args+=(-D "$secs")
  fi
  H2LOAD[$sc]="${cli[*]} h2load ${args[*]} https://127.0.0.1:PORT$path"
  [ "$sc" = big ] && H2LOAD[$sc]=${H2LOAD[$sc]/-n $k/-n K}
  t0=$(ticks "${PID[$n]}"); m0=$(machine_ticks); w0=$(date +%s.%N)
  out=$(client $((secs * 4 + big_secs * 10 + 60)) "${args[@]}" "$url")
  t1=$(ticks "${PID[$n]}"); m1=$(machine_ticks); w1=$(date +%s.%N)
  echo "$out" >"$results/run$run-$sc-$n.txt"
  if ! why=$(check "$out" "$k"); then note "$n $sc: n/a ($why)"; return; fi
  local done fin bytes cpu_us
  done=$(field '^requests: .* \([0-9]*\) done.*' "$out")
  fin=$(seconds "$(field '^finished in \([0-9.]*[mu]*s\),.*' "$out")")
  bytes=$(field '^traffic: .*(\([0-9]*\)) total.*' "$out")
  ctk=$(field '^client_ticks=\([0-9]*\)' "$out")
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v h="$hz" 'BEGIN{printf "%.0f", (b-a)/h*1e6}')
  if [ "$sc" = big ]; then
    put big bytes_per_s "$n" "$(awk -v b="$bytes" -v f="$fin" 'BEGIN{printf "%.0f", b/f}')"
    put big cpu_us_per_mib "$n" "$(awk -v c="$cpu_us" -v b="$bytes" 'BEGIN{printf "%.1f", c/(b/1048576)}')"
    put big requests "$n" "$done"
  else
    put "$sc" req_per_s "$n" "$(awk -v d="$done" -v f="$fin" 'BEGIN{printf "%.0f", d/f}')"
    put "$sc" cpu_us_per_req "$n" "$(awk -v c="$cpu_us" -v d="$done" 'BEGIN{printf "%.3f", c/d}')"
  fi
  put "$sc" busy_pct "$n" "$(awk -v c="$cpu_us" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", c/1e6/(b-a)*100}')"
  put "$sc" client_busy_pct "$n" "$(awk -v c="$ctk" -v h="$hz" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", c/h/(b-a)*100}')"
  # Everything else: the machine's busy time less the server's and h2load's. It includes the
  # loopback's softirq time not charged to either, so a few % is normal; tens of % mean
  # someone else's work shared the cores and the window's figures are disturbed.
  local others; others=$(awk -v m="$((m1 - m0))" -v s="$((t1 - t0))" -v c="$ctk" -v h="$hz" -v a="$w0" -v b="$w1" \
    'BEGIN{o=(m-s-c)/h/(b-a)*100; if(o<0)o=0; printf "%.0f", o}')
  put "$sc" others_pct "$n" "$others"
  # The load average cannot say this: it lags by a minute and counts the benchmark's own work.
  [ "$others" -lt 15 ] || note "run $run $n $sc: everything else used $others% of one core during the window: a disturbed figure"
}

echo "# bench/h2.sh $(date -u +%FT%TZ) at $(git rev-parse --short HEAD); servers: $servers; $(nproc) cores; results in $results"
echo "# servers on CPU 1, h2load on CPU 0; nice: ${nice:-0}; anything else running on the two cores competes with the measured processes (see others_pct)"
echo "# nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), h2o $(h2o -v | awk 'NR==1{print $3}'), $(openssl version | awk '{print $1, $2}') (the peers' TLS library), h2load $(h2load --version | awk '{print $2}' | sed 's/.*\///')"
# wait_idle: up to --wait-idle seconds for 5 quiet seconds (under 10% of one core busy).
wait_idle() {
  local end=$((SECONDS + wait_idle)) m0 m1 pct t=$SECONDS
  while :; do
    m0=$(machine_ticks); sleep 5; m1=$(machine_ticks)
    pct=$(awk -v d="$((m1 - m0))" -v h="$hz" 'BEGIN{printf "%.0f", d/h/5*100}')
    [ "$pct" -lt 10 ] && { echo "# run $run: waited $((SECONDS - t)) s for idle cores (last 5 s: $pct% of one core busy)"; return; }
    [ $SECONDS -ge $end ] && { note "run $run: the cores never went idle in $wait_idle s (last 5 s: $pct% of one core busy); measuring anyway"; return; }
  done
}
for run in $(seq "$runs"); do
  [ "$wait_idle" -gt 0 ] && wait_idle
  la=$(cut -d' ' -f1-3 /proc/loadavg)
  echo "# run $run: load average at start: $la"
  start_all
  # Servers take turns within each scenario, first one rotating from run to run, so that a
  # disturbance (someone's compile starting) does not always fall on the same server.
  read -r -a order <<<"${servers//,/ }"
  order=("${order[@]:$(((run - 1) % ${#order[@]}))}" "${order[@]:0:$(((run - 1) % ${#order[@]}))}")
  for n in "${order[@]}"; do has rps "$only" && measure rps "$n" /index.html -c 32 -m 16; done
  for n in "${order[@]}"; do has cpu "$only" && measure cpu "$n" /index.html -c 32 -m 1; done
  for n in "${order[@]}"; do has big "$only" && measure big "$n" /big.bin -c 1 -m 1; done
  stop_all
  echo "# run $run: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
done

{
  echo
  python3 bench/h2/table.py "$raw"
  echo
  echo "Commands (servers on CPU 1, h2load on CPU 0; PORT is a fresh port per server and run, ROOT"
  echo "the files of bench/kit/setup-www.sh, CERT and KEY the ECDSA P-256 pair, PREFIX nginx's"
  echo "directory with ROOT, CERT and KEY):"
  echo
  for n in ${servers//,/ }; do echo "    ${srv[*]} ${CMD[$n]:-}"; done
  for sc in rps cpu big; do [ -n "${H2LOAD[$sc]:-}" ] && echo "    ${H2LOAD[$sc]}  # $sc"; done
  echo "    (each after a warm-up: the same h2load with -D 1, or -n 2 for big, which sets big's"
  echo "    K per server to about --big-seconds of transfer: the big requests row)"
} | tee "$results/table.md"
