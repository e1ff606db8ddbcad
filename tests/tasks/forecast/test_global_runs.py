"""The global forecaster's run around the network: the AR and ETS baselines against statsmodels, ``--resume``
after an interrupted epoch, ``predict --quantize int8``."""
import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from lstmkit.cli import main
from lstmkit.tasks.forecast import train_run
from lstmkit.tasks.forecast.baselines import ar_max_lag
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster
from crashes import Crash, CrashAfterEpoch

H = 12


def small_panel(n_series=6, seed=0):
    """Positive seasonal series of different lengths and levels, and one that crosses zero (no log scale)."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(56, 90))
        t = np.arange(n)
        y = (10 ** rng.uniform(1, 3) * np.exp(rng.uniform(0, 0.01) * t)
             * (1 + rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * (t + rng.integers(0, 12)) / 12))
             * np.exp(rng.normal(0, 0.03, n)))
        if i == n_series - 1:
            y = 3 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 0.3, n)  # values <= 0: fitted as they are
        parts.append(pd.DataFrame({"series": f"S{i}", "time": t, "value": y}))
    return pd.concat(parts, ignore_index=True)


ARGS = ["--id-column", "series", "--target", "value", "--time-column", "time", "--season", "12", "--test-last",
        str(H), "--epochs", "4", "--ensemble", "1", "--hidden-size", "8", "--windows-per-series", "8",
        "--combine", "lstm", "--ets-baseline", "--threads", "1"]


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted run (ETS on, the forecast is the network alone) and its table."""
    root = tmp_path_factory.mktemp("global-runs")
    path = root / "panel.csv"
    small_panel().to_csv(path, index=False)
    assert main(["forecast", "train", str(path), *ARGS, "--out", str(root / "whole")]) == 0
    return root / "whole", path


def test_ar_and_ets_baselines_are_statsmodels_on_each_series_training_part(whole):
    pytest.importorskip("statsmodels")
    from statsmodels.tsa.ar_model import AutoReg, ar_select_order
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    out, path = whole
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"ar", "ets"} <= set(metrics["baselines"]) and metrics["split"]["ets_baseline"] is True
    frame = pd.read_csv(path)
    forecasts = pd.read_csv(out / "forecasts.csv")
    by_series = pd.read_csv(out / "metrics_by_series.csv").set_index("series")
    for sid, part in frame.groupby("series"):
        y = part["value"].to_numpy()[:-H]  # the training part; the last H values are the test part
        positive = bool((y > 0).all())
        z = np.log(y) if positive else y
        back = np.exp if positive else (lambda v: v)
        n = len(z)
        p = int(by_series.loc[sid, "ar_order"])
        assert ar_select_order(z, maxlag=ar_max_lag(12, n), ic="aic", trend="c").ar_lags == list(range(1, p + 1))
        ar = back(AutoReg(z, lags=p, trend="c").fit().predict(start=n, end=n + H - 1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ets = back(ExponentialSmoothing(z, initialization_method="estimated", trend="add", damped_trend=True,
                                            seasonal="add", seasonal_periods=12).fit().forecast(H))
        written = forecasts[forecasts["series"] == sid]
        np.testing.assert_allclose(written["ar"], ar, rtol=1e-9)
        np.testing.assert_allclose(written["ets"], ets, rtol=1e-9)
        # the per-series table scores those columns as it scores the model (sMAPE of M3)
        actual = written["actual"].to_numpy()
        smape = np.mean(200 * np.abs(actual - ar) / (np.abs(actual) + np.abs(ar)))
        assert by_series.loc[sid, "smape_ar"] == pytest.approx(smape, rel=1e-9)
    assert metrics["baselines"]["ar"]["smape"] == pytest.approx(by_series["smape_ar"].mean(), rel=1e-9)
    assert metrics["baselines"]["ets"]["mase"] == pytest.approx(by_series["mase_ets"].mean(), rel=1e-9)


def test_ets_is_left_out_when_asked_and_its_options_are_refused_for_one_series(tmp_path, capsys):
    frame = small_panel(3, seed=1)
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "no-ets"
    assert main(["forecast", "train", str(path), "--id-column", "series", "--target", "value", "--season", "12",
                 "--test-last", str(H), "--epochs", "1", "--ensemble", "1", "--hidden-size", "4",
                 "--no-ets-baseline", "--out", str(out)]) == 0
    assert "no ETS baseline: --no-ets-baseline" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert "ar" in metrics["baselines"] and "ets" not in metrics["baselines"]
    assert metrics["split"]["ets_baseline"] is False and "ets" not in metrics["split"]["validation_smape"]
    assert "ets" not in pd.read_csv(out / "forecasts.csv").columns
    single = tmp_path / "one.csv"
    frame[frame["series"] == "S0"][["time", "value"]].to_csv(single, index=False)
    for flag in ("--ets-baseline", "--no-ets-baseline"):
        assert main(["forecast", "train", str(single), "--target", "value", flag, "--out", str(tmp_path / "one")]) == 2
        assert f"{flag} applies to many series with --id-column" in capsys.readouterr().err


def test_a_baseline_that_fails_on_a_series_never_stops_the_run(monkeypatch, caplog):
    """statsmodels refusing a fit gives that series the seasonal naive forecast; an AR forecast that
    overflows gives it the naive one; no statsmodels: no ETS. Each is logged, naming the series."""
    from lstmkit.tasks.forecast import global_eval
    from lstmkit.tasks.forecast.panel import Series

    t = np.arange(40)
    good = Series(id="good", train=10 + np.sin(2 * np.pi * t / 4), test=np.zeros(4), season=4, rows=t)
    bad = Series(id="bad", train=5 + np.cos(2 * np.pi * t / 4), test=np.zeros(4), season=4, rows=t)
    ar_forecast, ets_forecast = global_eval.ar_forecast, global_eval.ets_forecast

    def exploding_ar(z, *args):
        out, orders = ar_forecast(z, *args)
        return (np.full_like(out, np.inf) if z[0, 0] == np.log(bad.train[0]) else out), orders

    def refusing_ets(z, *args):
        if z[0, 0] == np.log(bad.train[0]):
            raise ValueError("statsmodels says no")
        return ets_forecast(z, *args)

    monkeypatch.setattr(global_eval, "ar_forecast", exploding_ar)
    monkeypatch.setattr(global_eval, "ets_forecast", refusing_ets)
    with caplog.at_level("WARNING", logger=global_eval.__name__):
        forecasts, orders, _ = global_eval.statistical_baselines([good, bad], 4, 4, ets=True)
    np.testing.assert_array_equal(forecasts["ar"]["bad"], np.full(4, bad.train[-1]))
    np.testing.assert_array_equal(forecasts["ets"]["bad"], bad.train[-4:])  # the last season
    assert np.isfinite(forecasts["ar"]["good"]).all() and np.isfinite(forecasts["ets"]["good"]).all()
    assert "ETS could not be fitted to 1 series ('bad')" in caplog.text
    assert "the ar baseline's forecast is not finite for 1 series ('bad')" in caplog.text
    monkeypatch.setattr(global_eval.importlib.util, "find_spec", lambda name: None)
    caplog.clear()
    with caplog.at_level("WARNING", logger=global_eval.__name__):
        forecasts, _, seconds = global_eval.statistical_baselines([good], 4, 4, ets=True)
    assert set(forecasts) == set(seconds) == {"ar"} and "statsmodels is not installed" in caplog.text


def test_an_interrupted_run_resumed_from_the_command_line_equals_an_uninterrupted_one(whole, caplog):
    out, path = whole
    killed = out.parent / "killed"
    config, _ = GlobalForecaster.read_run_config(out)  # exactly what the command line built
    interrupted = GlobalForecaster(config)
    interrupted.callbacks.append(CrashAfterEpoch(2))
    with pytest.raises(Crash):
        train_run(interrupted, path, killed)
    assert len(pd.read_csv(killed / "history.csv")) == 2 and not (killed / "metrics.json").exists()
    with caplog.at_level("INFO", logger="lstmkit.train"):
        assert main(["forecast", "train", str(path), *ARGS, "--out", str(killed), "--resume"]) == 0
    assert "after epoch 2" in caplog.text  # it continued rather than starting again
    a, b = load_file(out / "model.safetensors"), load_file(killed / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (out / "metrics.json").read_text() == (killed / "metrics.json").read_text()
    history = [pd.read_csv(d / "history.csv").drop(columns="seconds") for d in (out, killed)]
    pd.testing.assert_frame_equal(*history)
    assert len(history[0]) == 4
    pd.testing.assert_frame_equal(pd.read_csv(out / "forecasts.csv"), pd.read_csv(killed / "forecasts.csv"))


def test_predict_quantize_int8_runs_the_panel_network_in_onnxruntime(whole, tmp_path):
    pytest.importorskip("onnxruntime")
    out, path = whole
    floating, int8 = tmp_path / "float.csv", tmp_path / "int8.csv"
    assert main(["forecast", "predict", str(path), "--model", str(out), "--out", str(floating)]) == 0
    assert main(["forecast", "predict", str(path), "--model", str(out), "--quantize", "int8",
                 "--out", str(int8)]) == 0
    a, b = pd.read_csv(floating), pd.read_csv(int8)
    assert (a["series"] == b["series"]).all() and (a["step"] == b["step"]).all()
    # the forecast is the network alone (--combine lstm), so int8 weights move it a little, and only a little
    assert not np.array_equal(a["forecast"], b["forecast"])
    relative = np.abs(b["forecast"] - a["forecast"]) / np.abs(a["forecast"]).mean()
    assert relative.max() < 0.05


def test_quantize_is_refused_in_one_line_for_a_model_with_static_features(tmp_path, capsys):
    frame = small_panel(3, seed=2)
    frame["shop"] = frame["series"].map({"S0": "a", "S1": "b", "S2": "a"})
    config = GlobalConfig(id_column="series", target="value", time_column="time", season=12, test_last=H, epochs=1,
                          ensemble=1, hidden_size=4, static_features=["shop"])
    model = GlobalForecaster(config).fit(frame).save(tmp_path / "model")
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    assert main(["forecast", "predict", str(path), "--model", str(model), "--quantize", "int8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert "a model trained with covariates or static features" in err and "predict without --quantize" in err
