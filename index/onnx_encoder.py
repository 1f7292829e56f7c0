"""Sentence embeddings through ONNX Runtime: the same vectors as sentence-transformers, without torch
at query time, and int8 weights where that is as good.

Why: on an AVX2-only AMD EPYC, torch embedded passages too slowly for ingest to keep up with the
LangChain-tutorial baseline, and a question took 33-39 ms. With int8 weights ONNX Runtime embedded
25.3 passages/s where torch managed 8.6 (float32) and 10.1 (bfloat16), and a question in 8.5 ms
against 33 ms (p50), on a 2-core AMX Xeon at load average 9 (`python -m bench.encoders`).

The model folder is exported once, at first use, from the weights it holds (no hub download): the
transformer, mean pooling over the attention mask and L2 normalisation in one graph, so the
runtime returns finished sentence vectors. The export (and its int8 copy, `quantize_dynamic`) is
cached under `~/.cache/newsqa/onnx/<hash of the model's files>/` (`$XDG_CACHE_HOME` is respected),
written as a temporary file then renamed, with a manifest of its sha256 written last: an export
killed midway leaves no file that passes as finished, and a damaged one is exported again. A file
lock keeps two processes from exporting the same model at once; the second waits and reuses it.

Tokenising is the model folder's own fast tokenizer (`tokenizer.json`) with the model's
`max_seq_length` (256 for all-MiniLM-L6-v2, from `sentence_bert_config.json`; the tokenizer file
itself says 128 and pads to a fixed 128, both overridden here as sentence-transformers does).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import warnings
from functools import cached_property
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from core.errors import ConfigError
from index.locks import cache_home, cache_lock, file_sha256

EXPORT_VERSION = 1  # bump when the exported graph changes: old caches are then ignored
OPSET = 17
INSTALL = "pip install onnxruntime onnx (or: pip install -r requirements.txt)"
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
LOCK_TIMEOUT_S = 900  # an export takes seconds; a lock held longer than this belongs to a stuck process


def default_cache_dir() -> Path:
    """Setting-free: one export per machine and model, shared by every data directory."""
    return cache_home() / "onnx"


def check_installed() -> None:
    """ONNX Runtime is needed to run; `onnx` (a dependency of the quantiser) only to export."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"embedding_runtime onnx needs the package onnxruntime: {INSTALL}; "
                          "or set embedding_runtime (NEWSQA_EMBEDDING_RUNTIME) to torch") from exc


def model_config(model_dir: Path) -> dict:
    """What the export needs from a sentence-transformers folder; ConfigError when the folder is not
    one this encoder reproduces exactly (a transformer, mean pooling, optional normalisation)."""
    model_dir = Path(model_dir)
    try:
        modules = json.loads((model_dir / "modules.json").read_text())
        sbert = json.loads((model_dir / "sentence_bert_config.json").read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{model_dir} is not a local sentence-transformers folder (modules.json, "
                          f"sentence_bert_config.json): {exc}; use embedding_runtime torch") from exc
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    pooling = next((m for m in modules if m.get("type", "").endswith("Pooling")), None)
    mode = {}
    if pooling is not None:
        try:
            mode = json.loads((model_dir / pooling.get("path", "") / "config.json").read_text())
        except (OSError, ValueError):
            mode = {}
    pooled_by_mean = mode.get("pooling_mode_mean_tokens") and not any(
        mode.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or not pooled_by_mean:
        raise ConfigError(f"the ONNX encoder reproduces a transformer with mean pooling; {model_dir} has "
                          f"{' + '.join(kinds)}: use embedding_runtime torch")
    if not (model_dir / "tokenizer.json").exists() or not any((model_dir / f).exists() for f in WEIGHT_FILES):
        raise ConfigError(f"{model_dir} lacks tokenizer.json or its weights: use embedding_runtime torch")
    return {"max_seq_length": int(sbert.get("max_seq_length") or 512), "lower": bool(sbert.get("do_lower_case"))}


def model_hash(model_dir: Path) -> str:
    """What the cache folder is named after: the weights, configs and tokenizer, byte for byte, and
    the export's own version. Another copy of the same files (another venv) shares the export."""
    model_dir = Path(model_dir)
    digest = hashlib.sha256(f"newsqa-onnx-export:{EXPORT_VERSION}:{OPSET}".encode())
    names = ["config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json", *WEIGHT_FILES]
    names += sorted(str(p.relative_to(model_dir)) for p in model_dir.glob("*_Pooling/config.json"))
    for name in names:
        path = model_dir / name
        if path.exists():
            digest.update(name.encode() + b"\0")
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()[:16]


class ModelCache:
    """One model's exports in one folder: `model.onnx` (float32) and `model-int8.onnx`, each valid
    only while its `<name>.json` manifest names its size and sha256."""

    def __init__(self, model_dir: Path, cache_dir: Path | None = None):
        self.model_dir = Path(model_dir)
        self.folder = Path(cache_dir or default_cache_dir()) / model_hash(self.model_dir)

    def path(self, int8: bool) -> Path:
        return self.folder / ("model-int8.onnx" if int8 else "model.onnx")

    def valid(self, int8: bool) -> bool:
        path = self.path(int8)
        try:
            manifest = json.loads(path.with_suffix(".json").read_text())
            return path.stat().st_size == manifest["bytes"] and file_sha256(path) == manifest["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return False

    def ensure(self, int8: bool, rebuild: bool = False) -> Path:
        """The export's path, exporting (under the lock) when it is missing, damaged or `rebuild`."""
        if not rebuild and self.valid(int8):
            return self.path(int8)
        with cache_lock(self.folder / "export.lock", self.folder, LOCK_TIMEOUT_S):
            if rebuild:
                self.invalidate(int8)
            if not self.valid(int8):  # another process may have finished it while we waited
                for leftover in self.folder.glob(".export-*"):  # of an export killed midway
                    shutil.rmtree(leftover, ignore_errors=True)
                self._build(int8)
        return self.path(int8)

    def invalidate(self, int8: bool) -> None:
        for path in (self.path(int8).with_suffix(".json"), self.path(int8)):
            path.unlink(missing_ok=True)

    def _build(self, int8: bool) -> None:
        self.invalidate(int8)  # manifest first: from here on the file counts as missing
        target = self.path(int8)
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".export-") as work:
            temp = Path(work) / target.name
            if int8:
                if not self.valid(False):  # under the lock already: build the float32 source here
                    self._build(False)
                quantize_int8(self.path(False), temp)
            else:
                export_float32(self.model_dir, temp)
            with open(temp, "rb") as f:
                os.fsync(f.fileno())
            os.replace(temp, target)
        manifest = {"bytes": target.stat().st_size, "sha256": file_sha256(target), "model_dir": str(self.model_dir),
                    "export_version": EXPORT_VERSION}
        _write_atomic(target.with_suffix(".json"), json.dumps(manifest, indent=1))


def _write_atomic(path: Path, text: str) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", delete=False) as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(f.name, path)


def export_float32(model_dir: Path, target: Path) -> None:
    """Transformer + mean pooling + L2 normalisation as one float32 graph, from the folder's weights."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local folder must never reach for the hub
    try:
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging
    except ImportError as exc:
        raise ConfigError(f"exporting {model_dir} to ONNX needs torch and transformers: pip install -r requirements.txt") from exc

    hf_logging.disable_progress_bar()
    try:
        model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager",
                                          dtype=torch.float32)
    except Exception as exc:
        raise ConfigError(f"could not load {model_dir} to export it to ONNX: {exc}") from exc
    model.eval()

    class Pooled(torch.nn.Module):
        def __init__(self, transformer):
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.transformer(input_ids=input_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)  # as sentence-transformers' Pooling
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    names = ["input_ids", "attention_mask", "token_type_ids"]
    example = tuple(torch.ones((2, 8), dtype=torch.int64) if n != "token_type_ids" else torch.zeros((2, 8), dtype=torch.int64)
                    for n in names)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about Python ints in shapes: the axes below are dynamic
        torch.onnx.export(Pooled(model), example, str(target), dynamo=False, input_names=names,
                          output_names=["sentence_embedding"], opset_version=OPSET, do_constant_folding=True,
                          dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names}, "sentence_embedding": {0: "batch"}})


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8: the weights of the matrix products stored as int8, one scale per output
    channel, activations quantised per call.

    Per channel, because one scale per matrix lost too much: a mean cosine of 0.956 with the float32
    vectors over 200 RealTime QA passages, against 0.992 per channel. Weights in 7 bits
    (`reduce_range`), because CPUs without VNNI (AVX2-only ones such as the AMD EPYC this was
    written for) multiply u8 by s8 with an instruction that saturates 16-bit sums of pairs: with 8-bit
    weights the same export gave vectors that differ between CPUs (cosine 0.990-0.994 between this
    AMX Xeon and the same code under `qemu-x86_64 -cpu EPYC-Milan`), with 7-bit ones they are
    bit-identical."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as exc:
        raise ConfigError(f"quantising the ONNX export needs the packages onnxruntime and onnx: {INSTALL}") from exc
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # it advises "pre-processing" on the root logger; shape inference gains nothing here
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                         per_channel=True, reduce_range=True)
    finally:
        root.setLevel(level)


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class OnnxEmbeddings(Embeddings):
    """The LangChain `Embeddings` the index and retriever use, on ONNX Runtime.

    Two sessions over one export: batches of passages run on every core, one question on
    `query_threads` (1 by default: one question is too small to split, and requests run side by
    side). Nothing loads at construction; the first `encode` exports (once per machine) and opens."""

    def __init__(self, model_dir: str | Path, model_name: str, int8: bool = True, batch_size: int = 32,
                 query_threads: int = 1, batch_threads: int | None = None, cache_dir: Path | None = None):
        check_installed()
        self.model_dir = Path(model_dir)
        self.model_name = model_name
        self.int8 = int8
        self.batch_size = batch_size
        self.query_threads = query_threads
        self.batch_threads = batch_threads or usable_cores()
        self.cache_dir = cache_dir
        self.runtime = "onnx-int8" if int8 else "onnx"
        self._opened: dict | None = None
        self._loading = threading.Lock()  # the server's first questions may arrive together

    @property
    def identity(self) -> str:
        """What an index records as its model (see `ArticleIndex.check_embeddings`): the same as the
        torch encoder's, so an index built by one answers questions embedded by the other. Over 600
        RealTime QA passages, float32 ONNX vectors have a cosine of 1.0000 with torch float32's and
        int8 ones a mean of 0.993 (min 0.979); on 197 articles and their 29 questions recall@4 was
        0.552 with either (`python -m bench.encoders`)."""
        return self.model_name

    @cached_property
    def _config(self) -> dict:
        return model_config(self.model_dir)

    @cached_property
    def _tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
        tokenizer.no_padding()  # padded per batch below, to the batch's longest text
        tokenizer.enable_truncation(max_length=self._config["max_seq_length"])
        return tokenizer

    @property
    def _sessions(self) -> dict:
        """{"batch": session, "query": session}, opened on first use."""
        if self._opened is None:
            with self._loading:
                if self._opened is None:
                    self._opened = self._load_sessions()
        return self._opened

    def _load_sessions(self) -> dict:
        """From the cached export, exported first when missing; exported again once if it will not load."""
        import onnxruntime as ort

        _ = self._tokenizer  # a folder this encoder cannot reproduce fails here, before any export
        cache = ModelCache(self.model_dir, self.cache_dir)
        path = cache.ensure(self.int8)
        try:
            return self._open(ort, path)
        except Exception:  # noqa: BLE001 - a file that passed its checksum yet will not load: export it again
            path = cache.ensure(self.int8, rebuild=True)
            try:
                return self._open(ort, path)
            except Exception as exc:
                raise ConfigError(f"ONNX Runtime could not load the export {path}: {exc}") from exc

    def _open(self, ort, path: Path) -> dict:
        def session(threads: int):
            options = ort.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
            options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3
            # threads that spin between calls take the core from the answer workers and from Chroma
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

        return {"batch": session(self.batch_threads), "query": session(self.query_threads)}

    def load(self) -> "OnnxEmbeddings":
        """Export if needed and open the sessions now."""
        _ = self._sessions
        return self

    @property
    def dimension(self) -> int:
        return int(self._sessions["query"].run(None, self._feed([self._tokenizer.encode("x")]))[0].shape[1])

    def tokenize(self, texts: list[str]) -> list:
        if self._config["lower"]:
            texts = [t.lower() for t in texts]
        return self._tokenizer.encode_batch(list(texts), add_special_tokens=True)

    @staticmethod
    def _feed(encodings: list) -> dict[str, np.ndarray]:
        width = max(len(e.ids) for e in encodings)
        feed = {name: np.zeros((len(encodings), width), dtype=np.int64)
                for name in ("input_ids", "attention_mask", "token_type_ids")}
        for row, e in enumerate(encodings):
            n = len(e.ids)
            feed["input_ids"][row, :n] = e.ids
            feed["attention_mask"][row, :n] = e.attention_mask
            feed["token_type_ids"][row, :n] = e.type_ids
        return feed

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 rows in the order given; an empty list gives a (0, dim) array.
        Texts are batched longest first, so a batch pads little."""
        texts = list(texts)
        sessions = self._sessions
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        encodings = self.tokenize(texts)
        if len(texts) == 1:
            return sessions["query"].run(None, self._feed(encodings))[0].astype(np.float32, copy=False)
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            vectors = sessions["batch"].run(None, self._feed([encodings[i] for i in rows]))[0]
            if out is None:
                out = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            out[rows] = vectors
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(list(texts)).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
