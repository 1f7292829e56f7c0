"""Running the reader model: a GGUF in this process through llama-cpp-python.

A reader call is short (a ~200-token prompt, an answer of a few tokens), so what matters is the
prompt: the fixed instructions come first, and llama.cpp reuses their evaluated state from the
previous call. The log-probability of each answer token is recorded by a logits processor, which
costs nothing; asking llama-cpp-python for `logprobs` instead needs `logits_all=True`, which
computes every prompt position's logits and measured 2-3x slower here.

One model answers one question at a time (llama.cpp contexts are not thread-safe): `generate`
holds a lock, and `busy_wait_s` bounds how long a caller queues for it before it is told to go
without (the answerer then keeps its extractive short answer).
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError


@dataclass
class Generation:
    text: str = ""
    logprobs: list[float] = field(default_factory=list)  # one per generated token, natural log


class ReaderBusy(Exception):
    """The model was busy with other questions for longer than the caller may wait."""


class LlamaReader:
    """Loads on first use, never at construction."""

    def __init__(self, model_path: Path, threads: int | None = None, n_ctx: int = 2048):
        self.model_path = Path(model_path)
        self.threads = threads or default_threads()
        self.n_ctx = n_ctx
        self._llama = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()

    @property
    def llama(self):
        with self._load_lock:
            if self._llama is None:
                # llama.cpp's OpenMP threads spin while they wait for each other unless told otherwise,
                # and on cores that anything else uses that collapses: 0.5B answers took p50 10.2 s with
                # 2 spinning threads at load 7, 2.3 s with OMP_WAIT_POLICY=passive at load 6.3
                # (bench/reader_runtime.py). It must be set before the OpenMP runtime loads.
                os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
                try:
                    from llama_cpp import Llama
                except ImportError as exc:
                    raise ConfigError("the reader needs llama-cpp-python: pip install -r requirements-llamacpp.txt "
                                      "(or set answer_mode=extractive)") from exc
                self._llama = Llama(model_path=str(self.model_path), n_ctx=self.n_ctx, n_threads=self.threads,
                                    n_threads_batch=self.threads, verbose=False)
        return self._llama

    def generate(self, messages: list[dict], into: Generation, max_tokens: int = 24,
                 busy_wait_s: float | None = None) -> Iterator[str]:
        """Text pieces as they are generated, greedily; `into` collects the text and each token's
        log-probability. Raises ReaderBusy when the model stays busy past `busy_wait_s` (None waits)."""
        llama = self.llama
        if not self._lock.acquire(timeout=-1 if busy_wait_s is None else busy_wait_s):
            raise ReaderBusy()
        try:
            for chunk in llama.create_chat_completion(messages, temperature=0.0, max_tokens=max_tokens, stream=True,
                                                      logits_processor=[_recorder(into.logprobs)]):
                piece = chunk["choices"][0]["delta"].get("content")
                if piece:
                    into.text += piece
                    yield piece
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._load_lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None


def default_threads() -> int:
    """Every core: with OMP_WAIT_POLICY=passive (set before llama.cpp loads) 2 threads answered in
    p50 2.3 s at load 6.3 where 1 thread took 4.6 s at load 7 (bench/reader_runtime.py)."""
    return max(1, os.cpu_count() or 1)


def _recorder(out: list[float]):
    """A llama-cpp logits processor that records the log-probability of the greedy choice, and
    leaves the logits unchanged."""
    import numpy as np

    def record(_input_ids, scores):
        row = np.asarray(scores, dtype=np.float64)
        top = row.max()
        out.append(float(-math.log(np.exp(row - top).sum())))  # log softmax of the argmax
        return scores

    return record
