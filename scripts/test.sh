#!/usr/bin/env bash
# Quick start, part 2: install everything the tests need, then run the whole suite:
# pytest (unit, store contract, Supabase-on-Postgres, voice, browser) + nbval on every notebook.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" test
cd "$ROOT"

# Gates: the code must meet what the project declares (README, "Code quality"), before any test
# runs. Every gate runs; the ones that failed are named at the end. CONCIERGE_GATES=0 skips them.
if [ "${CONCIERGE_GATES:-1}" != 0 ]; then
  failed=()
  gate() {
    local name=$1
    shift
    echo "==> gate: $name"
    "$@" || failed+=("$name  ($*)")
  }
  gate "lint" ruff check --extend-ignore C901 .
  gate "complexity (C901, max 12 per function)" ruff check --select C901 .
  gate "format" ruff format --check .
  gate "types" mypy concierge
  if [ ${#failed[@]} -gt 0 ]; then
    printf '==> GATE FAILED: %s\n' "${failed[@]}" >&2
    echo "==> fix the above (or run with CONCIERGE_GATES=0 to run the tests anyway)" >&2
    exit 1
  fi
  echo "==> all gates passed"
fi

# System packages: PostgreSQL + pgTAP (Supabase store tests), Chromium (the real-browser test),
# espeak-ng (generates the speech the voice tests listen to), PortAudio (the console's audio
# mode), Node.js (runs the microphone widget's JavaScript in tests), Redis (two LiveKit server nodes
# share one in tests/test_livekit_nodes.py). Installed with apt-get where we can; elsewhere the
# tests that need them say so and are skipped.
need=()
command -v pg_prove >/dev/null || need+=(postgresql postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
have_portaudio || need+=(libportaudio2)
command -v node >/dev/null || need+=(nodejs)
command -v redis-server >/dev/null || need+=(redis-server)
if [ ${#need[@]} -gt 0 ]; then
  apt_install "${need[@]}" ||
    echo "==> could not install ${need[*]} (needs apt-get as root, and a Debian mirror); the tests that use them will be skipped"
fi

export CONCIERGE_STORE="${CONCIERGE_STORE_FOR_TESTS:-memory}"
start=$(date +%s)
# Two workers, each taking whole files (a notebook, a browser session, a Postgres fixture stay on
# one worker): half the suite waits on real time (spoken audio, a browser, Postgres), so two
# workers on two cores halve the wall time (measured: 564 s -> 300 s). `-n 0` runs it serially.
# Paths among the arguments (`bash scripts/test.sh tests/test_cart.py`) replace the default targets.
targets=(tests notebooks)
for arg in "$@"; do
  case "$arg" in -*) ;; *) if [ -e "${arg%%::*}" ]; then targets=(); fi ;; esac
done
python -m pytest "${targets[@]}" --nbval-lax --nbval-current-env -p tests.notebook_timing \
  --nbval-cell-timeout=240 -p no:cacheprovider -n 2 --dist loadfile --durations=12 "$@"
echo "==> tests took $(( $(date +%s) - start )) s"
