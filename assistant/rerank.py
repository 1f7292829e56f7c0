"""Reranking the fused candidates with a small linear model over cheap, explainable features.

Why: on RealTime QA (all ten weeks' articles pooled, 54,401 passages) a passage holding the answer is
among the fused top 60+60 candidates for 0.65 of the questions but among the top 5 for 0.41. Weighted
fusion ranks a passage found by only one index with a score of 0 from the other: the best BM25 hit,
missing from the dense top 20, ranked 10th to 21st behind passages both indexes found weakly. Here
every candidate gets its real cosine (from its stored vector), its BM25 share, its article's age
against the question's date, and how densely it offers names and numbers the question does not
already hold. `python -m bench.rerank --index realtimeqa=DIR --index multihop=DIR --index squad2=DIR
--fit` measures the features, fits the weights by logistic regression (a candidate holding the answer
against one that does not, the three datasets weighing the same), scores them held out, and
rewrites `rerank_weights.json`, which records what it fitted.

Each feature is a number a person can check by hand; none knows the benchmark's answers.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from core.linear import read_linear_weights
from index.text import search_tokens

WEIGHTS_PATH = Path(__file__).with_name("rerank_weights.json")
# The cosine feature's scale differs between embedding models, so weights are fitted per model: these
# for the six-layer MiniLM, rerank_weights.json for the default and any model without its own.
MODEL_WEIGHTS = {"bundled:all-MiniLM-L6-v2": WEIGHTS_PATH.with_name("rerank_weights-all-MiniLM-L6-v2.json")}
REFIT = "python -m bench.rerank --index realtimeqa=DIR --index multihop=DIR --index squad2=DIR --fit"

FEATURES = {
    "cosine": "cosine of the question and passage vectors",
    "cosine_gap": "cosine minus the best cosine among the candidates (0 for the best)",
    "bm25_share": "BM25 score over the best candidate's (0 where lexical search did not find it)",
    "bm25_found": "1 where lexical search found the passage",
    "recent": "1 where the article is from the 10 days before the question's date (or the day after)",
    "log_age": "log(1 + days between the article and the question's date); 0 when undated",
    "new_names": "names and numbers in the passage that the question does not hold, per word of the passage",
}

_NAME_OR_NUMBER = re.compile(r"\b[A-Z][A-Za-z]+|\b\d[\d,.]*")
RECENT_BEFORE_DAYS = 10
RECENT_AFTER_DAYS = 1


@dataclass(frozen=True)
class Candidate:
    """What the reranker reads of one fused candidate."""

    text: str
    cosine: float
    bm25: float  # 0 where lexical search did not find it
    published: str | None


def _age_days(published: str | None, as_of: date | None) -> int | None:
    if not published or as_of is None:
        return None
    try:
        return (as_of - date.fromisoformat(published[:10])).days
    except ValueError:
        return None


def features(question: str, candidates: list[Candidate], as_of: date | None) -> np.ndarray:
    """One row of FEATURES per candidate; without `as_of` every article counts as undated (no time
    preference)."""
    question_words = set(search_tokens(question))
    best_cosine = max((c.cosine for c in candidates), default=0.0)
    best_bm25 = max((c.bm25 for c in candidates), default=0.0) or 1.0
    rows = []
    for c in candidates:
        age = _age_days(c.published, as_of)
        names = [m for m in _NAME_OR_NUMBER.findall(c.text) if m.lower() not in question_words]
        rows.append([
            c.cosine,
            c.cosine - best_cosine,
            c.bm25 / best_bm25,
            1.0 if c.bm25 > 0 else 0.0,
            1.0 if age is not None and -RECENT_AFTER_DAYS <= age <= RECENT_BEFORE_DAYS else 0.0,
            math.log1p(abs(age)) if age is not None else 0.0,
            len(names) / max(len(c.text.split()), 1),
        ])
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(FEATURES))


@dataclass(frozen=True)
class Reranker:
    bias: float
    weights: dict[str, float]
    provenance: dict

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> Reranker:
        model = read_linear_weights(path, FEATURES, "the reranker's weights", REFIT)
        return cls(model.bias, model.weights, model.provenance)

    @classmethod
    def for_model(cls, embedding_model: str) -> Reranker:
        return cls.load(weights_path(embedding_model))

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """The model's log-odds that each candidate holds the answer."""
        vector = np.asarray([self.weights[name] for name in FEATURES])
        return rows @ vector + self.bias

    def rank(self, question: str, candidates: dict[str, Candidate], as_of: date | None) -> dict[str, float]:
        """Each candidate's score, by passage id; higher ranks first."""
        rows = features(question, list(candidates.values()), as_of)
        return dict(zip(candidates, self.scores(rows).tolist()))


def weights_path(embedding_model: str) -> Path:
    return MODEL_WEIGHTS.get(embedding_model, WEIGHTS_PATH)
