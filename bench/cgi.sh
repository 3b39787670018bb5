#!/bin/bash
# A trivial shell CGI script under pollux (--cgi-ext .sh) and under lighttpd's mod_cgi: requests
# per second and the server's CPU per request, one run each, both servers pinned to CPU 0, wrk
# (-t1 -c16) pinned to CPU 1.
#
# Usage: bench/cgi.sh [SECONDS=5]
# CPU is read from /proc/PID/stat over the run: the server's own (utime + stime) and, apart,
# that of the scripts it reaped (cutime + cstime: fork/exec of /bin/sh and the script itself).
# Needs: apt-get install -y lighttpd wrk
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-5}
cargo build --release --bin pollux
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
work=$(mktemp -d /tmp/cgibench.XXXXXX); chmod 755 "$work"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
mkdir -p "$work/www"
printf '#!/bin/sh\nprintf '"'"'Content-Type: text/plain\\r\\n\\r\\nhello\\n'"'"'\n' > "$work/www/hello.sh"
chmod 755 "$work/www/hello.sh"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
lp=$(port) pp=$(port)
cat > "$work/lighttpd.conf" <<CONF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $lp
server.modules += ("mod_cgi")
cgi.assign = (".sh" => "")
server.max-connections = 1024
CONF
taskset -c 0 lighttpd -D -f "$work/lighttpd.conf" & pids+=($!)
taskset -c 0 target/release/pollux serve "$work/www" --cgi-ext .sh --bind "127.0.0.1:$pp" --workers 1 \
  --access-log off >/dev/null & pids+=($!)
sleep 1
for p in "$lp" "$pp"; do
  body=$(curl -sS "http://127.0.0.1:$p/hello.sh")
  [ "$body" = hello ] || { echo "cgi.sh: port $p answered '$body'" >&2; exit 1; }
done
run() { # NAME PORT PID
  local a b out n rps
  a=$(awk '{print $14, $15, $16, $17}' "/proc/$3/stat")
  out=$(taskset -c 1 wrk -t1 -c16 -d"${secs}s" "http://127.0.0.1:$2/hello.sh")
  b=$(awk '{print $14, $15, $16, $17}' "/proc/$3/stat")
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  awk -v name="$1" -v a="$a" -v b="$b" -v n="$n" -v rps="$rps" -v errs="$errs" -v hz="$(getconf CLK_TCK)" 'BEGIN {
    split(a, x, " "); split(b, y, " "); f = 1e6 / hz / n
    printf "%-9s %10.0f %10d %14.1f %14.1f  %s\n", name, rps, n,
      (y[1] - x[1] + y[2] - x[2]) * f, (y[3] - x[3] + y[4] - x[4]) * f, errs }'
}
printf "%-9s %10s %10s %14s %14s\n" server req/s requests "server_us/req" "scripts_us/req"
run lighttpd "$lp" "${pids[0]}"
run pollux "$pp" "${pids[1]}"
