"""Forecasting end to end on small series: metrics, baselines, save/load, predict, resume, bad input."""
import json
import signal
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.errors import DataError
from lstmkit.metrics import forecast as fm
from lstmkit.tasks.forecast import ForecastConfig, Forecaster, WindowInputs, train_run
from lstmkit.tasks.forecast import baselines as fb


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
    m = fm.forecast_metrics(truth, pred, scale=np.array([0.5]))
    assert m["mae"] == pytest.approx(0.75)
    assert m["rmse"] == pytest.approx(np.sqrt(5 / 4))
    assert m["smape"] == pytest.approx(100 * (2 / 3 + 0 + 0 + 4 / 6) / 4)
    assert m["mase"] == pytest.approx(1.5)
    values = np.arange(30, dtype=float)[:, None]
    assert fm.mase_scale(values, 12)[0] == 12  # |y_t - y_{t-12}| = 12 everywhere
    origins = np.array([20, 25])
    np.testing.assert_array_equal(fb.naive_forecast(values, origins, 3)[:, :, 0], [[19] * 3, [24] * 3])
    # horizon 3 with season 12: one season back; horizon 14 needs two seasons back (only observed values)
    np.testing.assert_array_equal(fb.seasonal_naive_forecast(values, origins, 3, 12)[0, :, 0], [8, 9, 10])
    assert fb.seasonal_lag(12, 14) == 24


def test_chooses_settings_from_the_frequency(fitted):
    fc, _ = fitted
    s = fc.state
    assert (s.season, s.horizon, s.freq) == (12, 12, "MS")
    assert s.log_targets == [True]  # positive sales: modelled on the log scale
    assert s.split["train"] == [0, 105] and s.split["test"] == [127, 150]


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
    # Times come back as timestamps (a datetime column), not strings.
    assert pd.api.types.is_datetime64_any_dtype(a["time"])
    assert list(a["time"]) == list(pd.date_range("2012-07-01", periods=12, freq="MS"))
    assert loaded.evaluate(df)["model"] == fc.evaluate(df)["model"]
    with pytest.raises(ValueError, match=r"column 'sales' not found"):
        loaded.predict(df.rename(columns={"sales": "revenue"}))


def test_window_inputs_are_the_latest_windows_as_the_lstm_sees_them(fitted):
    fc, df = fitted
    s = fc.state
    W = s.input_width
    windows = fc.window_inputs(df, max_windows=5)
    assert isinstance(windows, WindowInputs)
    assert windows.x.dtype == torch.float32 and tuple(windows.x.shape) == (5, W, 1)
    np.testing.assert_array_equal(windows.origins, np.arange(146, 151))  # the window ending at the last row last
    assert windows.feature_names == ["sales (rel.)"]
    assert len(windows.times) == 5 and all(len(t) == W for t in windows.times)
    assert windows.times[-1][-1] == "2012-06-01" and windows.times[0][-1] == "2012-02-01"
    # log scale (positive sales), relative to the level (mean of the last season), divided by the scale
    z = np.log(df["sales"].to_numpy())
    expected = (z[-W:] - z[-12:].mean()) / s.target_scale[0]
    np.testing.assert_allclose(windows.x[-1, :, 0].numpy(), expected, rtol=1e-5, atol=1e-5)
    every = fc.window_inputs(df)  # every window from the first origin on
    assert every.origins[0] == fc.first_origin and every.origins[-1] == len(df)
    torch.testing.assert_close(every.x[-5:], windows.x)
    with pytest.raises(DataError, match=rf"the model's windows need at least {fc.first_origin} rows "
                                        rf"\(input width {W} and the seasonal baseline's history\), the data has 40"):
        fc.window_inputs(df.iloc[:40])


def test_quantiles_are_ordered_and_cover(tmp_path):
    df = monthly_series(seed=1)
    # The network's own band (combine="lstm"): with the default choice the band moves with the chosen median.
    config = ForecastConfig(targets=["sales"], time_column="month", quantiles=[0.1, 0.9], combine="lstm", **FAST)
    result = train_run(Forecaster(config), df, tmp_path / "run")
    assert config.quantiles == [0.1, 0.5, 0.9]
    fc = pd.read_csv(tmp_path / "run" / "forecast.csv")
    assert (fc["q0.1"] <= fc["forecast"]).all() and (fc["forecast"] <= fc["q0.9"]).all()
    # Share of test values inside the 0.1-0.9 band (nominal 80%). On this seed it measured 0.799 (115 of the
    # 144 window-steps); the 12 test windows overlap (stride 1, horizon 12), so the 144 values are few
    # independent ones and other data seeds gave 0.58-0.94: the band is wide for that, not for noise on this
    # (deterministic) run. A quantile head that collapsed onto the median covers ~0, a band grown too wide
    # covers (almost) everything: both fall outside.
    assert 0.65 <= result["model"]["coverage_0.1_0.9"] <= 0.95
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
    assert fc.state.season == 1
    assert list(fc.predict(df)["time"]) == [150, 151]


def _csv(tmp_path, df, name="data.csv"):
    path = tmp_path / name
    df.to_csv(path, index=False)
    return str(path)


@pytest.mark.parametrize("mutate,message", [
    (lambda d: d.iloc[:0], "has no rows"),
    (lambda d: d.assign(sales=d["sales"].astype(object).where(d.index != 70, "abc")), "column 'sales' is not numeric: line 72"),
    (lambda d: d.assign(sales=d["sales"].where(d.index != 70)), "column 'sales' has a missing value at line 72"),
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


@pytest.mark.parametrize("data,message", [
    ("missing", "missing.csv: no such file"),
    (lambda d: d.assign(sales=d["sales"].astype(object).where(d.index != 70, "abc")),
     "column 'sales' is not numeric: line 72"),
    (lambda d: d.iloc[:40], "too few rows"),
    (lambda d: d.iloc[:5], "too few rows for the backtest: 3 folds of 2 rows"),
])
def test_backtest_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, data, message):
    path = str(tmp_path / "missing.csv") if data == "missing" else _csv(tmp_path, data(monthly_series()))
    out = tmp_path / "bt"
    assert main(["forecast", "backtest", path, "--target", "sales", "--out", str(out), "--epochs", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and err.count("\n") == 0 and "Traceback" not in err
    assert not out.exists()


def test_resume_with_nothing_to_resume_and_bad_threads_exit_2(tmp_path, capsys):
    path = _csv(tmp_path, monthly_series())
    out = tmp_path / "never-run"
    assert main(["forecast", "train", path, "--target", "sales", "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err.strip()
    assert "holds no interrupted run" in err and err.count("\n") == 0
    assert not out.exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["forecast", "train", path, "--target", "sales", "--out", str(out), "--threads", "abc"])
    assert exit_info.value.code == 2
    assert "--threads" in capsys.readouterr().err and not out.exists()


def test_cli_train_predict_backtest(tmp_path, capsys):
    path = _csv(tmp_path, monthly_series())
    out = tmp_path / "run"
    assert main(["forecast", "train", path, "--target", "sales", "--out", str(out), "--epochs", "20"]) == 0
    printed = capsys.readouterr().out
    assert "lstm_alone" in printed and "seasonal_naive" in printed and "\nforecast: " in printed
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


def test_demo_writes_a_run_directory_and_prints_the_table(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--epochs", "2", "--out", str(out), "--threads", "1"]) == 0
    for name in ("config.json", "model.safetensors", "history.csv", "metrics.json", "forecast.csv", "forecast.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["split"]["test_windows"] == 214 and metrics["split"]["horizon"] == 7
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split() == ["mae", "rmse", "smape", "mase"])
    table = [line.rsplit(maxsplit=4) for line in lines[header + 1: header + 9]]
    rows = {cells[0]: cells[1:] for cells in table}
    # The forecast (the LSTM, a baseline or their mean, chosen on validation), then the LSTM alone and the
    # baselines: daily data with two years of training rows has a weekly and a yearly season (the network's).
    assert list(rows)[1:] == ["lstm_alone", "naive", "seasonal_naive", "seasonal_naive_7", "ets", "ar", "mstl"]
    assert metrics["split"]["seasons"] == [7, 365] and metrics["split"]["mstl_seasons"] == [7, 365]
    assert rows["ar"][3] == f"{metrics['baselines']['ar']['mase']:.3f}" and metrics["split"]["ar_order"] >= 1
    assert list(rows.values())[0][3] == f"{metrics['model']['mase']:.3f}"
    assert rows["seasonal_naive"][3] == f"{metrics['baselines']['seasonal_naive']['mase']:.3f}"
    assert any(line.startswith(f"forecast: {metrics['choice']['forecast']}, chosen on the second half of the "
                               "validation part, which early stopping did not watch")
               for line in lines)
    assert f"plot:  {out / 'forecast.png'}" in lines


# The child trains like `lstmkit forecast train` and SIGKILLs itself in the first training batch after
# ``sys.argv[1]`` optimiser steps: a kill at a known point, between two checkpoints.
KILLED_CHILD = """
import os, signal, sys
from lstmkit.cli import main
from lstmkit.tasks.forecast.model import ForecastNet

forward, batches = ForecastNet.forward, [0]

def counting_forward(self, inputs):
    if self.training:  # training batches only (validation runs in eval mode)
        batches[0] += 1
        if batches[0] > int(sys.argv[1]):
            os.kill(os.getpid(), signal.SIGKILL)
    return forward(self, inputs)

ForecastNet.forward = counting_forward
sys.exit(main(sys.argv[2:]))
"""


def test_resume_after_sigkill_equals_uninterrupted(tmp_path):
    """A training process killed mid-run and resumed ends with the weights and metrics of an unbroken run."""
    path = _csv(tmp_path, monthly_series())
    args = ["forecast", "train", path, "--target", "sales", "--epochs", "8", "--ensemble", "1", "--threads", "1"]
    whole = tmp_path / "whole"
    assert main(args + ["--out", str(whole)]) == 0
    steps = pd.read_csv(whole / "steps.csv")
    per_epoch = int((steps["epoch"] == 1).sum())
    assert per_epoch >= 2  # so that the kill below falls inside an epoch
    killed = tmp_path / "killed"
    # killed in epoch 4, after its first batch: 3 epochs checkpointed, the 4th half done and lost
    done = 3 * per_epoch + 1
    proc = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(done), *args, "--out", str(killed)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr  # killed, not crashed nor finished
    assert len(pd.read_csv(killed / "history.csv")) == 3 and (killed / "trainer_state.pt").is_file()
    assert not (killed / "metrics.json").exists()
    assert main(args + ["--out", str(killed), "--resume"]) == 0
    from safetensors.torch import load_file

    a, b = load_file(whole / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert json.loads((whole / "metrics.json").read_text()) == json.loads((killed / "metrics.json").read_text())
    pd.testing.assert_frame_equal(pd.read_csv(whole / "steps.csv"), pd.read_csv(killed / "steps.csv"))


# ------------------------------------------------------------------------------------------- other cells
def test_cli_train_with_a_gru_and_zoneout_keeps_the_cell_and_its_forecasts(tmp_path, capsys):
    from lstmkit.nn import GRU

    df = monthly_series()
    out = tmp_path / "gru"
    assert main(["forecast", "train", _csv(tmp_path, df), "--target", "sales", "--out", str(out), "--epochs", "3",
                 "--ensemble", "1", "--cell", "gru", "--zoneout", "0.1"]) == 0
    assert "lstm_alone" in capsys.readouterr().out
    saved = json.loads((out / "config.json").read_text())
    assert (saved["task"]["cell"], saved["task"]["zoneout"], saved["task"]["recurrent_dropout"]) == ("gru", 0.1, 0.0)
    assert (saved["model"]["cell"], saved["model"]["zoneout"]) == ("gru", 0.1)
    loaded = Forecaster.load(out)
    assert type(loaded.model.lstms[0]) is GRU and loaded.model.lstms[0].zoneout == 0.1
    # the same run through the Python API: the forecasts after reloading are those before
    fc = Forecaster(loaded.config).fit(df)
    fc.save(tmp_path / "again")
    pd.testing.assert_frame_equal(Forecaster.load(tmp_path / "again").predict(df), fc.predict(df))
    pd.testing.assert_frame_equal(fc.predict(df), loaded.predict(df))  # seeded: the CLI's run, bit for bit


def test_a_plateau_schedule_halves_the_learning_rate_after_epochs_without_improvement():
    df = monthly_series()
    config = ForecastConfig(targets=["sales"], time_column="month", epochs=12, patience=12, ensemble=1, hidden_size=8,
                            lr_schedule="plateau", plateau_patience=1)
    history = Forecaster(config).fit(df).history
    rates = [row["lr"] for row in history]
    assert rates[0] == pytest.approx(3e-3) and min(rates) < rates[0]
    for before, after in zip(rates, rates[1:]):  # only ever halved
        assert after == pytest.approx(before) or after == pytest.approx(before / 2)
    with pytest.raises(Exception, match="lr_schedule must be 'plateau' or None"):
        ForecastConfig(targets=["y"], lr_schedule="cosine")
