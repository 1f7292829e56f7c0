"""Extractive answering in worker processes, so a server uses more than one core.

spaCy's parser holds Python's global lock, so requests answered side by side on threads of one
process take turns on one core. With `answer_workers` > 0 the extractive step (sentence choice,
parsing, the short answer) runs in that many worker processes, each with its own spaCy pipeline,
while the server process embeds and retrieves (torch and SQLite release the lock meanwhile).

Workers hold no index, only the pipeline: every call carries the passages it needs, so a worker
can never answer from stale data.

Each worker is a lane of its own that reads one question at a time, so a failure is pinned on the
question that caused it: a worker that dies while reading a question fails that request alone
(`AnswerFailed`, never retried: a question that once made a worker grow past 1 GB and segfault was
retried and killed the next worker too); one stuck past `timeout_s` is killed (`AnswerTimeout`).
Either way the lane gets a fresh worker on its next call. A worker that died while idle is replaced
and the question it had not started is answered by the fresh one.
"""

import multiprocessing
import os
import queue
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from core.errors import AnswerFailed, AnswerTimeout, ConfigError

# An answer takes ~12 ms (README) and a fresh worker loads spaCy in a few seconds: only a stuck
# worker reaches this, and the request's client is told rather than kept waiting.
ANSWER_TIMEOUT_S = 60.0

_EXTRACTOR = None  # one per worker process
_STARTED = None  # per worker: how many questions it has begun to read, shared with the server process


def _exit_with_parent(parent: int) -> None:
    """A worker whose server died (even by kill -9) must not linger: it watches for that."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _start_lane(started, initializer) -> None:
    global _STARTED
    _STARTED = started
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    if initializer is not None:
        initializer()


def _start_worker() -> None:
    global _EXTRACTOR
    from assistant.answering.extractive.answerer import Extractor

    _EXTRACTOR = Extractor()
    _EXTRACTOR.nlp  # load spaCy now, not on the first question


def _answer(question, passages):
    return _EXTRACTOR.answer(question, passages)


def _run(call, question, passages):
    _STARTED.value += 1  # before reading: a death after this is this question's doing
    return call(question, passages)


class _Lane:
    """One worker process, used by one request at a time."""

    def __init__(self, initializer):
        context = multiprocessing.get_context("spawn")  # not fork: the server process already runs torch and Chroma threads
        self.started = context.RawValue("q", 0)
        self.executor = ProcessPoolExecutor(1, mp_context=context, initializer=_start_lane, initargs=(self.started, initializer))
        self.closed = False

    def pids(self) -> list[int]:
        return [p.pid for p in (self.executor._processes or {}).values()]

    def close(self, kill: bool = False, wait: bool = False) -> None:
        self.closed = True
        if kill:
            for pid in self.pids():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.executor.shutdown(wait=wait, cancel_futures=True)


class PooledExtractor:
    """Same `answer()` as `assistant.answering.extractive.answerer.Extractor`, run in worker processes.

    `call(question, passages)` runs in the worker after `initializer()`: tests pass their own."""

    def __init__(self, workers: int, timeout_s: float = ANSWER_TIMEOUT_S, call=_answer, initializer=_start_worker):
        if workers < 1:
            raise ValueError("a pool needs at least one worker")
        self.workers = workers
        self.timeout_s = timeout_s
        self.call = call
        self.initializer = initializer
        self._lanes: list[_Lane | None] = [None] * workers  # lane i is used only by the request holding slot i
        self._free: queue.LifoQueue[int] = queue.LifoQueue()  # last in, first out: sequential calls reuse a warm worker
        for slot in range(workers):
            self._free.put(slot)

    def answer(self, question, passages, question_vector=None):
        """`question_vector` is accepted for the same signature; the workers never embed."""
        try:
            slot = self._free.get(timeout=self.timeout_s)
        except queue.Empty:
            raise AnswerTimeout(f"all {self.workers} answer worker(s) stayed busy for {self.timeout_s:.0f} s; try again "
                                "shortly (the setting answer_workers sets how many there are)") from None
        try:
            return self._answer_in(slot, question, passages)
        finally:
            self._free.put(slot)

    def _answer_in(self, slot: int, question, passages):
        for _ in range(2):  # a second try only when the worker died before it began reading this question
            lane = self._lanes[slot]
            if lane is None or lane.closed:
                lane = self._lanes[slot] = _Lane(self.initializer)
            begun = lane.started.value
            try:
                return lane.executor.submit(_run, self.call, question, passages).result(timeout=self.timeout_s)
            except BrokenProcessPool:
                lane.close()
                if lane.started.value != begun:
                    raise AnswerFailed("the answerer stopped (crashed or ran out of memory) while reading this question, "
                                       "and the question was not retried; a shorter or plainer question may work") from None
            except TimeoutError:
                lane.close(kill=True)
                raise AnswerTimeout(f"the answerer took longer than {self.timeout_s:.0f} s on this question and was "
                                    "stopped; the question was not retried: try again, or a shorter question") from None
        raise ConfigError("an answer worker process stopped before it could read a question; the server log shows "
                          "why (often a missing spaCy model); answer_workers=0 answers in the server process instead")

    def pids(self) -> list[int]:
        return [pid for lane in self._lanes if lane is not None and not lane.closed for pid in lane.pids()]

    def close(self) -> None:
        lanes, self._lanes = self._lanes, [None] * self.workers
        for lane in lanes:
            if lane is not None:
                lane.close(wait=True)
