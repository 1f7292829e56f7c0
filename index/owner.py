"""One process at a time holds an embedded data directory.

Embedded Chroma keeps each collection's HNSW index in the memory of the process that opened it and
writes it back from there. Two processes with one `data_dir/chroma` open overwrite each other's
index files: a server and a command-line ingest sharing a folder lost 2,668 of 5,309 vectors while
the catalog still listed them, and every date-filtered query failed with "Error finding id". So an
embedded data directory has one holder: the first process to open it takes an exclusive `flock` on
`owner.lock` and writes who it is there (pid, command, and a server's URL). The lock goes with the
process, however it ends, so a `kill -9` never leaves a folder locked.

The command line decides what to do when the folder is held (`assistant/cli.py`): a command that a
server can do for it goes through that server, `serve` and `reindex` refuse, and a command waits
for another short command to finish. Sharing one index between processes or machines is what the
Chroma-server mode (`chroma_host`) is for; it needs no holder.
"""

import fcntl
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from core.errors import DataDirBusy

LOCK_NAME = "owner.lock"


@dataclass
class Holder:
    """Who holds a data directory, as it wrote itself into the lock file."""

    pid: int
    command: str
    url: str | None = None
    since: float = 0.0

    def describe(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"`{self.command}` (pid {self.pid}{where})"


class Claim:
    """This process's hold on one data directory; released when the last user lets go."""

    def __init__(self, path: Path, handle, holder: Holder):
        self.path = path
        self.handle = handle
        self.holder = holder
        self.users = 1

    def announce(self, url: str) -> None:
        """A server names its URL once it listens, so other commands can go through it."""
        self.holder.url = url
        _write(self.handle, self.holder)


_claims: dict[Path, Claim] = {}
_guard = threading.Lock()


def _write(handle, holder: Holder) -> None:
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(vars(holder)))
    handle.flush()


def _read(path: Path) -> Holder | None:
    try:
        data = json.loads(path.read_text() or "null")
        return Holder(**data) if isinstance(data, dict) else None
    except (OSError, ValueError, TypeError):
        return None


def process_label() -> str:
    """How this process names itself to others: `app.py ingest`, `pytest`, ..."""
    import sys

    return " ".join([Path(sys.argv[0]).name or "python", *sys.argv[1:2]]) if sys.argv else "python"


def claim(data_dir: Path, command: str | None = None) -> Claim:
    """Hold `data_dir` for this process (re-entrant: a process may open its index several times).

    Raises DataDirBusy, naming the holder, when another process holds it."""
    path = (Path(data_dir) / LOCK_NAME).resolve()
    with _guard:
        held = _claims.get(path)
        if held is not None:
            held.users += 1
            return held
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            holder = None
            for _ in range(20):  # the holder may be between taking the lock and writing its name
                holder = _read(path)
                if holder is not None:
                    break
                time.sleep(0.05)
            raise DataDirBusy(Path(data_dir), holder or Holder(pid=0, command="another process")) from None
        holder = Holder(pid=os.getpid(), command=command or process_label(), since=time.time())
        _write(handle, holder)
        _claims[path] = held = Claim(path, handle, holder)
        return held


def release(claim_: Claim) -> None:
    with _guard:
        claim_.users -= 1
        if claim_.users > 0:
            return
        _claims.pop(claim_.path, None)
        try:
            claim_.handle.seek(0)
            claim_.handle.truncate()
        finally:
            fcntl.flock(claim_.handle, fcntl.LOCK_UN)
            claim_.handle.close()


def current_holder(data_dir: Path) -> Holder | None:
    """Who holds `data_dir` now (None when nobody does, or this process does)."""
    path = (Path(data_dir) / LOCK_NAME).resolve()
    if path in _claims or not path.exists():
        return None
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(path) or Holder(pid=0, command="another process")
        fcntl.flock(handle, fcntl.LOCK_UN)
    return None
