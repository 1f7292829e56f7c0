"""core/linear.py: the fitted models' weights files, read or refused with the refit command."""

import json

import pytest

from assistant.answering.extractive.confidence import ConfidenceModel
from assistant.answering.reader.calibration import ReaderCalibration
from core.errors import ConfigError
from core.linear import read_linear_weights


def test_weights_and_extras_are_read(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"bias": -1, "weights": {"a": 0.5, "b": 2}, "abstain_threshold": 0.3,
                                "provenance": {"command": "fit"}}))
    model = read_linear_weights(path, ("a", "b"), "test weights", "python -m fit", extras=("abstain_threshold",))
    assert (model.bias, model.weights, model.extras, model.provenance) == (
        -1.0, {"a": 0.5, "b": 2.0}, {"abstain_threshold": 0.3}, {"command": "fit"})


def test_a_missing_extra_names_the_file_and_the_refit(tmp_path):
    path = tmp_path / "w.json"
    path.write_text(json.dumps({"bias": 0, "weights": {"a": 1}}))
    with pytest.raises(ConfigError, match=r"cannot read test weights from .*w\.json.*refit it: python -m fit"):
        read_linear_weights(path, ("a",), "test weights", "python -m fit", extras=("abstain_threshold",))


@pytest.mark.parametrize("model, refit", [(ConfidenceModel, "bench.extractive_dev"), (ReaderCalibration, "bench.reader_dev")])
def test_the_shipped_files_load_and_stale_ones_are_refused(tmp_path, model, refit):
    assert 0.0 < model.load().abstain_threshold < 1.0
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"bias": 0, "weights": {"no_such_feature": 1}, "abstain_threshold": 0.5}))
    with pytest.raises(ConfigError, match=f"refit it with python -m {refit}"):
        model.load(path)
