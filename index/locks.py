"""A lock between processes that share one data directory (a server and a command-line ingest).

filelock's `FileLock` takes an exclusive `flock` on the file (created if missing, left in place),
which the kernel releases when the holder ends, however it ends (`kill -9` included). Two settings
keep it to that: `fallback_to_soft=False`, because on a filesystem without flock filelock would
otherwise use a marker file that a killed process leaves behind; and a waiter polls (flock has no
timeout), every `POLL_SECONDS`. Measured on 2 cores: 0.36 ms to take and release a free lock
(a bare `fcntl.flock` took 0.04 ms), and a waiter gets a released lock ~21 ms later (0.2 ms with
a blocking flock): small beside what the lock guards (an ingest batch, opening a store).

`index/owner.py` calls flock itself on purpose: it takes its lock without waiting and reads who
holds it from the file.
"""

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock

from core.errors import ConfigError

POLL_SECONDS = 0.05


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing) for the duration of the block, waiting for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(path, fallback_to_soft=False, poll_interval=POLL_SECONDS):
        yield


def cache_home() -> Path:
    """Where the machine-wide caches live (ONNX exports, converted models): `~/.cache/newsqa`, or
    under `$XDG_CACHE_HOME`."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "newsqa"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextmanager
def cache_lock(lock: Path, folder: Path, timeout: float) -> Iterator[None]:
    """For a cache in the user's home that the first process to need it builds (an export, a converted
    model): the others wait up to `timeout` seconds, then reuse it. A stuck holder, or a folder that
    cannot be written, becomes a ConfigError saying what to do."""
    from filelock import Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(lock), timeout=timeout):
            yield
    except Timeout as exc:
        raise ConfigError(f"waited {timeout:.0f} s for another process writing {folder}; if none is running, "
                          f"delete {lock}") from exc
    except OSError as exc:
        raise ConfigError(f"cannot write the cache {folder} ({exc}): make it writable, or point XDG_CACHE_HOME at "
                          "a writable folder") from exc
