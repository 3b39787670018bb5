#!/usr/bin/env bash
# Download time of a 32 MiB file on loopback: `pollux tftp serve` against tftpd-hpa's in.tftpd,
# both running in this one script, runs alternating so that machine drift hits both alike.
#
#   default   512-byte blocks, lock-step (RFC 1350), tftp-hpa's `tftp` client against each
#             server, and our client against each server
#   fast      pollux: our client with --blksize 1428 --windowsize 16 against our server;
#             tftpd-hpa (no RFC 7440): blksize 1428 lock-step, with atftp and with our client
#
# Usage: bench/tftp.sh [RUNS]     (default 7; prints medians in seconds and the ratios)
# Needs: tftp-hpa, atftp, tftpd-hpa (scripts/test.sh installs them).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-7}

for cmd in tftp atftp in.tftpd; do
  command -v "$cmd" >/dev/null || { echo "bench/tftp.sh: $cmd is missing (apt-get install tftp-hpa atftp tftpd-hpa)" >&2; exit 1; }
done
cargo build --release --bin pollux -q
pollux=$PWD/target/release/pollux

work=$(mktemp -d /tmp/pollux-bench-tftp.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/srv" "$work/out"
head -c $((32 * 1024 * 1024)) /dev/urandom >"$work/srv/big.bin"

"$pollux" tftp serve "$work/srv" --bind 127.0.0.1:0 --quiet >"$work/pollux.out" &
pids+=($!)
for _ in $(seq 100); do grep -q tftp:// "$work/pollux.out" 2>/dev/null && break; sleep 0.05; done
ours=$(sed -n 's|.*tftp://||p' "$work/pollux.out")
port=$(python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
user=$(id -un)
in.tftpd --foreground --secure --user "$user" --blocksize 1468 --address "127.0.0.1:$port" "$work/srv" &
pids+=($!)
theirs=127.0.0.1:$port
sleep 0.3

# One timed download: prints seconds; checks the size so a failure cannot look fast.
timed() {
  local out=$work/out/got
  rm -f "$out"
  local t0 t1
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>&1 || { echo "bench/tftp.sh: failed: $*" >&2; exit 1; }
  t1=$(date +%s.%N)
  [ "$(stat -c %s "$out")" -eq $((32 * 1024 * 1024)) ] || { echo "bench/tftp.sh: short file from: $*" >&2; exit 1; }
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f\n", b - a }'
}
hpa_get() { tftp -m binary "${1%:*}" "${1##*:}" -c get big.bin "$work/out/got"; }
atftp_get() { atftp --option "blksize 1428" -g -r big.bin -l "$work/out/got" "${1%:*}" "${1##*:}"; }
ours_get() { local a=$1; shift; "$pollux" tftp get "$a" big.bin "$work/out/got" "$@"; }

declare -A t
scenarios=(hpa-default ours-default fast-ours-client fast-atftp)
for s in "${scenarios[@]}"; do t[$s,pollux]=""; t[$s,tftpd]=""; done
for i in $(seq "$runs"); do
  t[hpa-default,pollux]+=" $(timed hpa_get "$ours")"
  t[hpa-default,tftpd]+=" $(timed hpa_get "$theirs")"
  t[ours-default,tftpd]+=" $(timed ours_get "$theirs")"
  t[ours-default,pollux]+=" $(timed ours_get "$ours")"
  t[fast-ours-client,pollux]+=" $(timed ours_get "$ours" --blksize 1428 --windowsize 16)"
  t[fast-ours-client,tftpd]+=" $(timed ours_get "$theirs" --blksize 1428)"
  t[fast-atftp,tftpd]+=" $(timed atftp_get "$theirs")"
  t[fast-atftp,pollux]+=" $(timed ours_get "$ours" --blksize 1428 --windowsize 16)"
  echo "run $i/$runs done" >&2
done

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '\n32 MiB download on loopback, median of %s runs (seconds)\n\n' "$runs"
printf '| %-58s | %-9s | %-9s | %-22s |\n' "scenario" "pollux" "tftpd-hpa" "tftpd-hpa / pollux"
printf '|%s|%s|%s|%s|\n' "------------------------------------------------------------" "-----------" "-----------" "------------------------"
row() {
  local label=$1 key=$2 p h
  p=$(echo "${t[$key,pollux]}" | median)
  h=$(echo "${t[$key,tftpd]}" | median)
  printf '| %-58s | %9.3f | %9.3f | %21.2fx |\n' "$label" "$p" "$h" "$(awk -v h="$h" -v p="$p" 'BEGIN { print h / p }')"
}
row "default (512, lock-step), tftp-hpa client" hpa-default
row "default (512, lock-step), pollux client" ours-default
row "1428x16 window vs tftpd-hpa 1428 lock-step, pollux client" fast-ours-client
row "1428x16 window (pollux client) vs tftpd-hpa 1428 (atftp)" fast-atftp
