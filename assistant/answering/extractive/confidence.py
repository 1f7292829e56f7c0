"""The confidence: a small logistic model over how much of the question the passages contain.

Fitted on SQuAD-2 (answerable vs unanswerable, and vs a wrong paragraph) by
`bench/extractive_dev.py`. The fitted numbers live in `weights.json` beside this module, with the
abstain threshold chosen on the same data and how each was chosen: a refit rewrites that file
(`--write-weights`), never this code. The file is read when an answerer is built, not on import.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.linear import read_linear_weights

if TYPE_CHECKING:
    from assistant.answering.extractive.question import Question
    from assistant.answering.extractive.scoring import Sentence

WEIGHTS_PATH = Path(__file__).resolve().with_name("weights.json")

# What each feature measures; weights.json holds a weight for each of them.
FEATURES = {
    "coverage": "weighted share of question terms in the best sentence",
    "all_coverage": "... anywhere in the passages",
    "missing_strong": "share of the question's names and numbers found nowhere",
    "pattern": "a dependency pattern produced the short answer",
    "candidate": "score of the short-answer candidate, scaled to 0..1",
    "context": "share of question terms found only around the best sentence",
    "missing_terms": "content words of the question found nowhere (0, 1/3, 2/3, 1 for 3+)",
    "negation": "the question and the best sentence disagree on a negation",
}

_NEGATION = re.compile(r"\b(not|never|no|none|nor|cannot|without)\b|n't\b|n t\b", re.I)


@dataclass(frozen=True)
class ConfidenceModel:
    """confidence = sigmoid(bias + sum(weight * feature)); below `abstain_threshold` the engine abstains."""

    bias: float
    weights: dict[str, float]  # in the file's order, which is the order they are summed in
    abstain_threshold: float
    provenance: dict[str, str]

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> ConfidenceModel:
        model = read_linear_weights(path, FEATURES, "the extractive answerer's weights",
                                    "python -m bench.extractive_dev --write-weights", extras=("abstain_threshold",))
        return cls(model.bias, model.weights, model.extras["abstain_threshold"], model.provenance)

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(w * features[k] for k, w in self.weights.items())
        return round(_sigmoid(z), 4)

    def save(self, path: Path = WEIGHTS_PATH) -> None:
        data = {"bias": self.bias, "weights": self.weights, "abstain_threshold": self.abstain_threshold,
                "provenance": self.provenance}
        Path(path).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def calibrated_threshold(path: Path = WEIGHTS_PATH) -> float:
    """The abstain threshold chosen on data by bench/extractive_dev.py (setting `abstain_threshold` overrides it)."""
    return ConfidenceModel.load(path).abstain_threshold


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def confidence_features(q: Question, best: Sentence, sents: list[Sentence]) -> dict[str, float]:
    """The model's inputs (see FEATURES) for the chosen sentence `best` among all `sents`."""
    total = sum(q.terms.values()) or 1.0
    everywhere: set[str] = set()
    for s in sents:
        everywhere.update(s.stems)
    all_cov = sum(w for t, w in q.terms.items() if t in everywhere) / total
    strong = [t for t, w in q.terms.items() if w >= 1.5]
    missing_strong = (sum(1 for t in strong if t not in everywhere) / len(strong)) if strong else 0.0
    cand = best.best
    return {
        "coverage": best.coverage,
        "all_coverage": all_cov,
        "missing_strong": missing_strong,
        "pattern": 1.0 if cand is not None and cand.pattern else 0.0,
        "candidate": max(0.0, min(cand.score, 4.0)) / 4.0 if cand is not None else 0.0,
        "context": best.ctx_coverage,
        "missing_terms": min(3, sum(1 for t, w in q.terms.items() if w >= 1.0 and t not in everywhere)) / 3,
        "negation": float(bool(_NEGATION.search(q.text)) != bool(_NEGATION.search(best.text))),
    }
