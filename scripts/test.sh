#!/usr/bin/env bash
# Quick start, part 2: install everything the tests need, then run the whole suite:
# pytest (unit, store contract, Supabase-on-Postgres, voice, browser) + nbval on every notebook.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/bootstrap.sh" test
cd "$ROOT"

# System packages: PostgreSQL + pgTAP (Supabase store tests), Chromium (the real-browser test),
# espeak-ng (generates the speech the voice tests listen to). Installed with apt-get where we
# can; elsewhere the tests that need them say so and are skipped.
need=()
command -v pg_prove >/dev/null || need+=(postgresql postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null || need+=(chromium)
command -v espeak-ng >/dev/null || need+=(espeak-ng)
if [ ${#need[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "==> apt-get install ${need[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "==> not installing ${need[*]} (needs apt-get as root); the tests that use them will be skipped"
  fi
fi

export CONCIERGE_STORE="${CONCIERGE_STORE_FOR_TESTS:-memory}"
start=$(date +%s)
python -m pytest tests notebooks --nbval-lax --nbval-current-env -p tests.notebook_timing \
  --nbval-cell-timeout=120 -p no:cacheprovider "$@"
echo "==> whole suite took $(( $(date +%s) - start )) s"
