"""The default bundled model through ONNX Runtime: exported once per test run into a temporary cache, then
compared with torch, reused, damaged and rebuilt, and chosen by the settings."""

import json
import shutil
import sys

import numpy as np
import pytest

from core.errors import ConfigError
from core.settings import Settings
from index import onnx_encoder
from index.embeddings import HashEmbeddings, SentenceTransformerEmbeddings, make_embeddings, resolve_model_path
from index.locks import file_sha256
from index.onnx_encoder import ModelCache, OnnxEmbeddings

MODEL = Settings.model_fields["embedding_model"].default  # the default bundled model, as `minilm` loads it
TEXTS = ["The council and tribal elders brokered the deal.", "Fighters left Raqqa in a convoy of buses.",
         "Who won the election in Brazil?", "Shares fell 5% after the earnings report on Wednesday, analysts said.",
         "The storm knocked out power to 200,000 homes along the coast."]


def encoder(cache_dir, int8: bool = True, **kwargs) -> OnnxEmbeddings:
    return OnnxEmbeddings(resolve_model_path(MODEL), MODEL, int8=int8, cache_dir=cache_dir, **kwargs)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """Both exports (float32 and int8), made once for this module."""
    folder = tmp_path_factory.mktemp("onnx-cache")
    encoder(folder, int8=True).encode(["warm up"])
    return folder


@pytest.fixture
def own_cache(cache_dir, tmp_path):
    """A copy of the module's cache that a test may damage."""
    return shutil.copytree(cache_dir, tmp_path / "cache")


def forbid_export(monkeypatch):
    def refuse(*_):
        raise AssertionError("exported again")
    monkeypatch.setattr(onnx_encoder, "export_float32", refuse)
    monkeypatch.setattr(onnx_encoder, "quantize_int8", refuse)


def count_quantise(monkeypatch) -> list:
    calls = []
    real = onnx_encoder.quantize_int8
    monkeypatch.setattr(onnx_encoder, "quantize_int8", lambda *a: (calls.append(a), real(*a)))
    return calls


def test_vectors_match_torch(minilm, cache_dir):
    exact = minilm.with_precision("float32").encode(TEXTS)
    fp32, int8 = encoder(cache_dir, int8=False).encode(TEXTS), encoder(cache_dir).encode(TEXTS)
    assert fp32.shape == int8.shape == (len(TEXTS), 384) and fp32.dtype == int8.dtype == np.float32
    assert (exact * fp32).sum(axis=1).min() > 0.9999
    assert (exact * int8).sum(axis=1).min() > 0.98  # bench.encoders: mean 0.99 over 600 RealTime QA passages
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)


def test_long_texts_are_cut_where_sentence_transformers_cuts_them(minilm, cache_dir):
    long = " ".join(["The minister said the talks would resume next week in Geneva."] * 60)
    [ids] = [e.ids for e in encoder(cache_dir).tokenize([long])]
    reference = minilm.model.preprocess([long])
    assert len(ids) == minilm.model.max_seq_length == 128  # paraphrase-MiniLM-L3-v2's own limit
    assert ids == reference["input_ids"][0][: int(reference["attention_mask"][0].sum())].tolist()
    vector = encoder(cache_dir, int8=False).encode([long])[0]
    assert float(vector @ minilm.with_precision("float32").encode([long])[0]) > 0.9999


def test_a_question_and_a_batch_keep_their_order(cache_dir):
    onnx = encoder(cache_dir)
    batch = onnx.encode(TEXTS)  # sorted by length inside, returned in the order given
    singles = np.vstack([onnx.encode([text]) for text in TEXTS])
    assert ((batch * singles).sum(axis=1) > 0.99).all()
    assert (np.argmax(batch @ singles.T, axis=1) == np.arange(len(TEXTS))).all()
    assert onnx.encode([]).shape == (0, 384)
    assert len(onnx.embed_query("Who brokered the deal?")) == 384
    assert len(onnx.embed_documents(TEXTS[:2])) == 2


def test_a_question_runs_on_query_threads_and_a_batch_on_every_core(cache_dir):
    onnx = encoder(cache_dir, query_threads=1, batch_threads=2)
    onnx.encode(["load"])
    assert onnx._sessions["query"].get_session_options().intra_op_num_threads == 1
    assert onnx._sessions["batch"].get_session_options().intra_op_num_threads == 2


def test_the_cache_is_reused_without_exporting_again(cache_dir, monkeypatch):
    forbid_export(monkeypatch)
    before = {p.name: p.stat().st_mtime_ns for p in ModelCache(resolve_model_path(MODEL), cache_dir).folder.iterdir()}
    encoder(cache_dir).encode(TEXTS[:2])
    encoder(cache_dir, int8=False).encode(TEXTS[:2])
    after = {p.name: p.stat().st_mtime_ns for p in ModelCache(resolve_model_path(MODEL), cache_dir).folder.iterdir()}
    assert after == before


def test_an_export_counts_only_once_its_manifest_is_written(own_cache):
    cache = ModelCache(resolve_model_path(MODEL), own_cache)
    assert cache.valid(int8=True)
    cache.path(int8=True).with_suffix(".json").unlink()  # killed between renaming the file and writing its manifest
    assert not cache.valid(int8=True) and cache.valid(int8=False)


@pytest.mark.parametrize("damage", ["truncated", "checksum passes, will not load"])
def test_a_damaged_export_is_made_again(own_cache, monkeypatch, damage):
    cache = ModelCache(resolve_model_path(MODEL), own_cache)
    path = cache.path(int8=True)
    if damage == "truncated":  # as a copy cut short; an interrupted export never has the final name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
        (cache.folder / ".export-killed").mkdir()  # what an export killed midway leaves: removed by the next
        (cache.folder / ".export-killed" / path.name).write_bytes(b"partial")
    else:
        path.write_bytes(b"not an onnx model")
        path.with_suffix(".json").write_text(json.dumps({"bytes": path.stat().st_size, "sha256": file_sha256(path)}))
    calls = count_quantise(monkeypatch)
    vectors = encoder(own_cache).encode(TEXTS[:2])
    assert len(calls) == 1 and cache.valid(int8=True)
    assert vectors.shape == (2, 384)
    assert not list(cache.folder.glob(".export-*"))


def test_two_exporters_at_once_export_once(cache_dir, tmp_path, monkeypatch):
    """Two processes (here two threads, each with its own lock file handle) find no export: the
    second waits for the first's lock, then reuses what it wrote."""
    import threading
    import time

    exported = ModelCache(resolve_model_path(MODEL), cache_dir).path(int8=False)
    calls = []

    def slow_export(_model_dir, target):
        calls.append(target)
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        shutil.copyfile(exported, target)

    monkeypatch.setattr(onnx_encoder, "export_float32", slow_export)
    fresh = tmp_path / "fresh"
    threads = [threading.Thread(target=ModelCache(resolve_model_path(MODEL), fresh).ensure, args=(False,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(calls) == 1 and ModelCache(resolve_model_path(MODEL), fresh).valid(int8=False)
    assert not [p for p in ModelCache(resolve_model_path(MODEL), fresh).folder.iterdir() if p.name.startswith(".")]


def test_settings_select_the_runtime(tmp_path):
    def made(**values):
        return make_embeddings(Settings(data_dir=tmp_path, _env_file=None, **values))

    assert isinstance(made(), OnnxEmbeddings) and made().int8  # auto, on the CPU, for the bundled model
    assert made(embedding_runtime="onnx").int8 is False
    assert isinstance(made(embedding_runtime="torch"), SentenceTransformerEmbeddings)
    assert isinstance(made(embedding_device="cuda"), SentenceTransformerEmbeddings)
    assert isinstance(made(embedding_model="hash", embedding_runtime="onnx"), HashEmbeddings)
    assert made(query_threads=2, embedding_batch_size=8).query_threads == 2
    with pytest.raises(ConfigError, match="embedding_device"):
        made(embedding_runtime="onnx-int8", embedding_device="cuda")
    # an index built by torch answers questions embedded by ONNX, and the other way round
    assert made().identity == made(embedding_runtime="torch").identity == MODEL


def test_a_missing_onnxruntime_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(ConfigError, match="pip install onnxruntime"):
        make_embeddings(Settings(data_dir=tmp_path, embedding_runtime="onnx-int8", _env_file=None))
    assert isinstance(make_embeddings(Settings(data_dir=tmp_path, _env_file=None)), SentenceTransformerEmbeddings)
