"""Shared fixtures: fake and real embeddings, indexes in per-test temp dirs, a real `chroma run` server."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "articles" / "raqqa_convoy.txt"
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def fake_embeddings():
    from index.embeddings import HashEmbeddings

    return HashEmbeddings()


@pytest.fixture(scope="session")
def minilm():
    """The real bundled all-MiniLM-L6-v2, loaded once per test run."""
    from index.embeddings import SentenceTransformerEmbeddings

    embeddings = SentenceTransformerEmbeddings()
    embeddings.encode(["warm up"])
    return embeddings


@pytest.fixture
def settings(tmp_path):
    from assistant.settings import Settings

    return Settings(data_dir=tmp_path / "data", _env_file=None)


@pytest.fixture
def fake_index(settings, fake_embeddings):
    from index.store import ArticleIndex

    return ArticleIndex.from_settings(settings, embeddings=fake_embeddings)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The server app with the real engine on the bundled sample, one per test module."""
    from assistant.server import build_app
    from tests.live_server import make_settings

    return build_app(make_settings(tmp_path_factory.mktemp("app-data")))


@pytest.fixture(scope="module")
def server(app):
    """`app` served by uvicorn on a loopback port."""
    from tests.live_server import LiveServer

    with LiveServer(app) as server:
        yield server


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on a loopback port, for the whole session."""
    chroma = Path(sys.executable).parent / "chroma"
    assert chroma.exists(), "the chroma CLI comes with the chromadb package"
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "wb")
    process = subprocess.Popen([str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port", str(port)],
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            assert process.poll() is None, (path / "server.log").read_text()
            time.sleep(0.2)
    else:
        process.kill()
        raise AssertionError("chroma run did not start listening within 60 s")
    yield ("127.0.0.1", port)
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
    shutil.rmtree(path, ignore_errors=True)
