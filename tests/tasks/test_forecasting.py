"""Forecasting end to end on small series: metrics, baselines, save/load, predict, resume, bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.tasks import forecast_eval as fe
from lstmkit.tasks.forecasting import ForecastConfig, Forecaster, train_run


def monthly_series(n=150, seed=0):
    """Trend x seasonality with noise: multiplicative, positive, like a sales series."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    values = (100 + 0.8 * t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.02, n))
    return pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS"), "sales": values})


FAST = dict(epochs=60, patience=15, ensemble=1)


@pytest.fixture(scope="module")
def fitted():
    df = monthly_series()
    fc = Forecaster(ForecastConfig(targets=["sales"], time_column="month", **FAST)).fit(df)
    return fc, df


def test_metric_definitions_on_hand_values():
    truth = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])  # (2 windows, 2 steps, 1 target)
    pred = np.array([[[2.0], [2.0]], [[3.0], [2.0]]])
    m = fe.forecast_metrics(truth, pred, scale=np.array([0.5]))
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert m["smape"] == pytest.approx(100 * (2 / 3 + 0 + 0 + 4 / 6) / 4)
    assert m["mase"] == pytest.approx(1.5)
    values = np.arange(30, dtype=float)[:, None]
    assert fe.mase_scale(values, 12)[0] == 12  # |y_t - y_{t-12}| = 12 everywhere
    origins = np.array([20, 25])
    np.testing.assert_array_equal(fe.naive_forecast(values, origins, 3)[:, :, 0], [[19] * 3, [24] * 3])
    # horizon 3 with season 12: one season back; horizon 14 needs two seasons back (only observed values)
    np.testing.assert_array_equal(fe.seasonal_naive_forecast(values, origins, 3, 12)[0, :, 0], [8, 9, 10])
    assert fe.seasonal_lag(12, 14) == 24


def test_chooses_settings_from_the_frequency(fitted):
    fc, _ = fitted
    s = fc.state
    assert (s["season"], s["horizon"], s["freq"]) == (12, 12, "MS")
    assert s["log_targets"] == [True]  # positive sales: modelled on the log scale
    assert s["split"]["train"] == [0, 105] and s["split"]["test"] == [127, 150]


def test_beats_the_baselines_on_a_seasonal_trending_series(fitted):
    fc, df = fitted
    result = fc.evaluate(df)
    model, base = result["model"], result["baselines"]
    assert result["split"]["test_windows"] == 23 - 12 + 1
    assert model["mase"] < base["seasonal_naive"]["mase"]
    assert model["mase"] < base["naive"]["mase"]
    assert model["mase"] < 1.0
    forecasts = result["forecasts"]
    assert len(forecasts) == 12 * 12 and set(forecasts["step"]) == set(range(1, 13))
    # forecast.csv carries the baselines on the very same windows
    truth = forecasts["actual"].to_numpy()
    assert np.mean(np.abs(truth - forecasts["naive"])) == pytest.approx(base["naive"]["mae"])


def test_save_load_predict_gives_identical_numbers(fitted, tmp_path):
    fc, df = fitted
    fc.save(tmp_path / "model")
    loaded = Forecaster.load(tmp_path / "model")
    a, b = fc.predict(df), loaded.predict(df)
    pd.testing.assert_frame_equal(a, b)
    assert list(a["time"]) == [t.isoformat() for t in pd.date_range("2012-07-01", periods=12, freq="MS")]
    assert loaded.evaluate(df)["model"] == fc.evaluate(df)["model"]
    with pytest.raises(ValueError, match=r"column 'sales' not found"):
        loaded.predict(df.rename(columns={"sales": "revenue"}))


def test_quantiles_are_ordered_and_cover(tmp_path):
    df = monthly_series(seed=1)
    config = ForecastConfig(targets=["sales"], time_column="month", quantiles=[0.1, 0.9], **FAST)
    result = train_run(config, df, tmp_path / "run")
    assert config.quantiles == [0.1, 0.5, 0.9]
    fc = pd.read_csv(tmp_path / "run" / "forecast.csv")
    assert (fc["q0.1"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["q0.9"]).all()
    assert 0.3 <= result["model"]["coverage_0.1_0.9"] <= 1.0
    for name in ("config.json", "model.safetensors", "metrics.json", "forecast.csv", "forecast.png", "history.csv"):
        assert (tmp_path / "run" / name).is_file(), name
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert set(metrics["baselines"]) >= {"naive", "seasonal_naive"}
    assert set(metrics["model"]) >= {"mae", "rmse", "smape", "mase"}


def test_multivariate_targets_and_features():
    df = monthly_series()
    df["temperature"] = np.sin(np.arange(len(df)) / 3.0)
    df["returns"] = df["sales"] * 0.1 + 5
    fc = Forecaster(ForecastConfig(targets=["sales", "returns"], time_column="month", features=["temperature"],
                                   horizon=3, **FAST)).fit(df)
    out = fc.predict(df)
    assert len(out) == 3 * 2 and set(out["target"]) == {"sales", "returns"}
    assert fc.model.n_inputs == 3


def test_no_time_column_means_no_season():
    df = monthly_series().drop(columns=["month"])
    fc = Forecaster(ForecastConfig(targets=["sales"], horizon=2, **FAST)).fit(df)
    assert fc.state["season"] == 1
    assert list(fc.predict(df)["time"]) == [150, 151]


def _csv(tmp_path, df, name="data.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.iloc[:0], "has no rows"),
    (lambda d: d.assign(sales=d["sales"].astype(object).where(d.index != 70, "abc")), "column 'sales' is not numeric: row 70"),
    (lambda d: d.assign(sales=d["sales"].where(d.index != 70)), "column 'sales' has a missing value at row 70"),
    (lambda d: d.iloc[[0, 2, 1, *range(3, len(d))]], "time column 'month' is not sorted"),
    (lambda d: d.assign(month=d["month"].where(d.index != 5, d["month"][4])), "duplicate timestamp"),
    (lambda d: d.iloc[:30], "too few rows"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, mutate, message):
    path = _csv(tmp_path, mutate(monthly_series()))
    out = tmp_path / "run"
    assert main(["forecast", "train", path, "--target", "sales", "--out", str(out), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
    assert not out.exists()


def test_missing_target_and_empty_file(tmp_path, capsys):
    path = _csv(tmp_path, monthly_series())
    assert main(["forecast", "train", path, "--target", "revenue", "--out", str(tmp_path / "r")]) == 2
    assert "column 'revenue' not found; columns are: month, sales" in capsys.readouterr().err
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert main(["forecast", "train", str(empty), "--target", "y", "--out", str(tmp_path / "r")]) == 2
    assert "the file is empty" in capsys.readouterr().err
    assert main(["forecast", "predict", "--model", str(tmp_path / "nothing"), path]) == 2
    assert not (tmp_path / "r").exists()


def test_cli_train_predict_backtest(tmp_path, capsys):
    path = _csv(tmp_path, monthly_series())
    out = tmp_path / "run"
    assert main(["forecast", "train", path, "--target", "sales", "--out", str(out), "--epochs", "20"]) == 0
    printed = capsys.readouterr().out
    assert "LSTM (lstmkit)" in printed and "seasonal_naive" in printed
    # a second train into the same directory would overwrite a result: refused
    assert main(["forecast", "train", path, "--target", "sales", "--out", str(out)]) == 2
    assert "exists and is not empty" in capsys.readouterr().err
    assert main(["forecast", "predict", "--model", str(out), path, "--out", str(tmp_path / "f.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "f.csv")) == 12
    bt = tmp_path / "bt"
    assert main(["forecast", "backtest", path, "--target", "sales", "--out", str(bt), "--epochs", "5",
                 "--folds", "2", "--fold-size", "12"]) == 0
    metrics = json.loads((bt / "metrics.json").read_text())
    assert [f["test_rows"] for f in metrics["folds"]] == [[126, 138], [138, 150]]
    assert all(f["split"]["test_windows"] == 1 for f in metrics["folds"])


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    """A training process killed mid-run and resumed ends with the weights and metrics of an unbroken run."""
    path = _csv(tmp_path, monthly_series())
    args = ["forecast", "train", path, "--target", "sales", "--epochs", "25", "--ensemble", "1", "--threads", "1"]
    whole = tmp_path / "whole"
    assert main(args + ["--out", str(whole)]) == 0
    killed = tmp_path / "killed"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "lstmkit", *args, "--out", str(killed)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state = killed / "trainer_state.pt"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if state.exists() and (killed / "history.csv").exists() and len((killed / "history.csv").read_text().splitlines()) >= 4:
            break
        time.sleep(0.05)
    if proc.poll() is not None:
        pytest.skip("the training process finished before it could be killed (machine too fast)")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    assert main(args + ["--out", str(killed), "--resume"]) == 0
    from safetensors.torch import load_file

    a, b = load_file(whole / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((whole / "metrics.json").read_text()) == json.loads((killed / "metrics.json").read_text())
