#!/usr/bin/env bash
# Install everything the tests need (venv, packages, Debian's chromium) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The llama.cpp extra compiles from source once (about 5 minutes; pip caches the wheel afterwards).
# NEWSQA_SKIP_LLAMACPP=1 leaves it out, and its one test then reports itself skipped.
if [ "${NEWSQA_SKIP_LLAMACPP:-0}" = 1 ]; then
  scripts/setup.sh requirements-dev.txt
else
  scripts/setup.sh requirements-dev.txt requirements-llamacpp.txt
fi
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
