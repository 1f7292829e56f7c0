#!/usr/bin/env bash
# Set up (first time only) and start the assistant on http://127.0.0.1:7860 with the bundled sample.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh requirements.txt
exec .venv/bin/python app.py serve "$@"
