"""What several test modules share, in one place: the checkout's paths and sample article, settings on a
temporary data directory, a free loopback port, a real uvicorn server in a background thread, a real
`chroma run` server, the fake parts the engine tests hand in, and the sample passages the extractive
tests answer from.

Helpers only: fixtures live in conftest.py. Importing this loads no model and starts nothing (the
answer-pool tests' worker processes import it too); the heavier imports wait until a helper is used.
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answering.base import Draft, Evidence, RetrievedPassage

if TYPE_CHECKING:
    from assistant.engine import AnswerEngine
    from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "articles" / "raqqa_convoy.txt"
QUESTION = "Who brokered the deal?"
EXPECTED = "council and tribal elders"


def sample_article() -> Path:
    """The bundled Raqqa convoy article, wherever under samples/ it lives."""
    found = sorted((ROOT / "samples").rglob("raqqa_convoy.txt"))
    assert found, "samples/**/raqqa_convoy.txt is missing"
    return found[0]


def free_port() -> int:
    """A loopback port nothing listens on now, for a server that must be told its port up front."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_serve(data_dir: Path, port: int, env: dict, log_path: Path, ready=lambda: True, timeout: float = 240.0):
    """`python app.py serve` as a user starts it, returned once `/api/health` answers and `ready()` holds."""
    import subprocess
    import sys
    import time

    import httpx

    log = open(log_path, "wb")
    server = subprocess.Popen([sys.executable, "app.py", "serve", "--data-dir", str(data_dir), "--port", str(port)],
                              cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    server.log = log  # closed by the caller after the server stops
    deadline = time.monotonic() + timeout
    while True:
        if server.poll() is not None:
            log.close()
            raise AssertionError(log_path.read_text()[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200 and ready():
                return server
        except (httpx.HTTPError, AttributeError):
            pass
        if time.monotonic() > deadline:
            server.kill()
            log.close()
            raise AssertionError("the server did not come up")
        time.sleep(0.5)


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, only the sample article, no `.env` and no NEWSQA_* env."""
    from core.settings import Settings

    # Starlette's TestClient sends `Host: testserver`; a real server answers only to loopback names.
    hosts = ["127.0.0.1", "localhost", "::1", "testserver"]
    values = {"data_dir": data_dir, "sample_path": sample_article(), "api_keys": [], "allowed_hosts": hosts, **overrides}
    return Settings(_env_file=None, **values)


# --- real servers --------------------------------------------------------------------------------

class LiveServer:
    """`with LiveServer(app) as server:` serves `app` at `server.url` until the block ends.
    `config`: more `uvicorn.Config` options, e.g. `assistant.web.guards.uvicorn_options(limits)`."""

    def __init__(self, app, startup_timeout: float = 60.0, **config):
        self.app = app
        self.startup_timeout = startup_timeout
        self.config = config
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        import uvicorn

        # A short graceful shutdown: browsers and gradio_client keep event streams open.
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="warning", lifespan="on",
                                timeout_graceful_shutdown=2, **self.config)
        self._socket = config.bind_socket()  # port 0: the OS picks a free port, no race with other tests
        self.port = self._socket.getsockname()[1]
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()


class ChromaServer:
    """A real `chroma run` server on 127.0.0.1, its data in `folder/db` and its output in
    `folder/server.log`. `with ChromaServer(folder) as chroma:` runs it for the block; in between,
    `stop()` kills it (an outage) and `start()` brings it back on the same port and folder, as an
    operator restarting Chroma would."""

    host = "127.0.0.1"

    def __init__(self, folder: Path, port: int | None = None, startup_timeout: float = 60.0):
        self.folder = folder
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def log(self) -> Path:
        return self.folder / "server.log"

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        assert chroma.exists(), "the chroma CLI comes with the chromadb package"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log, "ab")
        self.process = subprocess.Popen([str(chroma), "run", "--path", str(self.folder / "db"), "--host", self.host,
                                         "--port", str(self.port)], stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        while True:
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise AssertionError(f"chroma run exited with {self.process.returncode}:\n{self.log.read_text()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"chroma run did not start listening within {self.startup_timeout:.0f} s")
                time.sleep(0.1)

    def stop(self, graceful: bool = False) -> None:
        """Kill the server, as a crash would; `graceful`: ask it to shut down first (10 s)."""
        if self.process is not None and self.process.poll() is None:
            if graceful:
                self.process.terminate()
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    pass
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> ChromaServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop(graceful=True)


class PostgresServer:
    """A real PostgreSQL server from Debian's package on 127.0.0.1: `initdb` in a temporary folder,
    trust authentication on loopback only, and `postgres` started by hand (no system service). As
    root (CI) it runs as the `postgres` user, since PostgreSQL refuses to run as root. `database()`
    creates an empty database and returns its URL; `stop()` and `start()` are an outage and a restart
    on the same port and folder."""

    host = "127.0.0.1"

    def __init__(self, port: int | None = None, startup_timeout: float = 60.0):
        import tempfile

        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.bindir = self._bindir()
        self.folder = Path(tempfile.mkdtemp(prefix="newsqa-pg-"))  # not under pytest's 0700 tmp: postgres reads it
        self.process: subprocess.Popen | None = None
        self._user: dict = {}  # as root: run as the postgres user (Popen's user/group: no wrapper process to signal)
        self._databases = 0

    @staticmethod
    def _bindir() -> Path:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"))
        assert found, "PostgreSQL is not installed: `apt-get install postgresql` (scripts/test.sh does it)"
        return found[-1].parent

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/postgres"

    def _run_as(self, args: list[str], **kwargs) -> subprocess.Popen:
        return subprocess.Popen(args, **self._user, **kwargs)

    def start(self) -> None:
        import os
        import shutil

        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self._user = {"user": "postgres", "group": "postgres", "extra_groups": []}
        data = self.folder / "data"
        log = self.folder / "server.log"
        if not data.exists():
            init = self._run_as([str(self.bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                                 "--no-sync", "-E", "UTF8", "--locale=C"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = init.communicate(timeout=120)[0]
            assert init.returncode == 0, f"initdb failed:\n{out.decode(errors='replace')}"
        self.process = self._run_as(
            [str(self.bindir / "postgres"), "-D", str(data), "-h", self.host, "-p", str(self.port), "-k", str(self.folder),
             "-c", "fsync=off", "-c", "max_connections=200", "-c", "shared_buffers=64MB"],
            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout
        import psycopg

        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None:
                    raise AssertionError(f"postgres exited with {self.process.returncode}:\n{log.read_text()}")
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"postgres did not accept connections within {self.startup_timeout:.0f} s")
                time.sleep(0.1)

    def database(self, encoding: str | None = None) -> str:
        """A new empty database's URL (`encoding`: its server encoding, the cluster's default otherwise)."""
        import psycopg

        self._databases += 1
        name = f"newsqa_{self._databases}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}" + (f" ENCODING '{encoding}' TEMPLATE template0" if encoding else ""))
        return f"postgresql://postgres@{self.host}:{self.port}/{name}"

    def stop(self, graceful: bool = False) -> None:
        """Kill the server, as a crash would (`graceful`: a fast shutdown)."""
        import signal

        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if graceful else signal.SIGKILL)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if not graceful:  # a killed postmaster leaves its backends: they end once they see it gone
            time.sleep(0.5)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        import shutil

        self.stop(graceful=True)
        shutil.rmtree(self.folder, ignore_errors=True)


# --- fake parts for the engine (tests/unit/test_engine.py, test_limits.py) -----------------------

TEXT = "Intro sentence here. The agreement was brokered by the council and tribal elders. Closing line."


class FakeRetriever:
    """Always retrieves the passage of `TEXT` that answers who brokered the deal; notes each question."""

    def __init__(self):
        self.searched = []

    def retrieve(self, question, k=None, filters=None):
        self.searched.append(question)
        start = TEXT.index("The agreement")
        end = TEXT.index(" Closing")
        return None, [RetrievedPassage(passage_id="p1", doc_id="d1", title="T", source="s", published=None,
                                       text=TEXT[start:end + 15], start=start, sentences=[(start, end), (end + 1, end + 15)])], 0.0


class FakeAnswerer:
    """Streams a piece of text, then a draft citing that sentence, with the confidence it was given."""

    mode = "extractive"

    def __init__(self, confidence):
        self.confidence = confidence

    def stream(self, question, passages, question_vector=None):
        start = TEXT.index("The agreement")
        end = TEXT.index(" Closing")
        yield "ignored"
        yield Draft(answer=f"{TEXT[start:end]} [1]", evidence=[Evidence(0, start, end, TEXT[start:end])],
                    short_answer="the council and tribal elders", confidence=self.confidence)


def engine(confidence=0.9, threshold=0.5) -> AnswerEngine:
    from assistant.engine import AnswerEngine

    return AnswerEngine(FakeRetriever(), FakeAnswerer(confidence), abstain_threshold=threshold)


# --- the sample as passages (tests/integration/test_extractive.py, test_pool.py) -----------------

ARTICLE = SAMPLE.read_text(encoding="utf-8")


def passage(text: str, start: int, sentences: list[tuple[int, int]], score: float = 0.0) -> RetrievedPassage:
    """A passage of one test article, as the retriever would hand it over."""
    return RetrievedPassage(passage_id=f"p{start}", doc_id="d1", title="Test", source="test", published=None,
                            text=text, start=start, sentences=list(sentences), score=score)


def line_sentences(text: str) -> list[tuple[int, int]]:
    """The sample holds one sentence a line."""
    spans, pos = [], 0
    for line in text.split("\n"):
        if line.strip():
            spans.append((pos, pos + len(line)))
        pos += len(line) + 1
    return spans


def passages_of(text: str, per: int = 4, overlap: int = 1) -> list[RetrievedPassage]:
    sents = line_sentences(text)
    out = []
    for first in range(0, len(sents), per - overlap):
        group = sents[first : first + per]
        out.append(passage(text[group[0][0] : group[-1][1]], group[0][0], group))
        if first + per >= len(sents):
            break
    return out


def retrieve(question: str, passages: list[RetrievedPassage], k: int = 5) -> list[RetrievedPassage]:
    """A stand-in retriever: top k passages by shared words, scored like the real one hands over."""
    words = set(re.findall(r"\w+", question.lower()))
    ranked = sorted(passages, key=lambda p: -len(words & set(re.findall(r"\w+", p.text.lower()))))[:k]
    return [passage(p.text, p.start, p.sentences, score=1.0 / (1 + i)) for i, p in enumerate(ranked)]
