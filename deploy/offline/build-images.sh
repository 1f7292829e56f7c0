#!/usr/bin/env bash
# Stand-ins for the four registry images compose.yaml uses, built from Debian's packages and PyPI
# alone, for a Docker host that cannot reach Docker Hub (an air-gapped build farm, or this project's
# CI machines). They are tagged newsqa-offline/* and never shadow the real images; compose.yaml takes
# them through the variables this script prints at the end. docs/deploy.md says what differs.
#
#   sudo deploy/offline/build-images.sh [DEBIAN_MIRROR]
#
# Needs root (debootstrap) and a running Docker engine. Each image is built once; delete it to rebuild.
# Behind a TLS-inspecting proxy, the certificates in EXTRA_CA_DIR (default: the host's own,
# /usr/local/share/ca-certificates) are trusted inside the images, by pip too.
set -euo pipefail
cd "$(dirname "$0")"
MIRROR=${1:-http://deb.debian.org/debian}
BASE=newsqa-offline/debian:bookworm

have() { docker image inspect "$1" >/dev/null 2>&1; }

if ! have "$BASE"; then
  command -v debootstrap >/dev/null || { echo "needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
  root=$(mktemp -d)
  trap 'rm -rf "$root"' EXIT
  echo "debootstrap bookworm from $MIRROR ..."
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/dev/null
  tar -C "$root" -c . | docker import - "$BASE" >/dev/null
fi

# The host as build containers see it, where torch-index.sh serves torch over plain HTTP.
BRIDGE=$(ip -4 -o addr show docker0 2>/dev/null | awk '{print $4}' | cut -d/ -f1)
context=$(mktemp -d)
trap 'rm -rf "$context" ${root:+"$root"}' EXIT
cp postgres-entrypoint.sh "$context/"
mkdir "$context/certs"
cp "${EXTRA_CA_DIR:-/usr/local/share/ca-certificates}"/*.crt "$context/certs/" 2>/dev/null || true

build() {  # build TAG < Dockerfile text
  local tag=$1
  if have "$tag"; then echo "$tag: already built"; return; fi
  echo "building $tag ..."
  docker build -q -t "$tag" --build-arg BASE="$BASE" --build-arg MIRROR="$MIRROR" --build-arg BRIDGE="$BRIDGE" \
    -f - "$context" >/dev/null
}

# python:3.11-slim: Debian's Python 3.11 in a virtual environment first on PATH, so `pip install`
# and `python` behave as in the official image (which installs into /usr/local). pip trusts the
# bridge address for plain HTTP (torch-index.sh).
build newsqa-offline/python:3.11 <<'EOF'
ARG BASE
FROM $BASE
ARG BRIDGE
COPY certs/ /usr/local/share/ca-certificates/
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates \
    && update-ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/python
ENV PATH=/opt/python/bin:$PATH PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt PIP_TRUSTED_HOST=$BRIDGE
EOF

# postgres:15: Debian's PostgreSQL 15 and an entrypoint that, like the official image's, creates
# POSTGRES_USER (superuser, password POSTGRES_PASSWORD) and POSTGRES_DB on an empty data volume.
build newsqa-offline/postgres:15 <<'EOF'
ARG BASE
FROM $BASE
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/*
COPY postgres-entrypoint.sh /usr/local/bin/
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
ENTRYPOINT ["/usr/local/bin/postgres-entrypoint.sh"]
EOF

# chromadb/chroma:1.5.9: the `chroma` command of the PyPI package that requirements.txt pins, which
# runs the same server; curl for compose.yaml's health check.
build newsqa-offline/chroma:1.5.9 <<'EOF'
FROM newsqa-offline/python:3.11
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends curl && rm -rf /var/lib/apt/lists/* \
    && pip install -q --no-cache-dir chromadb==1.5.9
ENTRYPOINT ["chroma"]
EOF

# nginx:1.28-alpine: deploy/nginx.conf needs nginx 1.27.3 or newer (`resolve`); Debian 12 has 1.22,
# so this takes nginx from unstable. wget for compose.yaml's health check.
build newsqa-offline/nginx:unstable <<'EOF'
ARG BASE
ARG MIRROR
FROM $BASE
ARG MIRROR
RUN echo "deb [check-valid-until=no] $MIRROR sid main" > /etc/apt/sources.list.d/sid.list \
    && apt-get update -qq && apt-get install -y -qq --no-install-recommends -t sid nginx wget \
    && rm -rf /var/lib/apt/lists/* && ln -sf /dev/stdout /var/log/nginx/access.log \
    && ln -sf /dev/stderr /var/log/nginx/error.log
CMD ["nginx", "-g", "daemon off;"]
EOF

cat <<'EOF'
Done. Use the stand-ins with compose.yaml by exporting (or writing into .env):
  PYTHON_IMAGE=newsqa-offline/python:3.11
  POSTGRES_IMAGE=newsqa-offline/postgres:15
  CHROMA_IMAGE=newsqa-offline/chroma:1.5.9
  PROXY_IMAGE=newsqa-offline/nginx:unstable
EOF
