"""The ONNX encoder's pure parts: which model folders it reproduces, what names its cache, which
runtime `auto` picks. No model loads here (tests/integration/test_onnx_encoder.py runs the real one)."""

import json

import pytest

from core.errors import ConfigError
from index import onnx_encoder
from index.embeddings import choose_runtime
from index.onnx_encoder import model_config, model_hash


def sentence_folder(tmp_path, pooling: dict | None = None, modules: list[str] | None = None, tokenizer: bool = True):
    """A minimal sentence-transformers folder: configs and a stand-in weights file."""
    folder = tmp_path / "model"
    (folder / "1_Pooling").mkdir(parents=True)
    kinds = modules or ["Transformer", "Pooling", "Normalize"]
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": paths[k], "type": f"sentence_transformers.models.{k}"} for i, k in enumerate(kinds)]))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 256, "do_lower_case": False}))
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling or {"pooling_mode_mean_tokens": True}))
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"weights")
    if tokenizer:
        (folder / "tokenizer.json").write_text("{}")
    return folder


def test_a_mean_pooling_folder_is_reproduced_with_its_max_seq_length(tmp_path):
    assert model_config(sentence_folder(tmp_path)) == {"max_seq_length": 256, "lower": False}


@pytest.mark.parametrize("kwargs, reason", [
    ({"pooling": {"pooling_mode_cls_token": True}}, "mean pooling"),
    ({"pooling": {"pooling_mode_mean_tokens": True, "pooling_mode_max_tokens": True}}, "mean pooling"),
    ({"modules": ["Transformer", "Pooling", "Dense"]}, "Dense"),
    ({"tokenizer": False}, "tokenizer.json"),
])
def test_other_folders_are_refused_with_the_way_out(tmp_path, kwargs, reason):
    with pytest.raises(ConfigError, match=reason) as error:
        model_config(sentence_folder(tmp_path, **kwargs))
    assert "embedding_runtime torch" in str(error.value)


def test_a_hub_name_is_not_a_folder(tmp_path):
    with pytest.raises(ConfigError, match="not a local sentence-transformers folder"):
        model_config(tmp_path / "sentence-transformers" / "all-mpnet-base-v2")


def test_the_cache_is_named_by_the_model_files_and_the_export_version(tmp_path, monkeypatch):
    folder = sentence_folder(tmp_path)
    first = model_hash(folder)
    assert model_hash(folder) == first and len(first) == 16
    (folder / "model.safetensors").write_bytes(b"other weights")
    second = model_hash(folder)
    assert second != first
    monkeypatch.setattr(onnx_encoder, "EXPORT_VERSION", onnx_encoder.EXPORT_VERSION + 1)
    assert model_hash(folder) not in (first, second)


def test_the_default_cache_follows_xdg(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_encoder.default_cache_dir() == tmp_path / "newsqa" / "onnx"


def test_auto_picks_int8_onnx_on_the_cpu_for_a_folder_it_reproduces(tmp_path, monkeypatch):
    folder = sentence_folder(tmp_path)
    assert choose_runtime("auto", str(folder)) == "onnx-int8"
    assert choose_runtime("auto", str(folder), device="cuda") == "torch"
    assert choose_runtime("auto", str(sentence_folder(tmp_path / "cls", pooling={"pooling_mode_cls_token": True}))) == "torch"
    assert choose_runtime("auto", "sentence-transformers/all-mpnet-base-v2") == "torch"
    for explicit in ("torch", "onnx", "onnx-int8"):
        assert choose_runtime(explicit, str(folder)) == explicit
    monkeypatch.setitem(__import__("sys").modules, "onnxruntime", None)  # as if not installed
    assert choose_runtime("auto", str(folder)) == "torch"


def test_an_unknown_runtime_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="auto, torch, onnx, onnx-int8"):
        choose_runtime("openvino", "bundled:all-MiniLM-L6-v2")
