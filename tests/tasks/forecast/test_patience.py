"""Early stopping's patience in optimiser steps: how many epochs the forecaster waits, and that it stops there."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.errors import ConfigError
from lstmkit.tasks.forecast import ForecastConfig, Forecaster
from lstmkit.tasks.forecast.config import MIN_PATIENCE


def test_patience_epochs_from_the_step_budget():
    config = ForecastConfig(targets=["y"])  # patience 40 epochs, patience_steps 200, batch 32
    assert (config.patience, config.patience_steps, config.batch_size, MIN_PATIENCE) == (40, 200, 32, 10)
    assert config.patience_epochs(50) == 40  # a short series, 2 steps an epoch: 100 epochs' worth, capped at 40
    assert config.patience_epochs(600) == 11  # the weather: 19 steps an epoch, ceil(200 / 19)
    assert config.patience_epochs(256) == 25  # 8 steps an epoch: exactly 200 steps
    assert config.patience_epochs(2400) == 10  # a long series, 75 steps: 3 epochs' worth, raised to MIN_PATIENCE
    assert config.patience_epochs(1) == 40  # one (partial) batch an epoch
    assert ForecastConfig(targets=["y"], batch_size=8).patience_epochs(600) == 10  # 75 steps an epoch
    assert ForecastConfig(targets=["y"], patience_steps=None).patience_epochs(2400) == 40  # epochs only
    assert ForecastConfig(targets=["y"], patience=5).patience_epochs(2400) == 5  # a smaller patience always wins


@pytest.mark.parametrize("bad", [0, -3, True, 2.5])
def test_patience_steps_must_be_a_positive_int(bad):
    with pytest.raises(ConfigError, match="patience_steps"):
        ForecastConfig(targets=["y"], patience_steps=bad)


def test_fit_stops_the_step_budget_after_the_best_epoch():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": 10 + rng.normal(0, 1, 300)})  # white noise: little to learn, soon overfitted
    config = ForecastConfig(targets=["y"], horizon=4, input_width=8, ensemble=1, hidden_size=4, batch_size=16,
                            lr=0.1, epochs=200, patience=40, patience_steps=200, combine="lstm")
    forecaster = Forecaster(config).fit(frame)
    split = forecaster.state.split
    train_windows = split["train"][1] - 8 - 4 + 1  # every origin whose window and horizon lie in training
    expected = -(-200 // -(-train_windows // 16))  # 200 steps' worth of epochs of 16 windows a step
    assert MIN_PATIENCE < expected < 40  # the step budget, neither bound, decides here
    assert split["early_stopping_patience"] == expected
    val = [row["val_loss"] for row in forecaster.history]
    best_epoch = int(np.argmin(val)) + 1
    assert len(forecaster.history) == best_epoch + expected < config.epochs


def test_a_run_saved_before_the_step_budget_keeps_its_rule(tmp_path):
    """A config.json without patience_steps (lstmkit before it) loads as None, so a resumed run goes on
    waiting `patience` epochs as it started; a run saved now keeps its budget."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"y": 10 + rng.normal(0, 1, 120)})
    config = ForecastConfig(targets=["y"], horizon=4, input_width=8, ensemble=1, hidden_size=4, epochs=2,
                            combine="lstm")
    Forecaster(config).fit(frame).save(tmp_path)
    assert Forecaster.read_run_config(tmp_path)[0].patience_steps == 200
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["task"]["patience_steps"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old, _ = Forecaster.read_run_config(tmp_path)
    assert old.patience_steps is None and old.patience_epochs(2400) == old.patience == 40
    assert ForecastConfig.from_dict({"targets": ["y"]}).patience_steps == 200  # a new config: the default
