#!/bin/bash
# WSGI: pollux serve --wsgi against granian and gunicorn (sync and gthread workers), each server
# one process (one worker) pinned to CPU 0, wrk -t1 pinned to CPU 1, one server after the other
# in one run, on 127.0.0.1 ports chosen here. No access logs anywhere.
#
# Usage: bench/wsgi.sh
# Scenarios (SCENARIOS="hello flask sleep leak" by default):
#   hello  examples/wsgi/hello.py (13-byte answer), wrk -c64; one Python thread per server
#   flask  examples/wsgi/flask_app's `/` (Flask routing + a short HTML answer), wrk -c64
#   sleep  examples/wsgi/sleep.py (time.sleep(0.01) per request), wrk -c512 against 512 Python
#          threads: pollux --wsgi-threads 512, granian --blocking-threads 512, gunicorn gthread
#          --threads 512 (gunicorn sync, one request at a time, sits this one out)
#   leak   pollux only (LEAK_SERVERS=pollux, if in SERVERS): the server's RSS (all its
#          processes) after the first LEAK_FIRST=100000 hello requests and after
#          LEAK_TOTAL=1000000, counted by a wrk script that stops once that many responses
#          arrived (bounded by LEAK_MAX=300 seconds per step)
# Environment: SERVERS="pollux granian gunicorn-sync gunicorn-gthread" chooses servers;
#   DURATION=10s per cell, WARMUP=2s before it (0 for none); THREADS=1 Python threads for hello and
#   flask (pollux --wsgi-threads, granian --blocking-threads, gunicorn gthread --threads);
#   SLEEP_THREADS=512, SLEEP_CONNS=512, CONNS=64; POLLUX_ARGS adds flags to pollux's command.
# Prints the exact commands, then one table: scenario, server, req/s, errors (non-2xx/3xx
# responses + socket errors), server CPU µs per request (all its processes, user + system), and
# pollux's req/s over the best peer's in that scenario.
# Needs: wrk (apt, installed if missing), python3 with pip (the bench virtualenv
# target/bench-venv gets Flask, granian and gunicorn from PyPI through scripts/python-env.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SERVERS=${SERVERS:-pollux granian gunicorn-sync gunicorn-gthread}
SCENARIOS=${SCENARIOS:-hello flask sleep leak}
LEAK_SERVERS=${LEAK_SERVERS:-pollux}
DURATION=${DURATION:-10s} WARMUP=${WARMUP:-2s}
THREADS=${THREADS:-1} SLEEP_THREADS=${SLEEP_THREADS:-512}
CONNS=${CONNS:-64} SLEEP_CONNS=${SLEEP_CONNS:-512}
LEAK_FIRST=${LEAK_FIRST:-100000} LEAK_TOTAL=${LEAK_TOTAL:-1000000} LEAK_MAX=${LEAK_MAX:-300}
POLLUX_ARGS=${POLLUX_ARGS:-}
GRANIAN_VERSION=2.8.9 GUNICORN_VERSION=27.0.1

if ! command -v wrk >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq wrk >/dev/null
fi
venv=$(scripts/python-env.sh target/bench-venv "granian==$GRANIAN_VERSION" "gunicorn==$GUNICORN_VERSION")

pollux_ok=0
if [[ " $SERVERS " == *" pollux "* ]]; then
  if cargo build --release --bin pollux; then pollux_ok=1
  else echo "wsgi.sh: cargo build failed: pollux is skipped" >&2; fi
fi

# Descriptors for 512 connections on each side (and the servers inherit it).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /tmp/wsgibench.XXXXXX)
sid=""  # the running server's session (setsid): the server and all its processes
stop_server() {
  [ -n "$sid" ] || return 0
  kill -TERM -- "-$sid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 -- "-$sid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$sid" 2>/dev/null || true
  wait "$sid" 2>/dev/null || true
  sid=""
}
wrk_pid=""
wrk_to() { # FILE WRK-ARGS...: wrk pinned to CPU 1 into FILE, in the background so that a signal
  local f=$1; shift   # to this script ends it at once (the traps kill wrk and the server)
  taskset -c 1 wrk "$@" >"$f" & wrk_pid=$!
  wait "$wrk_pid"; wrk_pid=""
}
cleanup() { [ -z "$wrk_pid" ] || kill "$wrk_pid" 2>/dev/null || true; stop_server; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

log_cmd() { echo "# $*" >&2; echo "$*" >>"$work/commands"; }
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
pids_of() { ps -o pid= -s "$1" 2>/dev/null || true; }  # every process of session $1
cpu_ticks() { # utime + stime of every process of session $1
  local p t=0
  for p in $(pids_of "$1"); do
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$t"
}
rss_kib() { ps -o rss= -s "$1" 2>/dev/null | awk '{s += $1} END {print s + 0}'; }

# Scenario -> app directory, module:callable, URL path, a string the answer holds.
app_of() {
  case $1 in
    hello|leak) echo "examples/wsgi hello:application / Hello World!" ;;
    flask) echo "examples/wsgi/flask_app app:app / Hello from Flask" ;;
    sleep) echo "examples/wsgi sleep:application / slept 10 ms" ;;
  esac
}

# The command line of SERVER for SCENARIO on PORT, into the array cmd.
server_cmd() { # SERVER SCENARIO PORT
  local dir mod threads
  read -r dir mod _ <<<"$(app_of "$2")"
  threads=$THREADS; [ "$2" = sleep ] && threads=$SLEEP_THREADS
  case $1 in
    pollux)
      # shellcheck disable=SC2206
      cmd=("$root/target/release/pollux" serve --wsgi "$mod" --pythonpath "$root/$dir" --venv "$venv"
           --wsgi-threads "$threads" --processes 1 --workers 1 --access-log off
           --bind "127.0.0.1:$3" $POLLUX_ARGS) ;;
    granian)
      cmd=("$venv/bin/granian" --interface wsgi --workers 1 --blocking-threads "$threads" --http 1
           --no-ws --no-access-log --log-level warning --working-dir "$root/$dir"
           --host 127.0.0.1 --port "$3" "$mod") ;;
    gunicorn-sync)
      cmd=("$venv/bin/gunicorn" --workers 1 --worker-class sync --log-level warning
           --chdir "$root/$dir" --bind "127.0.0.1:$3" "$mod") ;;
    gunicorn-gthread)
      cmd=("$venv/bin/gunicorn" --workers 1 --worker-class gthread --threads "$threads"
           --worker-connections 1024 --log-level warning
           --chdir "$root/$dir" --bind "127.0.0.1:$3" "$mod") ;;
    *) echo "wsgi.sh: unknown server $1" >&2; return 1 ;;
  esac
}

# Starts SERVER for SCENARIO (sets sid and p), waits until its port accepts and it answers with
# the app's text; on failure prints why (with the server's last log lines) and returns 1.
start_server() { # SERVER SCENARIO
  local path expect log=$work/$1-$2.log
  read -r _ _ path expect <<<"$(app_of "$2")"
  p=$(port)
  server_cmd "$1" "$2" "$p"
  log_cmd "$1 ($2): taskset -c 0 ${cmd[*]}"
  (cd "$root" && exec setsid taskset -c 0 "${cmd[@]}") </dev/null >"$log" 2>&1 &
  sid=$!
  for _ in $(seq 300); do  # 30 s: importing Flask takes a while on a busy core
    if ! kill -0 "$sid" 2>/dev/null; then
      echo "wsgi.sh: $1 exited at start ($2): skipped. Its output:" >&2; tail -n 15 "$log" | sed 's/^/    /' >&2
      sid=""; return 1
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then break; fi
    sleep 0.1
  done
  if ! curl -sS -m 10 "http://127.0.0.1:$p$path" 2>&1 | grep -qF "$expect"; then
    echo "wsgi.sh: $1 ($2) did not answer '$expect' on 127.0.0.1:$p$path: skipped. Its output:" >&2
    tail -n 15 "$log" | sed 's/^/    /' >&2
    stop_server; return 1
  fi
}

errors_of() { # wrk output -> non-2xx/3xx + socket errors
  awk '/Non-2xx or 3xx responses:/ {e += $NF}
       /Socket errors:/ {gsub(",", ""); e += $4 + $6 + $8 + $10}
       END {print e + 0}' <<<"$1"
}

results=$work/results  # scenario server rps errors cpu_us
: >"$results"; : >"$work/commands"
run_cell() { # SERVER SCENARIO
  local conns=$CONNS path out a b n rps errs cpu hz
  [ "$2" = sleep ] && conns=$SLEEP_CONNS
  read -r _ _ path _ <<<"$(app_of "$2")"
  start_server "$1" "$2" || return 0
  local url="http://127.0.0.1:$p$path" warm=""
  if [ "$WARMUP" != 0 ] && [ "$WARMUP" != 0s ]; then
    warm=1
    wrk_to "$work/warmup" -t1 -c"$conns" -d"$WARMUP" --timeout 4s "$url"
  fi
  log_cmd "  wrk: taskset -c 1 wrk -t1 -c$conns -d$DURATION --timeout 4s $url${warm:+  (after a -d$WARMUP warm-up)}"
  a=$(cpu_ticks "$sid")
  wrk_to "$work/wrk" -t1 -c"$conns" -d"$DURATION" --timeout 4s "$url"; out=$(<"$work/wrk")
  b=$(cpu_ticks "$sid")
  stop_server
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
  errs=$(errors_of "$out")
  hz=$(getconf CLK_TCK)
  cpu=$(awk -v a="$a" -v b="$b" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", n ? (b - a) * 1e6 / hz / n : 0}')
  echo "$2 $1 $rps $errs $cpu" >>"$results"
  echo "# $2 $1: $rps req/s, $errs errors, $cpu us/req" >&2
}

# leak: wrk has no request count, so count.lua stops its one thread (all connections) once
# STOP_AFTER responses arrived; wrk itself still waits out -d, so each run's -d is what the rate
# measured so far says the rest needs (+1 s), starting with 1 s, at most 60 s, in a loop
# bounded by LEAK_MAX seconds per step.
cat >"$work/count.lua" <<'LUA'
local stop_after = tonumber(os.getenv("STOP_AFTER"))
local seen = 0
function response(status, headers, body)
  seen = seen + 1
  if seen >= stop_after then wrk.thread:stop() end
end
LUA
leak_results=$work/leak
: >"$leak_results"
drive() { # URL COUNT: sends COUNT requests; adds to `drove` and `leak_errs`
  local left=$2 d=1 t=0 out n
  while [ "$left" -gt 0 ] && [ "$t" -lt "${LEAK_MAX%s}" ]; do
    STOP_AFTER=$left wrk_to "$work/wrk" -t1 -c"$CONNS" -d"${d}s" -s "$work/count.lua" "$1"; out=$(<"$work/wrk")
    n=$(awk '/requests in/ {print $1}' <<<"$out"); n=${n:-0}
    leak_errs=$((leak_errs + $(errors_of "$out")))
    drove=$((drove + n)) left=$((left - n)) t=$((t + d))
    [ "$n" -gt 0 ] || { echo "wsgi.sh: no answers from $1" >&2; break; }
    d=$(( (left * d + n - 1) / n + 1 )); [ "$d" -le 60 ] || d=60
  done
}
run_leak() { # SERVER
  local r0 r1 r2 n1 url
  start_server "$1" leak || return 0
  url="http://127.0.0.1:$p/"
  drove=0 leak_errs=0
  r0=$(rss_kib "$sid")
  log_cmd "  wrk, repeated until $LEAK_FIRST then $LEAK_TOTAL responses: STOP_AFTER=LEFT taskset -c 1 wrk -t1 -c$CONNS -dSECONDS -s count.lua $url"
  drive "$url" "$LEAK_FIRST"
  n1=$drove r1=$(rss_kib "$sid")
  drive "$url" $((LEAK_TOTAL - drove))
  r2=$(rss_kib "$sid")
  stop_server
  echo "$1 $r0 $n1 $r1 $drove $r2 $leak_errs" >>"$leak_results"
  echo "# leak $1: RSS $r0 KiB at start, $r1 KiB after $n1 requests, $r2 KiB after $drove" >&2
}

for scenario in $SCENARIOS; do
  if [ "$scenario" = leak ]; then
    for s in $LEAK_SERVERS; do
      [[ " $SERVERS " == *" $s "* ]] || continue
      if [ "$s" = pollux ] && [ "$pollux_ok" != 1 ]; then echo "wsgi.sh: pollux not built: leak skipped" >&2; continue; fi
      run_leak "$s"
    done
    continue
  fi
  for s in $SERVERS; do
    if [ "$s" = pollux ] && [ "$pollux_ok" != 1 ]; then echo "wsgi.sh: pollux not built: skipped" >&2; continue; fi
    if [ "$scenario" = sleep ] && [ "$s" = gunicorn-sync ]; then continue; fi
    run_cell "$s" "$scenario"
  done
done

echo
echo "commands (count.lua: wrk stops after STOP_AFTER responses; see this script):"
sed 's/^/  /' "$work/commands" 2>/dev/null || true
echo
printf "%-8s %-17s %10s %8s %10s %14s\n" scenario server req/s errors cpu_us/req pollux/best
awk '{rows[NR] = $0; sc[NR] = $1; if ($2 != "pollux" && $3 > best[$1]) best[$1] = $3
      if ($2 == "pollux") px[$1] = $3}
     END {for (i = 1; i <= NR; i++) {
       split(rows[i], f, " "); ratio = "-"
       if (f[2] == "pollux" && best[f[1]] > 0) ratio = sprintf("%.2f", f[3] / best[f[1]])
       printf "%-8s %-17s %10d %8d %10s %14s\n", f[1], f[2], f[3], f[4], f[5], ratio }}' "$results"
if [ -s "$leak_results" ]; then
  echo
  printf "%-8s %-9s %12s %12s %12s %12s %12s %8s\n" leak server rss_start_KiB requests rss_KiB requests rss_KiB errors
  awk '{printf "%-8s %-9s %12d %12d %12d %12d %12d %8d\n", "leak", $1, $2, $3, $4, $5, $6, $7}' "$leak_results"
fi
