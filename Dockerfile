# One newsqa app server (`python app.py serve`), for the shared mode of docs/deploy.md: with
# NEWSQA_DATABASE_URL and NEWSQA_CHROMA_HOST set, any number of these containers serve one index.
# It runs offline: the embedding and spaCy models come inside PyPI packages, and the embedding model's ONNX
# export is made while building, so a replica's first start downloads and exports nothing.
# The reader model (requirements-reader.txt) is not installed: answer_mode auto answers extractively.
# PYTHON_IMAGE and TORCH_INDEX_URL let a host that cannot reach Docker Hub or download.pytorch.org
# build from stand-ins (deploy/offline/, docs/deploy.md).
ARG PYTHON_IMAGE=python:3.11-slim
FROM ${PYTHON_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# torch from PyTorch's CPU index first: PyPI's Linux wheel of torch pulls the CUDA libraries (gigabytes).
# requirements.txt pins the same version, which pip then finds installed.
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN pip install --index-url "$TORCH_INDEX_URL" torch==2.13.0
COPY requirements.txt ./
RUN pip install -r requirements.txt

# The code belongs to root and is read-only to the server; its data_dir (empty in the shared mode, where
# feedback goes to PostgreSQL) is the one folder it writes, besides its home's ~/.cache/newsqa.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin newsqa \
    && install -d -o newsqa -g newsqa /var/lib/newsqa
COPY . .
USER newsqa

ENV NEWSQA_HOST=0.0.0.0 \
    NEWSQA_PORT=7860 \
    NEWSQA_DATA_DIR=/var/lib/newsqa \
    HF_HUB_OFFLINE=1

# Prepare the default embedding model now, into /home/newsqa/.cache/newsqa: the three-layer model written
# out of its package (index/bundled.py) and its ONNX int8 export (index/onnx_encoder.py). Otherwise every
# new container does both at its first encode.
RUN python -c "from core.settings import Settings; from index.embeddings import make_embeddings; \
make_embeddings(Settings()).embed_query('warm up')"

EXPOSE 7860

# /api/health: 200 when this replica reaches PostgreSQL and Chroma, 503 when it cannot. Sent with the
# first API key and allowed host name when those are set, as a client would be.
HEALTHCHECK --interval=15s --timeout=10s --start-period=300s --retries=3 CMD python -c "\
import urllib.request; from core.settings import Settings; s = Settings(); \
h = {'Host': s.allowed_hosts[0] if s.allowed_hosts else '127.0.0.1'}; \
h.update({'Authorization': 'Bearer ' + s.api_keys[0]} if s.api_keys else {}); \
urllib.request.urlopen(urllib.request.Request(f'http://127.0.0.1:{s.port}/api/health', headers=h), timeout=8)"

CMD ["python", "app.py", "serve"]
