#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs them.
# Usage: scripts/test.sh            (what CI runs, through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the black-box tests talk to or use.
need=()
for pair in curl:curl socat:socat python3:python3 ip:iproute2 prlimit:util-linux setpriv:util-linux \
    unshare:util-linux chromium:chromium tftp:tftp-hpa atftp:atftp in.tftpd:tftpd-hpa tmux:tmux \
    wrk:wrk strace:strace; do
  cmd=${pair%%:*} pkg=${pair#*:}
  command -v "$cmd" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

# The WSGI tests' Python packages (Flask, Django) in a virtualenv under target/; the tests make
# it themselves when it is missing, this only does it once, up front, with its output visible.
scripts/python-env.sh >/dev/null

cargo build --workspace --all-targets
cargo test --workspace --all-targets -- --test-threads 4
cargo test --workspace --doc
