#!/usr/bin/env bash
# HTTPS side by side: pollux against nginx and h2o, each over TLS with one worker pinned to CPU 0,
# every client pinned to CPU 1, the same ECDSA P-256 certificate (made here with openssl) and the
# same files (bench/kit/setup-www.sh: 1 KiB index.html, 32 MiB big.bin). Method: bench/README.md.
#
# Usage: bench/tls.sh [--runs N] [--seconds N] [--conns N] [--idle N]
#                     [--only keep,new,resumed,big,idle,stalled] [--servers pollux,nginx,h2o]
#                     [--results DIR]
#   --runs N     repeat the whole comparison N times; the table shows per-cell medians and each
#                run's pollux/best ratio (default 1)
#   --seconds N  length of each measured window (default 5)
#   --conns N    wrk connections for the keep-alive 1 KiB scenario (default 8; the 32 MiB one uses 4)
#   --idle N     idle connections in the memory scenario (default 10000)
#   --only       scenarios, comma-separated (default all six; stalled: --idle connections each
#                holding half a ClientHello, memory per connection)
#   --servers    servers, comma-separated (default pollux,nginx,h2o; pollux is left out, with a
#                note, when its `serve --help` has no --tls-bind yet)
#   --results D  where raw numbers and every client's output go (default target/bench-tls/DATE)
#   --nice N     run servers and clients at nice N (e.g. -5, as root) so that other people's
#                compiles on this shared machine take less of the measured cores; off by default
# POLLUX_CMD overrides pollux's command line; {port} {root} {cert} {key} are replaced. Default:
#   target/release/pollux serve {root} --tls-bind 127.0.0.1:{port} --cert {cert} --key {key}
#     --workers 1 --access-log off
# Needs: nginx h2o wrk openssl python3 (installed from Debian when missing) and cargo (pollux and
# the load client bench/tls/load are built here).
#
# Prints comment lines (load average, what each server negotiated) and one TSV table:
# scenario, metric, pollux, nginx, h2o, best peer, pollux/best (for *_per_s higher is better;
# for cpu_*, rss_* and pss_* lower is better; busy_pct is the server's CPU use during the window,
# shown so that a client-bound scenario is visible as one: below ~90% the server was waiting).
set -uo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
kit=$repo/bench/kit
runs=1 secs=5 conns=8 idle=10000 only=keep,new,resumed,big,idle,stalled servers=pollux,nginx,h2o results="" nice=""
while [ $# -gt 0 ]; do
  case $1 in
    --runs) runs=$2; shift 2;; --seconds) secs=$2; shift 2;; --conns) conns=$2; shift 2;;
    --idle) idle=$2; shift 2;; --only) only=$2; shift 2;; --servers) servers=$2; shift 2;;
    --results) results=$2; shift 2;; --nice) nice=$2; shift 2;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0;;
    *) echo "bench/tls.sh: unknown argument $1" >&2; exit 2;;
  esac
done
pin0=(taskset -c 0) pin1=(taskset -c 1)  # servers on CPU 0, clients on CPU 1
[ -n "$nice" ] && pin0=(nice -n "$nice" taskset -c 0) pin1=(nice -n "$nice" taskset -c 1)
has() { [[ ",$2," == *",$1,"* ]]; }

missing=()
for t in nginx h2o wrk openssl python3 taskset; do command -v $t >/dev/null || missing+=($t); done
if ((${#missing[@]})); then
  missing=("${missing[@]/taskset/util-linux}")
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi
cargo build --release -q --manifest-path bench/tls/load/Cargo.toml --target-dir target/tlsload || exit 1
load=$repo/target/tlsload/release/tlsload
drop_pollux() { echo "# pollux: $1; measuring the peers only" >&2; servers=$(echo ",$servers," | sed 's/,pollux,/,/; s/^,//; s/,$//'); }
if has pollux "$servers" && [ -z "${POLLUX_CMD:-}" ]; then
  if ! cargo build --release -q --bin pollux; then drop_pollux "the release build failed (above)"
  elif ! target/release/pollux serve --help 2>/dev/null | grep -q -- --tls-bind; then
    drop_pollux "'pollux serve' has no --tls-bind yet"
  fi
fi
default_cmd="$repo/target/release/pollux serve {root} --tls-bind 127.0.0.1:{port} --cert {cert} --key {key} --workers 1 --access-log off"
pollux_cmd=${POLLUX_CMD:-$default_cmd}
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # 10,000 idle connections need descriptors
[ "$(ulimit -n)" -gt $((idle + 200)) ] || { echo "bench/tls.sh: ulimit -n $(ulimit -n) is too low for --idle $idle" >&2; exit 1; }

results=${results:-$repo/target/bench-tls/$(date +%Y%m%d-%H%M%S)}
mkdir -p "$results"
work=$(mktemp -d /tmp/pollux-bench-tls.XXXXXX); chmod 755 "$work"  # nginx's worker runs as nobody
declare -A PORT PID
pids=()
stop_all() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; pids=(); PORT=(); PID=(); }
trap 'stop_all; rm -rf "$work"' EXIT

# The certificate every server presents: ECDSA P-256, self-signed, for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
chmod 644 "$work/key.pem"
"$kit/setup-www.sh" "$work/www" >/dev/null; chmod -R a+rX "$work/www"
cp "$work/cert.pem" "$results/cert.pem"

port_of() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
start() { # NAME: start it pinned to CPU 0 on a fresh port; remember port and the pid that serves
  local n=$1 p; p=$(port_of)
  case $n in
    nginx)
      rm -rf "$work/ngx"; mkdir -p "$work/ngx/logs"; ln -s "$work/www" "$work/ngx/www"
      cp "$work/cert.pem" "$work/key.pem" "$work/ngx/"
      sed -e "s|@PORT@|$p|" -e "s|@ACCESS_LOG@|off|" bench/tls/nginx.conf >"$work/ngx/nginx.conf"
      "${pin0[@]}" nginx -p "$work/ngx" -c nginx.conf >"$work/nginx.log" 2>&1 & ;;
    h2o)
      sed -e "s|@PORT@|$p|" -e "s|@ROOT@|$work/www|" -e "s|@CERT@|$work/cert.pem|" \
        -e "s|@KEY@|$work/key.pem|" -e "s|@ACCESS_LOG@|/dev/null|" bench/tls/h2o.conf >"$work/h2o.conf"
      "${pin0[@]}" h2o -c "$work/h2o.conf" >"$work/h2o.log" 2>&1 & ;;
    pollux)
      local c=${pollux_cmd//\{port\}/$p}; c=${c//\{root\}/$work/www}
      c=${c//\{cert\}/$work/cert.pem}; c=${c//\{key\}/$work/key.pem}
      "${pin0[@]}" bash -c "exec $c" >"$work/pollux.log" 2>&1 & ;;
  esac
  pids+=($!); PID[$n]=$!; PORT[$n]=$p
  wait_port "$p" || { echo "bench/tls.sh: $n never opened port $p:" >&2; tail -5 "$work/$n.log" >&2; exit 1; }
  # nginx serves from its worker, a child of the master.
  [ "$n" = nginx ] && PID[nginx]=$(pgrep -P "${PID[nginx]}" | head -1)
  return 0
}
start_all() { for n in ${servers//,/ }; do start "$n"; done; }
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
bytes() { # wrk's "1.23GB" -> bytes
  awk -v v="$1" 'BEGIN{u=v; gsub(/[0-9.]/,"",u); x=v+0; if(u=="KB")x*=1024; else if(u=="MB")x*=1048576;
    else if(u=="GB")x*=1073741824; else if(u=="TB")x*=1099511627776; printf "%.0f", x}'
}
raw=$results/raw.tsv
[ -s "$raw" ] || printf "run\tscenario\tmetric\tserver\tvalue\n" >"$raw"
put() { printf "%s\t%s\t%s\t%s\t%s\n" "$run" "$1" "$2" "$3" "$4" >>"$raw"; }

# wrk over https (OpenSSL client, keep-alive): requests/s, server CPU per request / per MiB.
wrk_scenario() { # SCENARIO SERVER PATH CONNS
  local sc=$1 n=$2 path=$3 c=$4 t0 t1 out w0 w1
  t0=$(ticks "${PID[$n]}"); w0=$(date +%s.%N)
  out=$("${pin1[@]}" wrk -t1 -c"$c" -d"${secs}s" "https://127.0.0.1:${PORT[$n]}$path")
  t1=$(ticks "${PID[$n]}"); w1=$(date +%s.%N)
  echo "$out" >"$results/run$run-$sc-$n.txt"
  echo "$out" | grep -qE "Non-2xx|Socket errors" && echo "# $n $sc: $(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr -s ' ')" >&2
  local reqs rps total cpu_us
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  rps=$(echo "$out" | awk '/Requests\/sec/{printf "%.0f", $2}')
  total=$(bytes "$(echo "$out" | awk '/requests in/{print $(NF-1)}')")  # every byte read, partial responses too
  cpu_us=$(awk -v a="$t0" -v b="$t1" -v h="$hz" 'BEGIN{printf "%.0f", (b-a)/h*1e6}')
  local busy; busy=$(awk -v c="$cpu_us" -v a="$w0" -v b="$w1" 'BEGIN{printf "%.0f", c/1e6/(b-a)*100}')
  if [ "$sc" = big ]; then
    put big bytes_per_s "$n" "$(awk -v t="$total" -v s="$secs" 'BEGIN{printf "%.0f", t/s}')"
    put big cpu_us_per_mib "$n" "$(awk -v c="$cpu_us" -v t="$total" 'BEGIN{if(t>0)printf "%.0f", c/(t/1048576)}')"
  else
    put "$sc" req_per_s "$n" "$rps"
    put "$sc" cpu_us_per_req "$n" "$(awk -v c="$cpu_us" -v r="$reqs" 'BEGIN{if(r>0)printf "%.2f", c/r}')"
  fi
  put "$sc" busy_pct "$n" "$busy"
}

# tlsload (rustls client, bench/tls/load): one request per connection, full or resumed handshakes.
conn_scenario() { # SCENARIO SERVER [--resume]
  local sc=$1 n=$2 t0 t1 out w0 w1; shift 2
  t0=$(ticks "${PID[$n]}"); w0=$(date +%s.%N)
  out=$("${pin1[@]}" "$load" --addr "127.0.0.1:${PORT[$n]}" --path /index.html --conns 32 --seconds "$secs" "$@" 2>&1)
  t1=$(ticks "${PID[$n]}"); w1=$(date +%s.%N)
  echo "$out" >"$results/run$run-$sc-$n.txt"
  local done full res errs cps
  done=$(echo "$out" | sed -n 's/.*conns=\([0-9]*\).*/\1/p'); full=$(echo "$out" | sed -n 's/.*full=\([0-9]*\).*/\1/p')
  res=$(echo "$out" | sed -n 's/.*resumed=\([0-9]*\).*/\1/p'); errs=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\).*/\1/p')
  cps=$(echo "$out" | sed -n 's/.*conns_per_s=\([0-9]*\).*/\1/p')
  [ "${errs:-1}" = 0 ] || echo "# $n $sc: $errs errors: $(echo "$out" | tail -1)" >&2
  put "$sc" conn_per_s "$n" "$cps"
  put "$sc" cpu_us_per_conn "$n" "$(awk -v a="$t0" -v b="$t1" -v h="$hz" -v d="$done" 'BEGIN{if(d>0)printf "%.0f", (b-a)/h*1e6/d}')"
  put "$sc" busy_pct "$n" "$(awk -v a="$t0" -v b="$t1" -v h="$hz" -v x="$w0" -v y="$w1" 'BEGIN{printf "%.0f", (b-a)/h/(y-x)*100}')"
  put "$sc" client_busy_pct "$n" "$(echo "$out" | sed -n 's/.*client_cpu_s=\([0-9.]*\).*/\1/p' | awk -v x="$w0" -v y="$w1" '{printf "%.0f", $1/(y-x)*100}')"
  put "$sc" resumed_pct "$n" "$(awk -v r="$res" -v d="$done" 'BEGIN{if(d>0)printf "%.1f", r/d*100}')"
  # For the table's estimate of CPU per resumed handshake (see below), not shown themselves.
  put "$sc" _cpu_us "$n" "$(awk -v a="$t0" -v b="$t1" -v h="$hz" 'BEGIN{printf "%.0f", (b-a)/h*1e6}')"
  put "$sc" _full "$n" "$full"; put "$sc" _resumed "$n" "$res"
}

# What each server negotiates with an OpenSSL client offering http/1.1: version, suite, group, ALPN.
describe() {
  local n=$1 v12
  local out; out=$(openssl s_client -connect "127.0.0.1:${PORT[$n]}" -servername localhost -alpn http/1.1 -brief </dev/null 2>&1)
  v12=$(openssl s_client -connect "127.0.0.1:${PORT[$n]}" -servername localhost -tls1_2 -brief </dev/null 2>&1 | grep -q 'Protocol version: TLSv1.2' && echo yes || echo no)
  echo "# $n: $(echo "$out" | awk -F': ' '/Protocol version|Ciphersuite|Negotiated TLS1.3 group|Server Temp Key|ALPN/{printf "%s=%s ", $1, $2}')tls1.2=$v12"
}

echo "# bench/tls.sh $(date -u +%FT%TZ) at $(git rev-parse --short HEAD); servers: $servers; $(nproc) cores; results in $results"
echo "# nice: ${nice:-0}; anything else running on the two cores competes with the measured processes (see the load averages and busy_pct)"
echo "# nginx $(nginx -v 2>&1 | sed 's/.*nginx\///'), h2o $(h2o -v | awk 'NR==1{print $3}'), $(openssl version | awk '{print $1, $2}') (the peers' TLS library), wrk $(wrk -v 2>&1 | awk 'NR==1{print $2}'); kTLS: $(cat /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null | grep -qw tls && echo available || echo no)"
# memory_scenario NAME CLIENT ARGS...: restarts the servers, runs the client (which opens
# --idle connections, reads the server's memory before and after, and prints alive=,
# bytes_per_conn= and pss_bytes_per_conn=) against each, and files the per-connection figures.
memory_scenario() {
  local scen=$1; shift
  stop_all; start_all; sleep 0.5
  for n in ${servers//,/ }; do
    out=$("${pin1[@]}" "$@" --addr "127.0.0.1:${PORT[$n]}" --pids "${PID[$n]}" 2>&1)
    echo "$out" >"$results/run$run-$scen-$n.txt"
    alive=$(echo "$out" | sed -n 's/.*alive=\([0-9]*\).*/\1/p')
    [ "${alive:-0}" = "$idle" ] || echo "# $n $scen: only ${alive:-0} of $idle connections open at the reading: $(echo "$out" | tr '\n' ' ')" >&2
    put "$scen" rss_bytes_per_conn "$n" "$(echo "$out" | sed -n 's/.* bytes_per_conn=\([-0-9]*\).*/\1/p')"
    put "$scen" pss_bytes_per_conn "$n" "$(echo "$out" | sed -n 's/.*pss_bytes_per_conn=\([-0-9]*\).*/\1/p')"
  done
}

for run in $(seq "$runs"); do
  echo "# run $run: load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  start_all
  [ "$run" = 1 ] && for n in ${servers//,/ }; do describe "$n"; done
  for n in ${servers//,/ }; do
    has keep "$only" && wrk_scenario keep "$n" /index.html "$conns"
    has new "$only" && conn_scenario new "$n"
    has resumed "$only" && conn_scenario resumed "$n" --resume
    has big "$only" && wrk_scenario big "$n" /big.bin 4
  done
  # Memory scenarios run on fresh processes: memory a server kept from the load above would
  # hide what the connections cost. `idle`: 10,000 TLS keep-alive connections after one request
  # each. `stalled`: as many abandoned handshakes (half a ClientHello each); the issue's bound is
  # no more per connection than an idle keep-alive connection (the idle rows).
  has idle "$only" && memory_scenario idle "$load" --path /index.html --hold "$idle" --conns 256 --seconds 120
  has stalled "$only" && memory_scenario stalled python3 bench/tls/stalled.py --conns "$idle"
  stop_all
  echo "# run $run: load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
done

# The table: per-cell medians over the runs, the best peer, pollux/best and each run's ratio.
python3 - "$raw" <<'EOF' | tee "$results/table.tsv"
import statistics, sys
from collections import OrderedDict
cells, order = {}, OrderedDict()
for line in list(open(sys.argv[1]))[1:]:
    run, sc, metric, server, value = line.rstrip("\n").split("\t")
    if value == "":
        continue
    order[(sc, metric)] = True
    cells.setdefault((sc, metric, server), {})[run] = float(value)
# A server that issues no new ticket on a resumed TLS 1.3 connection (h2o) resumes only part of
# the time with a client that uses each ticket once, as rustls and OpenSSL clients do (RFC 8446
# advises it). So the resumed scenario's CPU per connection is a mix for it; this row takes the
# full handshakes out at the CPU per connection the same run measured in `new`.
for (sc, metric, server), byrun in list(cells.items()):
    if sc != "resumed" or metric != "_cpu_us":
        continue
    for run, total in byrun.items():
        full = cells.get(("resumed", "_full", server), {}).get(run)
        res = cells.get(("resumed", "_resumed", server), {}).get(run)
        per_full = cells.get(("new", "cpu_us_per_conn", server), {}).get(run)
        if res and full is not None and per_full is not None:
            order[("resumed", "cpu_us_per_resumed_est")] = True
            cells.setdefault(("resumed", "cpu_us_per_resumed_est", server), {})[run] = (total - full * per_full) / res
peers = ["nginx", "h2o"]
fmt = lambda v: "-" if v is None else (f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}")
print("scenario\tmetric\truns\tpollux\tnginx\th2o\tbest_peer\tpollux/best\tper-run ratios")
scen = ["keep", "new", "resumed", "big", "idle", "stalled"]
for sc, metric in sorted(order, key=lambda k: scen.index(k[0]) if k[0] in scen else len(scen)):
    if metric.startswith("_"):
        continue
    lower = metric.startswith(("cpu", "rss", "pss"))
    info = metric in ("busy_pct", "client_busy_pct", "resumed_pct")  # context, not a contest
    med = {s: (statistics.median(cells[(sc, metric, s)].values()) if (sc, metric, s) in cells else None)
           for s in ["pollux"] + peers}
    nruns = max(len(cells.get((sc, metric, s), {})) for s in ["pollux"] + peers)
    vals = [med[p] for p in peers if med[p] is not None]
    best = None if info or not vals else (min(vals) if lower else max(vals))
    ratio = med["pollux"] / best if best and med["pollux"] is not None else None
    per_run = []
    if not info and (sc, metric, "pollux") in cells:
        for run, v in cells[(sc, metric, "pollux")].items():
            pv = [cells[(sc, metric, p)][run] for p in peers if run in cells.get((sc, metric, p), {})]
            b = (min(pv) if lower else max(pv)) if pv else None
            per_run.append(f"{v / b:.2f}" if b else "-")
    print("\t".join([sc, metric, str(nruns)] + [fmt(med[s]) for s in ["pollux"] + peers]
                    + [fmt(best), "-" if ratio is None else f"{ratio:.2f}", ",".join(per_run) or "-"]))
EOF
