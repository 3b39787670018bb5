#!/bin/bash
# Makes (or brings up to date) a virtualenv with the Python packages of the WSGI examples
# (examples/wsgi/requirements.txt: Flask, Django), made with the python3 on PATH (the one pollux
# embeds), and prints its absolute path on stdout; everything else goes to stderr.
#
# Usage: scripts/python-env.sh [VENV=target/wsgi-venv] [EXTRA_REQUIREMENT]...
#   venv=$(scripts/python-env.sh) && pollux serve --wsgi app --pythonpath examples/wsgi/flask_app --venv "$venv"
#   Extra arguments are more pip requirements (bench/wsgi.sh adds its servers this way).
#   PYTHON=/path/to/python3 chooses another interpreter.
# Idempotent and quick when nothing changed: a stamp file in the venv records the hash of the
# requirements, the extras and the interpreter's version; a mismatch reinstalls, a venv made by
# another interpreter version is made anew. Needs python3 with pip, and PyPI reachable.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${1:-$here/target/wsgi-venv}
[ $# -gt 0 ] && shift
case $venv in /*) ;; *) venv=$PWD/$venv ;; esac
py=${PYTHON:-python3}
req=$here/examples/wsgi/requirements.txt
command -v "$py" >/dev/null || { echo "python-env: $py not found" >&2; exit 2; }
pyver=$("$py" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')
want=$({ cat "$req"; printf '%s\n' "$@"; echo "python $pyver"; } | sha256sum | cut -d' ' -f1)
stamp=$venv/.pollux-requirements

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$venv/bin/python" -c '' 2>/dev/null; then
  echo "$venv"
  exit 0
fi

have=$("$venv/bin/python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>/dev/null || true)
if [ "$have" != "$pyver" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  [ -e "$venv" ] && echo "python-env: making $venv anew (python '$have' -> $pyver)" >&2
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  echo "python-env: creating $venv with $py ($pyver)" >&2
  if ! "$py" -m venv "$venv" >&2; then
    # No venv/ensurepip module (Debian without python3-venv): virtualenv, fetched from PyPI into a
    # scratch directory, brings its own pip.
    echo "python-env: 'python3 -m venv' failed; trying virtualenv" >&2
    rm -rf "$venv"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    PIP_BREAK_SYSTEM_PACKAGES=1 "$py" -m pip install --disable-pip-version-check --root-user-action=ignore -q --target "$tmp" virtualenv >&2
    PYTHONPATH=$tmp "$py" -m virtualenv -q "$venv" >&2
  fi
fi

rm -f "$stamp"
echo "python-env: installing $(grep -v '^#' "$req" | grep . | tr '\n' ' ' | sed 's/ $//')${*:+ $*} into $venv" >&2
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$req" "$@" >&2
echo "$want" > "$stamp"
echo "$venv"
