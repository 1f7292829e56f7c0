"""The reader's confidence: a logistic model over retrieval, extractive and reader scores.

The model's own "unknown" is only one feature among these: on SQuAD 2.0's unanswerable questions a
0.5B or 1.5B reader almost always answers something. The weights and the abstain threshold are
fitted by `python -m bench.reader_dev --fit` and live in `weights.json` beside this module, with
how they were chosen; a refit rewrites that file, never this code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.linear import read_linear_weights

if TYPE_CHECKING:
    from assistant.answering.base import RetrievedPassage
    from assistant.answering.reader.support import Support

WEIGHTS_PATH = Path(__file__).resolve().with_name("weights.json")

FEATURES = {
    "extractive": "the extractive stage's calibrated confidence (0..1)",
    "lp_mean": "mean log-probability of the reader's answer tokens (0 = certain)",
    "lp_min": "lowest log-probability among them",
    "declined": "the reader replied unknown (or the like)",
    "exact": "the answer is a span of a shown sentence",
    "words_only": "only the answer's words are found in one sentence",
    "unsupported": "the answer is found in no shown sentence",
    "echo": "the answer only repeats words of the question",
    "retrieval": "fused retrieval score of the best passage",
    "p_decline": "probability of a decline (\"unknown\") among the first token's likeliest alternatives",
}


def decline_probability(first_top: list[tuple[str, float]]) -> float:
    """How likely the model was to start a decline ("unknown", "none") at its first token, of the
    alternatives it reported there: its doubt, even where it answered."""
    return min(1.0, sum(math.exp(logprob) for token, logprob in first_top
                        if token.strip().lower().startswith(_DECLINE_STARTS)))


_DECLINE_STARTS = ("unk", "none")


def reader_features(extractive: float, logprobs: list[float], declined: bool, found: Support | None, echo: bool,
                    passages: list[RetrievedPassage], first_top: list[tuple[str, float]] = ()) -> dict[str, float]:
    answered = not declined
    return {
        "p_decline": decline_probability(list(first_top)),
        "extractive": float(extractive),
        "lp_mean": sum(logprobs) / len(logprobs) if logprobs else 0.0,
        "lp_min": min(logprobs) if logprobs else 0.0,
        "declined": float(declined),
        "exact": float(answered and found is not None and found.exact),
        "words_only": float(answered and found is not None and not found.exact),
        "unsupported": float(answered and found is None),
        "echo": float(echo),
        "retrieval": float(passages[0].score) if passages else 0.0,
    }


@dataclass(frozen=True)
class ReaderCalibration:
    bias: float
    weights: dict[str, float]
    abstain_threshold: float
    provenance: dict[str, str]

    @classmethod
    def load(cls, path: Path = WEIGHTS_PATH) -> ReaderCalibration:
        model = read_linear_weights(path, FEATURES, "the reader's calibration", "python -m bench.reader_dev --fit",
                                    extras=("abstain_threshold",))
        return cls(model.bias, model.weights, model.extras["abstain_threshold"], model.provenance)

    def confidence(self, features: dict[str, float]) -> float:
        z = self.bias + sum(weight * features[name] for name, weight in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))
