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

# The conformance corpus lives beside the repository (../shared); the tests fail without it.
[ -d ../shared/conformance/http ] || { echo "test.sh: ../shared/conformance/http is missing" >&2; exit 1; }

# The WSGI tests' Python packages (Flask, Django) in a virtualenv under target/; the tests make
# it themselves when it is missing, this only does it once, up front, with its output visible.
scripts/python-env.sh >/dev/null

cargo build --workspace --all-targets
cargo test --workspace --all-targets -- --test-threads 4

# ---- Tests that need what not every machine has -----------------------------------------------
# They are #[ignore = "needs …"] (grep -rn 'ignore = "needs' tests) and fail, never pass, when run
# without it. Each group runs here where its need is met (CI runs as root); otherwise this says
# which did not run.
ignored() { cargo test "$@" -- --test-threads 4 --ignored; }
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  ignored --test serve_lan --test tftp_netns --test tools_udp          # network namespaces
else echo "test.sh: NOT RUN (need root and iproute2): the ignored tests of serve_lan, tftp_netns, tools_udp" >&2; fi
if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then                       # ::1 is configured
  ignored --test serve --test tftp_server --test tools_echo
else echo "test.sh: NOT RUN (need an IPv6 loopback): the ignored tests of serve, tftp_server, tools_echo" >&2; fi
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 1200 ]; then
  ignored --test tools_models                                         # 1,100 descriptors
else echo "test.sh: NOT RUN (need ulimit -Hn >= 1200): the ignored test of tools_models" >&2; fi
# ------------------------------------------------------------------------------------------------
cargo test --workspace --doc
