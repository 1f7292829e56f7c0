#!/usr/bin/env bash
# Create .venv and install the pinned requirements (idempotent: a second run installs nothing new).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat "$@" requirements*.txt | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  for req in "$@"; do
    .venv/bin/python -m pip install -q -r "$req"
    # A "<name>-nodeps.txt" beside it holds pins whose declared dependencies would conflict: no deps.
    nodeps="${req%.txt}-nodeps.txt"
    if [ -f "$nodeps" ]; then .venv/bin/python -m pip install -q --no-deps -r "$nodeps"; fi
  done
  touch "$stamp"
fi
