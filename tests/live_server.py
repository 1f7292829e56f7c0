"""Helpers for the tests that talk to the real app: the sample article, settings on a temporary data
directory, and a real uvicorn server on 127.0.0.1 (a free port) in a background thread."""

import threading
import time
from pathlib import Path

import uvicorn

from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "Who brokered the deal?"
EXPECTED = "council and tribal elders"


def sample_article() -> Path:
    """The bundled Raqqa convoy article, wherever under samples/ it lives."""
    found = sorted((ROOT / "samples").rglob("raqqa_convoy.txt"))
    assert found, "samples/**/raqqa_convoy.txt is missing"
    return found[0]


def make_settings(data_dir: Path, **overrides) -> Settings:
    """Settings for a test: its own data dir, only the sample article, no `.env` and no NEWSQA_* env."""
    # Starlette's TestClient sends `Host: testserver`; a real server answers only to loopback names.
    hosts = ["127.0.0.1", "localhost", "::1", "testserver"]
    values = {"data_dir": data_dir, "sample_path": sample_article(), "api_keys": [], "allowed_hosts": hosts, **overrides}
    return Settings(_env_file=None, **values)


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

    def __enter__(self) -> "LiveServer":
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
