"""The reranker's features and its weights file (assistant/rerank.py)."""

import json
from datetime import date

import numpy as np
import pytest

from assistant.rerank import FEATURES, Candidate, Reranker, features, weights_path
from core.errors import ConfigError
from core.settings import Settings

AS_OF = date(2023, 1, 12)
NAMES = list(FEATURES)


def row(question, candidate, others=()):
    rows = features(question, [candidate, *others], AS_OF)
    return dict(zip(NAMES, rows[0]))


def test_recent_and_age_come_from_the_question_date():
    text = "The awards show aired on Tuesday."
    this_week = row("Which awards show aired?", Candidate(text, 0.5, 0.0, "2023-01-10"))
    last_year = row("Which awards show aired?", Candidate(text, 0.5, 0.0, "2022-01-10"))
    undated = row("Which awards show aired?", Candidate(text, 0.5, 0.0, None))
    later = row("Which awards show aired?", Candidate(text, 0.5, 0.0, "2023-03-01"))
    assert this_week["recent"] == 1.0 and last_year["recent"] == 0.0 and undated["recent"] == 0.0
    assert later["recent"] == 0.0  # written after the question was asked
    assert this_week["log_age"] < last_year["log_age"] and undated["log_age"] == 0.0


def test_names_and_numbers_count_only_when_the_question_lacks_them():
    question = "How much did Port Elwyn pay for the terminal?"
    offers = row(question, Candidate("Port Elwyn paid 84 million dollars to Harbour Works.", 0.5, 0.0, None))
    repeats = row(question, Candidate("Port Elwyn paid for the terminal.", 0.5, 0.0, None))
    assert repeats["new_names"] == 0.0
    assert offers["new_names"] == pytest.approx(3 / 9)  # 84, Harbour, Works among nine words


def test_scores_are_relative_to_the_other_candidates():
    best = Candidate("a", 0.8, 12.0, None)
    other = Candidate("b", 0.6, 0.0, None)
    first, second = (dict(zip(NAMES, r)) for r in features("q", [best, other], AS_OF))
    assert first["cosine_gap"] == 0.0 and second["cosine_gap"] == pytest.approx(-0.2)
    assert first["bm25_share"] == 1.0 and first["bm25_found"] == 1.0
    assert second["bm25_share"] == 0.0 and second["bm25_found"] == 0.0


def test_no_candidates_give_no_rows():
    assert features("q", [], AS_OF).shape == (0, len(FEATURES))


def test_rank_orders_by_the_weighted_sum():
    model = Reranker(0.0, {**dict.fromkeys(FEATURES, 0.0), "bm25_found": 1.0, "recent": 2.0}, {})
    candidates = {"old": Candidate("The deal was signed.", 0.9, 0.0, "2020-01-01"),
                  "new": Candidate("The deal was signed.", 0.1, 0.0, "2023-01-11")}
    scores = model.rank("Who signed the deal?", candidates, AS_OF)
    assert scores["new"] == pytest.approx(scores["old"] + 2.0)


@pytest.mark.parametrize("embedding_model", ["bundled:paraphrase-MiniLM-L3-v2", "bundled:all-MiniLM-L6-v2"])
def test_the_shipped_weights_load_and_favour_what_should_help(embedding_model):
    model = Reranker.for_model(embedding_model)
    assert set(model.weights) == set(FEATURES)
    assert model.weights["cosine"] > 0 and model.weights["bm25_share"] > 0 and model.weights["recent"] > 0
    assert model.provenance.get("command", "").startswith("python -m bench.rerank")


def test_each_bundled_model_has_its_own_weights_and_others_get_the_defaults():
    default = weights_path(Settings(_env_file=None).embedding_model)
    assert weights_path("bundled:all-MiniLM-L6-v2") != default
    assert weights_path("/some/other/model") == default == weights_path("hash")
    assert json.loads(default.read_text())["provenance"]["command"] != json.loads(
        weights_path("bundled:all-MiniLM-L6-v2").read_text())["provenance"]["command"]


def test_weights_for_other_features_are_a_clear_error(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"bias": 0, "weights": {"cosine": 1.0}}))
    with pytest.raises(ConfigError, match="refit it with python -m bench.rerank"):
        Reranker.load(path)
    path.write_text("{not json")
    with pytest.raises(ConfigError, match="cannot read the reranker's weights"):
        Reranker.load(path)


def test_scores_are_log_odds_of_a_linear_model():
    model = Reranker(-1.0, {name: float(i) for i, name in enumerate(FEATURES)}, {})
    rows = np.ones((2, len(FEATURES)))
    assert model.scores(rows).tolist() == [sum(range(len(FEATURES))) - 1.0] * 2
