#!/bin/bash
# CGI spawn cost: pollux serve --cgi against lighttpd's mod_cgi, the same trivial scripts, both
# with the servers pinned (server on CPU 0, wrk on CPU 1) and unpinned (no taskset anywhere),
# ROUNDS rounds of every cell, the servers alternating within a round (and which goes first
# alternating between rounds), so a slow patch of the shared machine hits both sides.
#
# Usage: bench/cgi.sh            (both modes; MODES="pin nopin" by default)
# Environment: ROUNDS=5, DURATION=5s a cell, CONNS=16 (wrk -t1 -cCONNS);
#   SCRIPTS="cgi sh": cgi = a static C binary that writes the answer with one write(2) and
#   exits (what is left is the server's spawn, pipes and reaping, plus the kernel's execve and
#   exit), sh = a two-line /bin/sh script (adds dash's dynamic loading and startup, ~0.5 ms,
#   the same for both servers: the ratio moves towards 1);
#   WORKERS="1": pollux --workers, one cell per value ("1 2" adds the default on 2 cores);
#   lighttpd is one process with one event loop, so --workers 1 is the like-for-like cell;
#   POLLUX=path runs that binary instead of building target/release/pollux; BASELINE=path adds
#   another pollux binary (say, a build of the parent commit) as "before-wN" cells in the same
#   rounds, so a change is measured against lighttpd and against its own past in one run.
# Prints the exact commands, then one table: mode, script, server, req/s median over the
# rounds (and each round's), errors, and pollux/lighttpd (medians) per mode and script.
# Servers bind 127.0.0.1 on ports chosen here; no access logs.
# Needs: lighttpd, wrk, gcc (apt, installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5} DURATION=${DURATION:-5s} CONNS=${CONNS:-16}
MODES=${MODES:-pin nopin} SCRIPTS=${SCRIPTS:-cgi sh} WORKERS=${WORKERS:-1}

need=()
for c in lighttpd wrk gcc; do command -v "$c" >/dev/null 2>&1 || need+=("$c"); done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
lighttpd_bin=$(command -v lighttpd || echo /usr/sbin/lighttpd)
if [ -z "${POLLUX:-}" ]; then
  cargo build --release --bin pollux
  POLLUX=target/release/pollux
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work=$(mktemp -d /tmp/cgibench.XXXXXX); chmod 755 "$work"
pids=()
wrk_pid=""
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; pids=(); }
cleanup() { [ -z "$wrk_pid" ] || kill "$wrk_pid" 2>/dev/null || true; stop_servers; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
log_cmd() { echo "# $*" >&2; }

mkdir -p "$work/www" "$work/cgi-bin"
printf '#!/bin/sh\nprintf '"'"'Content-Type: text/plain\\r\\n\\r\\nhello\\n'"'"'\n' >"$work/cgi-bin/hello.sh"
cat >"$work/hello.c" <<'C'
#include <unistd.h>
int main(void) {
  static const char r[] = "Content-Type: text/plain\r\n\r\nhello\n";
  return write(1, r, sizeof r - 1) == sizeof r - 1 ? 0 : 1;
}
C
gcc -O2 -static -o "$work/cgi-bin/hello.cgi" "$work/hello.c"
chmod 755 "$work/cgi-bin/hello.sh" "$work/cgi-bin/hello.cgi"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
lp=$(port)
cat >"$work/lighttpd.conf" <<CONF
server.document-root = "$work/www"
server.bind = "127.0.0.1"
server.port = $lp
server.modules += ("mod_alias", "mod_cgi")
alias.url = ("/cgi-bin/" => "$work/cgi-bin/")
\$HTTP["url"] =~ "^/cgi-bin/" { cgi.assign = ("" => "") }
server.max-connections = 1024
CONF

results="$work/results"; : >"$results"
for mode in $MODES; do
  srv=() cli=()
  if [ "$mode" = pin ]; then srv=(taskset -c 0) cli=(taskset -c 1); fi
  # Servers: name port.
  servers=("lighttpd $lp")
  log_cmd "${srv[*]} $lighttpd_bin -D -f $work/lighttpd.conf"
  "${srv[@]}" "$lighttpd_bin" -D -f "$work/lighttpd.conf" & pids+=($!)
  for w in $WORKERS; do
    pp=$(port)
    log_cmd "${srv[*]} $POLLUX serve $work/www --cgi /cgi-bin=$work/cgi-bin --bind 127.0.0.1:$pp --workers $w --access-log off"
    "${srv[@]}" "$POLLUX" serve "$work/www" --cgi "/cgi-bin=$work/cgi-bin" --bind "127.0.0.1:$pp" \
      --workers "$w" --access-log off >/dev/null & pids+=($!)
    servers+=("pollux-w$w $pp")
    if [ -n "${BASELINE:-}" ]; then
      bp=$(port)
      log_cmd "${srv[*]} $BASELINE serve $work/www --cgi /cgi-bin=$work/cgi-bin --bind 127.0.0.1:$bp --workers $w --access-log off"
      "${srv[@]}" "$BASELINE" serve "$work/www" --cgi "/cgi-bin=$work/cgi-bin" --bind "127.0.0.1:$bp" \
        --workers "$w" --access-log off >/dev/null & pids+=($!)
      servers+=("before-w$w $bp")
    fi
  done
  sleep 1
  for s in "${servers[@]}"; do
    set -- $s
    for sc in $SCRIPTS; do
      body=$(curl -sS "http://127.0.0.1:$2/cgi-bin/hello.$sc")
      [ "$body" = hello ] || { echo "cgi.sh: $1 answered '$body' for hello.$sc" >&2; exit 1; }
    done
  done
  log_cmd "${cli[*]} wrk -t1 -c$CONNS -d$DURATION http://127.0.0.1:PORT/cgi-bin/hello.{$(echo $SCRIPTS | tr ' ' ,)}"
  for r in $(seq "$ROUNDS"); do
    order=("${servers[@]}")
    if [ $((r % 2)) -eq 0 ]; then  # reverse the order every other round
      order=(); for ((i = ${#servers[@]} - 1; i >= 0; i--)); do order+=("${servers[$i]}"); done
    fi
    for sc in $SCRIPTS; do
      for s in "${order[@]}"; do
        set -- $s
        "${cli[@]}" wrk -t1 -c"$CONNS" -d"$DURATION" "http://127.0.0.1:$2/cgi-bin/hello.$sc" >"$work/wrk.out" & wrk_pid=$!
        wait "$wrk_pid"; wrk_pid=""
        rps=$(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")
        errs=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$work/wrk.out")
        printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$sc" "$1" "$r" "$rps" "$errs" >>"$results"
        printf '%s %s %s round %s: %s req/s, %s errors\n' "$mode" "$sc" "$1" "$r" "$rps" "$errs" >&2
      done
    done
  done
  stop_servers
done

python3 - "$results" <<'PY'
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
cells = {}
for mode, sc, srv, r, rps, errs in rows:
    c = cells.setdefault((mode, sc, srv), {"rps": [], "errs": 0})
    c["rps"].append(float(rps)); c["errs"] += int(errs)
print(f"{'mode':6} {'script':6} {'server':11} {'req/s':>8} {'errors':>6}  {'/lighttpd':>9}  rounds")
for (mode, sc, srv), c in cells.items():
    med = statistics.median(c["rps"])
    base = statistics.median(cells[(mode, sc, "lighttpd")]["rps"])
    ratio = "" if srv == "lighttpd" else f"{med / base:.2f}"
    rounds = " ".join(f"{x:.0f}" for x in c["rps"])
    print(f"{mode:6} {sc:6} {srv:11} {med:8.0f} {c['errs']:6}  {ratio:>9}  {rounds}")
PY
