#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need, then runs them.
# Usage: scripts/test.sh            (what CI runs, through .ci/run)
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the black-box tests talk to or use.
need=()
for pair in curl:curl socat:socat python3:python3 ip:iproute2 prlimit:util-linux setpriv:util-linux \
    unshare:util-linux chromium:chromium tftp:tftp-hpa atftp:atftp in.tftpd:tftpd-hpa tmux:tmux \
    wrk:wrk strace:strace openssl:openssl testssl:testssl.sh nghttp:nghttp2-client h2load:nghttp2-client \
    systemd-socket-activate:systemd haproxy:haproxy ss:iproute2 fail2ban-regex:fail2ban; do
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
# The HTTP/2 scripts' Python package (h2, tests/h2/requirements.txt) in a virtualenv of their own.
scripts/python-env.sh target/h2-venv $(grep -v '^#' tests/h2/requirements.txt) >/dev/null
# The metrics tests' Prometheus text-format parser (prometheus_client, tests/ops/requirements.txt).
scripts/python-env.sh target/obs-venv $(grep -v '^#' tests/ops/requirements.txt) >/dev/null

# httpwg-cli, the RFC 9113 conformance cases (tests/h2_conformance.rs), at the version the test
# was written against; built from crates.io once.
httpwg_version=0.2.5
if ! cargo install --list | grep -qx "httpwg-cli v$httpwg_version:"; then
  echo "test.sh: installing httpwg-cli $httpwg_version"
  cargo install --locked httpwg-cli --version "$httpwg_version"
fi

# Each step's wall time, printed at the end; every test runner's output is also kept, for the
# totals on the last line.
times=()
step() { local t0=$SECONDS; "$@"; times+=("$((SECONDS - t0))s  $*"); }
results=target/test-results.log
mkdir -p target && : >"$results"
tests() { cargo test "$@" 2>&1 | tee -a "$results"; }

# Gates first: they are quick and fail before the long build does.
step cargo fmt --all -- --check
# No two modules of a crate import each other, directly or round a longer circle
# (scripts/module-cycles.py, stdlib Python: it lists each circle with the lines that make it).
step python3 scripts/module-cycles.py
step cargo clippy --workspace --all-targets -- -D warnings
# The fuzz targets' door into pollux-fs (`fuzzing` feature, off in every other build).
step cargo clippy -p pollux-fs --features fuzzing -- -D warnings
# pollux-tls as pollux-server uses it: names only, no crypto provider (`config` off).
step cargo clippy -p pollux-tls --no-default-features --all-targets -- -D warnings

step cargo build --workspace --all-targets
step tests --workspace --all-targets -- --test-threads 4

# ---- Tests that need what not every machine has -----------------------------------------------
# They are #[ignore = "needs …"] (grep -rn 'ignore = "needs' tests) and fail, never pass, when run
# without it. Each group runs here where its need is met (CI runs as root); otherwise this says
# which did not run.
ignored() { tests "$@" -- --test-threads 4 --ignored; }
if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null; then
  step ignored --test serve_lan --test tftp_netns --test tools_udp     # network namespaces
  # The fleet behind HAProxy (namespaces too): ~25 s a scenario.
  step ignored --test ops_fleet
else echo "test.sh: NOT RUN (need root and iproute2): the ignored tests of serve_lan, tftp_netns, tools_udp, ops_fleet" >&2; fi
if grep -qs '^0\{31\}1 ' /proc/net/if_inet6; then                       # ::1 is configured
  step ignored --test serve --test tftp_server --test tools_echo --test ops_acl
else echo "test.sh: NOT RUN (need an IPv6 loopback): the ignored tests of serve, tftp_server, tools_echo, ops_acl" >&2; fi
if [ "$(ulimit -Hn)" = unlimited ] || [ "$(ulimit -Hn)" -ge 1200 ]; then
  step ignored --test tools_models                                    # 1,100 descriptors
else echo "test.sh: NOT RUN (need ulimit -Hn >= 1200): the ignored test of tools_models" >&2; fi
# ------------------------------------------------------------------------------------------------
step tests --workspace --doc

# Fuzz smoke: every target in fuzz/ for FUZZ_SECONDS (default 5) each, from the corpus
# libFuzzer keeps in fuzz/corpus/ (git-ignored). A finding fails the run and leaves its input
# in fuzz/artifacts/TARGET/ (see fuzz/README.md). cargo-fuzz passes nightly-only flags;
# RUSTC_BOOTSTRAP=1 lets a stable toolchain accept them.
fuzz_smoke() (
  command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked
  cd fuzz
  export RUSTC_BOOTSTRAP=1
  cargo fuzz build
  local t log
  for t in $(cargo fuzz list); do
    log=target/smoke-$t.log
    mkdir -p target
    if cargo fuzz run "$t" -- -max_total_time="${FUZZ_SECONDS:-5}" -max_len=4096 >"$log" 2>&1; then
      echo "fuzz $t: $(grep -Eo '^Done [0-9]+ runs in [0-9]+ second' "$log" || echo done)"
    else
      tail -n 40 "$log" >&2
      echo "test.sh: fuzz target $t failed (log: fuzz/$log)" >&2
      return 1
    fi
  done
)
step fuzz_smoke

printf 'test.sh: %s\n' "${times[@]}"
awk '/^test result:/ { p += $4; f += $6 } END { printf "%d passed, %d failed\n", p, f }' "$results"
