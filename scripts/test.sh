#!/usr/bin/env bash
# Install everything the tests need (venv, packages, Debian's chromium) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
# The llama.cpp extra compiles from source once (about 5 minutes).
# NEWSQA_SKIP_LLAMACPP=1 leaves it out, and its one test then reports itself skipped.
scripts/setup.sh requirements-dev.txt
if [ "${NEWSQA_SKIP_LLAMACPP:-0}" != 1 ]; then
  # A native build turns on llama.cpp's AMX kernels on CPUs that have AMX, and those crash
  # (SIGSEGV in ggml_backend_amx_mul_mat, seen on this project's Xeon runners). Build for AVX2,
  # which any current x86-64 runner has, and skip pip's wheel cache: it may hold a native build.
  CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    PIP_NO_CACHE_DIR=1 scripts/setup.sh requirements-llamacpp.txt
fi
if [ ! -x /usr/bin/chromium ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
exec .venv/bin/python -m pytest -q "$@"
