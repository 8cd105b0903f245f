#!/usr/bin/env bash
# Shared by scripts/lab.sh and scripts/test.sh: make .venv and install the project into it.
# Usage: source scripts/bootstrap.sh EXTRA   (EXTRA = lab or test)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Concierge Lab needs Python 3.11 or newer (found: $("$PY" --version 2>&1))." >&2
  exit 1
fi
VENV="${CONCIERGE_VENV:-$ROOT/.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi
# Installs come from the lock (requirements/$1.txt, exported from uv.lock by scripts/lock.sh): the
# same versions on every machine and every day, each file checked against its hash. Then the
# project itself, with nothing more (its build backend is in the lock too). A venv already
# installed from this lock and pyproject.toml is left as it is (no package index needed).
LOCK="$ROOT/requirements/$1.txt"
stamp="$VENV/.concierge-lock"
want="$1 $(cat "$LOCK" "$ROOT/pyproject.toml" | cksum)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> installing concierge-lab[$1] from requirements/$1.txt into $VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --require-hashes -r "$LOCK"
  # (setuptools warns about editable installs in general; nothing to act on, so keep the output clean)
  PYTHONWARNINGS=ignore "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    --no-index --no-deps --no-build-isolation -e "$ROOT"
  echo "$want" >"$stamp"
fi
export PATH="$VENV/bin:$PATH"

# grep reads everything (no -q): an early exit would SIGPIPE ldconfig and, under pipefail, misreport
have_portaudio() { ldconfig -p 2>/dev/null | grep libportaudio >/dev/null; }

# apt_install PKG...: install Debian packages where we can (root with apt-get); false when we
# cannot, or when apt-get fails (no mirror), so the caller can say what goes without them.
apt_install() {
  command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] || return 1
  echo "==> apt-get install $*"
  apt-get update -qq >/dev/null || echo "==> apt-get update failed (no Debian mirror?); trying the install anyway"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# LiveKit's own server (issue 21): the lab and the tests run the worker against it on 127.0.0.1.
# Built once per machine with Go (`go install`, cached); without Go everything else still runs
# and this says in one sentence how to get the server.
"$VENV/bin/python" -m concierge.livekit_server >/dev/null ||
  echo "==> going on without LiveKit's server: the notebooks and tests that need it say so"
