#!/usr/bin/env bash
# Set up (first time only) and start the assistant on http://127.0.0.1:7860 with the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
# The reader model writes the short answers; without it the assistant answers in the extractive mode.
# NEWSQA_SKIP_READER=1 leaves it out (no 470 MB model download).
if [ "${NEWSQA_SKIP_READER:-0}" != 1 ] && ! scripts/setup-reader.sh; then
  echo "run.sh: the reader could not be installed (see above); answering in the extractive mode" >&2
fi
exec .venv/bin/python app.py serve "$@"
