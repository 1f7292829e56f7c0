#!/usr/bin/env bash
# Serve the CPU build of torch, and what it needs, to `docker build` from this host, for a build
# that cannot reach download.pytorch.org. It takes the wheels the host's own pip finds (its index,
# its find-links), lays them out as a package index and serves it on Docker's bridge address, where
# build containers reach the host. Runs until stopped.
#
#   deploy/offline/torch-index.sh [PORT]      # then TORCH_INDEX_URL=http://172.17.0.1:PORT/simple
set -euo pipefail
PORT=${1:-8099}
ADDR=$(ip -4 -o addr show docker0 | awk '{print $4}' | cut -d/ -f1)
[ -n "$ADDR" ] || { echo "no docker0 bridge: is the Docker engine running?" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 -m pip download -q --only-binary=:all: --python-version 3.11 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform any \
  torch==2.13.0 -d "$dir/wheels"
# The simple repository layout (PEP 503): one folder per normalised project name, links to its files.
for wheel in "$dir"/wheels/*.whl; do
  file=$(basename "$wheel")
  project=$(echo "${file%%-*}" | tr 'A-Z_.' 'a-z--')
  mkdir -p "$dir/simple/$project"
  ln "$wheel" "$dir/simple/$project/$file"
done
echo "serving $(ls "$dir/wheels" | wc -l) wheels: TORCH_INDEX_URL=http://$ADDR:$PORT/simple"
cd "$dir" && exec python3 -m http.server "$PORT" --bind "$ADDR"
