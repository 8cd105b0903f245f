#!/usr/bin/env bash
# Refresh the lock on purpose: resolve pyproject.toml's dependencies once for every supported
# platform and Python (uv.lock), export what pip installs (requirements/lab.txt, requirements/test.txt,
# hashes included) and re-render docs/platforms.md's wheel table from it. Review the diff, commit.
#   bash scripts/lock.sh                        # pyproject.toml changed: keep every other pin
#   bash scripts/lock.sh --upgrade              # move every package to the newest release allowed
#   bash scripts/lock.sh --upgrade-package X    # move one
#   bash scripts/lock.sh --upgrade --dry-run    # drift report: what PyPI has newer, nothing written
# uv itself (pinned here) goes into a cache folder, not into the lab's .venv.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
UV_VERSION=0.13.10
PY="${PYTHON:-python3}"
TOOLS="${XDG_CACHE_HOME:-$HOME/.cache}/concierge-lab/uv-$UV_VERSION"
if [ ! -x "$TOOLS/bin/uv" ]; then
  echo "==> installing uv $UV_VERSION into $TOOLS"
  "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/python" -m pip install --quiet "uv==$UV_VERSION" "packaging>=23"
fi
export UV_PYTHON_DOWNLOADS=never  # lock with the Python at hand; never fetch one
"$TOOLS/bin/uv" lock --python "$PY" "$@"
for arg in "$@"; do [ "$arg" = --dry-run ] && exit 0; done
# base: the agent alone (the Dockerfile's worker); lab, test: what scripts/lab.sh, test.sh install
for extra in base lab test; do
  what=(--extra "$extra") name="concierge-lab[$extra]"
  [ "$extra" = base ] && what=() name="concierge-lab"
  {
    echo "# $name, locked: generated from uv.lock by scripts/lock.sh (do not edit)."
    echo "# Installed with pip --require-hashes, then the project itself with --no-deps."
    "$TOOLS/bin/uv" export --frozen --format requirements.txt --no-header --no-emit-project \
      "${what[@]}" --group bootstrap
  } >"requirements/$extra.txt"
done
"$TOOLS/bin/python" scripts/check_wheels.py --write
echo "==> review: git diff uv.lock requirements/ docs/platforms.md"
