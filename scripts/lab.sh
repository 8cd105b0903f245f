#!/usr/bin/env bash
# Quick start, part 1: install what the lab needs and open JupyterLab on notebooks/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" lab
cd "$ROOT"
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # Jupyter refuses root without it (containers, CI boxes)
exec jupyter lab notebooks/ "${extra[@]}" "$@"
