"""Extractive answering in worker processes, so a server uses more than one core.

spaCy's parser holds Python's global lock, so requests answered side by side on threads of one
process take turns on one core. With `answer_workers` > 0 the extractive step (sentence choice,
parsing, the short answer) runs in that many worker processes, each with its own spaCy pipeline,
while the server process embeds and retrieves (torch and SQLite release the lock meanwhile).

Workers hold no index, only the pipeline: every call carries the passages it needs, so a worker
can never answer from stale data. A worker that dies (killed, out of memory) is replaced on the
next call.
"""

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

_EXTRACTOR = None  # one per worker process


def _exit_with_parent(parent: int) -> None:
    """A worker whose server died (even by kill -9) must not linger: it watches for that."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start_worker() -> None:
    global _EXTRACTOR
    from assistant.extractive import ExtractiveAnswerer

    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()

    _EXTRACTOR = ExtractiveAnswerer()
    _EXTRACTOR.nlp  # load spaCy now, not on the first question


def _answer(question, passages):
    return _EXTRACTOR.answer(question, passages)


class PooledExtractor:
    """Same `answer()` as `assistant.extractive.ExtractiveAnswerer`, run in worker processes."""

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _current(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                # spawn, not fork: the server process already runs torch and Chroma threads
                self._pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker)
            return self._pool

    def answer(self, question, passages, question_vector=None):
        """`question_vector` is accepted for the same signature; the workers never embed."""
        pool = self._current()
        try:
            return pool.submit(_answer, question, passages).result()
        except BrokenProcessPool:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            return self._current().submit(_answer, question, passages).result()

    def pids(self) -> list[int]:
        pool = self._pool
        return [p.pid for p in (pool._processes or {}).values()] if pool is not None else []

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
