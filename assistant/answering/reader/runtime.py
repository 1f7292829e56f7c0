"""Running a GGUF model in this process through xllamacpp, llama.cpp's own server compiled into a
prebuilt wheel: nothing compiles at install (llama-cpp-python, used before, built llama.cpp from
source for 5+ minutes). Both run the same AVX2 kernels and answered the reader workload equally
fast: asked the same 20 questions in turn, p50 2.07/1.99/2.25 s against 2.21/1.67/2.43 s for the
compiled llama-cpp-python in three runs (bench/reader_runtime.py --against, BENCHMARKS.md). The
reader and the `llamacpp` answer mode both run on it.

A reader call is short (a ~200-token prompt, an answer of a few tokens), so what matters is the
prompt: the fixed instructions come first, and llama.cpp's server keeps their evaluated state in
its one slot for the next call. Each answer token's log-probability (natural log, softmax over the
whole vocabulary of the raw logits, as the calibration was fitted) comes back with the streamed
token. A streamed chat reply carries none for the end-of-turn token, which the logits processor
of llama-cpp-python also recorded: the reader's features now leave that token out.

One model answers one question at a time: `generate` holds a lock, and `busy_wait_s` bounds how
long a caller queues for it before it is told to go without (the answerer then keeps its extractive
short answer). The server is asked in process; it still opens its HTTP listener, which is put on a
Unix socket in a private folder and behind a random API key, so no TCP port opens and no other user
or web page can reach it.
"""

from __future__ import annotations

import os
import queue
import secrets
import shutil
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError

PACKAGE = "xllamacpp"  # what factory.reader_missing looks for, without importing it
INSTALL = "pip install --require-hashes -r requirements-llamacpp.txt"
TOP_ALTERNATIVES = 8  # the first token's alternatives kept: how likely a decline was (calibration.py)


@dataclass
class Generation:
    text: str = ""
    logprobs: list[float] = field(default_factory=list)  # one per generated token, natural log
    timings: dict = field(default_factory=dict)  # llama.cpp's prompt_n/prompt_ms/predicted_n/predicted_ms
    first_top: list[tuple[str, float]] = field(default_factory=list)  # the first token's likeliest alternatives


class ReaderBusy(Exception):
    """The model was busy with other questions for longer than the caller may wait."""


class LlamaReader:
    """Loads on first use, never at construction (which only sets OMP_WAIT_POLICY, see below)."""

    def __init__(self, model_path: Path, threads: int | None = None, n_ctx: int = 2048):
        # llama.cpp's OpenMP threads spin while they wait for each other unless told otherwise,
        # and on cores that anything else uses that collapses: 0.5B answers took p50 10.2 s with
        # 2 spinning threads at load 7, 2.3 s with OMP_WAIT_POLICY=passive at load 6.3
        # (bench/reader_runtime.py). OpenMP reads it once, when the first library using it loads,
        # and that is seldom llama.cpp: spaCy imports torch (thinc.compat), whose libgomp.so.1
        # llama.cpp then shares. So it is set here, when the engine is built, before the first
        # question loads spaCy; set it in the environment to choose otherwise.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        self.model_path = Path(model_path)
        self.threads = threads or default_threads()
        self.n_ctx = n_ctx
        self._server = None
        self._socket_dir: str | None = None
        self._load_lock = threading.Lock()
        self._lock = threading.Lock()

    @property
    def server(self):
        with self._load_lock:
            if self._server is None:
                self._server = self._start()
        return self._server

    def _start(self):
        try:
            import xllamacpp
        except ImportError as exc:
            raise ConfigError(f"local GGUF models need xllamacpp: {INSTALL} (or set answer_mode=extractive); "
                              f"importing it failed: {exc}") from exc
        if not self.model_path.is_file():
            raise ConfigError(f"the GGUF model {self.model_path} is not a file")
        params = xllamacpp.CommonParams()
        params.model.path = str(self.model_path)
        params.n_ctx = self.n_ctx
        params.n_parallel = 1  # one slot: its cached prompt prefix is reused by the next call
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = self.threads
        params.fit_params = False  # no GPU to fit layers to
        params.cache_ram_mib = 0  # no extra host-memory prompt cache (8 GiB by default)
        params.verbosity = -1  # errors only
        params.endpoint_slots = params.ui = False
        self._socket_dir = tempfile.mkdtemp(prefix="newsqa-llama-")  # mode 0700
        params.hostnames = [os.path.join(self._socket_dir, "llama.sock")]
        params.api_keys = [secrets.token_urlsafe(32)]  # in-process calls skip it; the socket needs it
        try:
            return xllamacpp.Server(params)
        except Exception as exc:
            self._remove_socket_dir()
            raise ConfigError(f"llama.cpp could not load {self.model_path}: {exc}") from exc

    def generate(self, messages: list[dict], into: Generation, max_tokens: int = 24,
                 busy_wait_s: float | None = None, temperature: float = 0.0) -> Iterator[str]:
        """Text pieces as they are generated (greedily at temperature 0); `into` collects the text,
        each token's log-probability and llama.cpp's timings. Raises ReaderBusy when the model stays
        busy past `busy_wait_s` (None waits)."""
        server = self.server
        if not self._lock.acquire(timeout=-1 if busy_wait_s is None else busy_wait_s):
            raise ReaderBusy()
        request = {"messages": messages, "max_tokens": max_tokens, "temperature": temperature, "stream": True,
                   "logprobs": True, "top_logprobs": TOP_ALTERNATIVES}
        try:
            for chunk in _stream(server, request):
                if "timings" in chunk:
                    into.timings = chunk["timings"]
                for choice in chunk.get("choices", []):
                    for token in (choice.get("logprobs") or {}).get("content") or []:
                        if not into.logprobs:
                            into.first_top = [(t["token"], t["logprob"]) for t in token.get("top_logprobs") or []]
                        into.logprobs.append(token["logprob"])
                    piece = (choice.get("delta") or {}).get("content")
                    if piece:
                        into.text += piece
                        yield piece
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._load_lock:
            server, self._server = self._server, None
            del server  # the server stops its loop and frees the model when its last reference goes
            self._remove_socket_dir()

    def _remove_socket_dir(self) -> None:
        if self._socket_dir:
            shutil.rmtree(self._socket_dir, ignore_errors=True)
            self._socket_dir = None


_DONE = object()


def _stream(server, request: dict) -> Iterator[dict]:
    """The server's streamed chunks, as an iterator. xllamacpp hands each chunk to a callback on the
    thread that made the call (with the GIL released in between), so the call runs on a worker
    thread; a consumer that stops early makes the callback return True, which stops generation."""
    chunks: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()

    def on_chunk(chunk: dict) -> bool:
        chunks.put(chunk)
        return stop.is_set()

    def call() -> None:
        try:
            server.handle_chat_completions(request, on_chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer's thread and raised there
            chunks.put(exc)
        finally:
            chunks.put(_DONE)

    worker = threading.Thread(target=call, name="llama-generate", daemon=True)
    worker.start()
    try:
        while (item := chunks.get()) is not _DONE:
            if isinstance(item, BaseException):
                raise item
            if "error" in item:
                error = item["error"]
                message = error.get("message", error) if isinstance(error, dict) else error
                raise RuntimeError(f"llama.cpp refused the request: {message}")
            yield item
    finally:
        stop.set()
        worker.join()


def default_threads() -> int:
    """Every core: with OMP_WAIT_POLICY=passive (set before llama.cpp loads) 2 threads answered in
    p50 2.3 s at load 6.3 where 1 thread took 4.6 s at load 7 (bench/reader_runtime.py)."""
    return max(1, os.cpu_count() or 1)
