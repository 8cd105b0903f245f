#!/usr/bin/env bash
# Quick start, part 1: install what the lab needs and open JupyterLab on notebooks/.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" lab
cd "$ROOT"
# PortAudio lets `python -m concierge console --audio` use a microphone (text mode needs nothing).
have_portaudio || apt_install libportaudio2 ||
  echo "==> PortAudio not found: the console's audio mode needs libportaudio2 (text mode works without it)"
# Each lesson is a notebook (NN_name.ipynb) and its jupytext source (NN_name.py); with jupytext
# installed JupyterLab would list and open both. This config hides the .py sources.
export JUPYTER_CONFIG_PATH="$ROOT/scripts/jupyter${JUPYTER_CONFIG_PATH:+:$JUPYTER_CONFIG_PATH}"
# No "get notified about Jupyter news?" pop-up over the panel (it asks on every fresh install):
# the lab's own JupyterLab takes these defaults from its app settings; yours still win.
settings="$(python -c 'import sys; print(sys.prefix)')/share/jupyter/lab/settings"
mkdir -p "$settings"
[ -e "$settings/overrides.json" ] || cp scripts/jupyter/overrides.json "$settings/overrides.json"
extra=()
[ "$(id -u)" = 0 ] && extra+=(--allow-root)  # Jupyter refuses root without it (containers, CI boxes)
exec jupyter lab notebooks/ "${extra[@]}" "$@"
