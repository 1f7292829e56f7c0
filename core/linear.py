"""Reading the weights files of the small fitted linear models (the reranker, the extractive
confidence, the reader's calibration): each is JSON with a bias, a weight per feature, optional extra
numbers and the provenance of its fit."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError


@dataclass(frozen=True)
class LinearWeights:
    bias: float
    weights: dict[str, float]
    extras: dict[str, float]  # the numbers asked for by name, e.g. an abstain threshold
    provenance: dict


def read_linear_weights(path: Path, features, what: str, refit: str, extras: tuple[str, ...] = ()) -> LinearWeights:
    """The file's contents, or a ConfigError naming `what` it holds and the `refit` command: when it
    cannot be read, or when its weights are not for exactly `features`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        model = LinearWeights(float(data["bias"]), {key: float(value) for key, value in data["weights"].items()},
                              {name: float(data[name]) for name in extras}, dict(data.get("provenance", {})))
    except (OSError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"cannot read {what} from {path}: {exc}; restore the file from the repository "
                          f"or refit it: {refit}") from exc
    if set(model.weights) != set(features):
        raise ConfigError(f"{path} has weights for {sorted(model.weights)}, but the code computes "
                          f"{sorted(features)}: refit it with {refit}")
    return model
