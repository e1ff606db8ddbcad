"""One model across many series (``lstmkit forecast train --id-column``): the competition protocol."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import main
from lstmkit.data import DataError
from lstmkit.data.competitions import CompetitionSeries
from lstmkit.metrics.forecast import score_collection
from lstmkit.tasks.forecast.baselines import seasonal_naive, theta_forecast
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster

H = 12
QUICK = ["--epochs", "15", "--ensemble", "1", "--hidden-size", "16", "--threads", "1"]


def panel(n_series=30, seed=0):
    """Seasonal series of different lengths, start times, levels (10 to 10,000), trends and phases."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(60, 110))
        t = np.arange(n)
        level = 10 ** rng.uniform(1, 4)
        y = (level * np.exp(rng.uniform(-0.003, 0.01) * t)
             * (1 + rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * (t + rng.integers(0, 12)) / 12))
             * np.exp(rng.normal(0, 0.03, n)))
        parts.append(pd.DataFrame({"series": f"S{i:02d}", "time": t + int(rng.integers(0, 20)), "value": y}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def panel_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "panel.csv"
    frame = panel()
    frame.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # rows in any order: sorted by time
    return path


@pytest.fixture(scope="module")
def trained(panel_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "global"
    argv = ["forecast", "train", str(panel_csv), "--id-column", "series", "--target", "value", "--season", "12",
            "--test-last", str(H), "--windows-per-series", "16", "--out", str(out), *QUICK]
    assert main(argv) == 0
    return out


def test_one_model_beats_naive_and_seasonal_naive_and_writes_the_run(trained):
    metrics = json.loads((trained / "metrics.json").read_text())
    assert set(metrics["baselines"]) - {"lstm_alone"} == {"naive", "seasonal_naive", "naive2", "theta", "ar", "ets"}
    model = metrics["model"]
    assert model["series"] == 30
    assert model["smape"] < metrics["baselines"]["seasonal_naive"]["smape"]
    assert model["smape"] < metrics["baselines"]["naive"]["smape"]
    assert model["mase"] < metrics["baselines"]["seasonal_naive"]["mase"]
    assert model["owa"] < 1.0  # beats Naive2
    assert metrics["baselines"]["naive2"]["owa"] == pytest.approx(1.0)
    for name in ("config.json", "model.safetensors", "metrics_by_series.csv", "forecasts.csv", "forecast.png"):
        assert (trained / name).is_file(), name


def test_the_forecast_is_the_candidate_with_the_lowest_validation_smape(trained, panel_csv):
    split = json.loads((trained / "metrics.json").read_text())["split"]
    scores = split["validation_smape"]
    assert set(scores) == {"lstm", "theta", "ar", "ets", "mean of lstm and theta", "mean of lstm and ar",
                           "mean of lstm and ets"}  # ETS by default (--no-ets-baseline leaves it out)
    assert split["combination"] == min(scores, key=scores.get)
    # each combination forecasts what it says: Theta's own forecast, or the mean of Theta and the network
    gf = GlobalForecaster.load(trained)
    gf.state.combination = "theta"
    as_theta = gf.evaluate(panel_csv)
    assert as_theta["model"]["smape"] == pytest.approx(as_theta["baselines"]["theta"]["smape"], rel=1e-12)
    gf.state.combination = "mean of lstm and theta"
    mean = gf.evaluate(panel_csv)["forecasts"]
    np.testing.assert_allclose(mean["forecast"], (mean["lstm_alone"] + mean["theta"]) / 2, rtol=1e-12)
    assert GlobalConfig(id_column="s", target="v", combine="lstm").combine == "lstm"
    with pytest.raises(Exception, match="combine must be one of auto, lstm"):
        GlobalConfig(id_column="s", target="v", combine="best")


def test_per_series_metrics_are_score_collection_of_the_written_forecasts(trained, panel_csv):
    frame = pd.read_csv(panel_csv).sort_values(["series", "time"])
    forecasts = pd.read_csv(trained / "forecasts.csv")
    by_series = pd.read_csv(trained / "metrics_by_series.csv")
    series = []
    for sid, part in frame.groupby("series", sort=False):
        values = part["value"].to_numpy()
        series.append(CompetitionSeries(id=sid, frequency="monthly", category="X", season=12, h=H,
                                        train=values[:-H], test=values[-H:]))
    order = {sid: i for i, sid in enumerate(by_series["series"])}
    series.sort(key=lambda s: order[s.id])
    # the actual values written are the last H values of each series
    for s in series:
        np.testing.assert_allclose(forecasts.loc[forecasts["series"] == s.id, "actual"], s.test)
    table, summary = score_collection(series, {sid: g["forecast"].to_numpy() for sid, g in forecasts.groupby("series")})
    np.testing.assert_allclose(table["smape"], by_series["smape"], rtol=1e-6)
    np.testing.assert_allclose(table["mase"], by_series["mase"], rtol=1e-6)
    metrics = json.loads((trained / "metrics.json").read_text())
    assert summary["smape"] == pytest.approx(metrics["model"]["smape"], rel=1e-6)
    assert summary["owa"] == pytest.approx(metrics["model"]["owa"], rel=1e-6)
    # baselines: the same helper on their own columns
    _, snaive = score_collection(series, {s.id: seasonal_naive(s.train, H, 12) for s in series})
    assert snaive["smape"] == pytest.approx(metrics["baselines"]["seasonal_naive"]["smape"])
    _, theta = score_collection(series, {s.id: theta_forecast(s.train, H, 12) for s in series})
    assert theta["mase"] == pytest.approx(metrics["baselines"]["theta"]["mase"])


def test_predict_every_series_or_the_named_ones_and_load_round_trip(trained, panel_csv, tmp_path, capsys):
    out = tmp_path / "all.csv"
    assert main(["forecast", "predict", str(panel_csv), "--model", str(trained), "--out", str(out)]) == 0
    every = pd.read_csv(out)
    assert list(every.columns) == ["series", "step", "forecast"]
    assert every["series"].nunique() == 30 and len(every) == 30 * H
    capsys.readouterr()
    assert main(["forecast", "predict", str(panel_csv), "--model", str(trained), "--ids", "S03", "S07"]) == 0
    some = pd.read_csv(__import__("io").StringIO(capsys.readouterr().out))
    assert list(some["series"].unique()) == ["S03", "S07"]
    np.testing.assert_allclose(some["forecast"], every.set_index("series").loc[["S03", "S07"], "forecast"], rtol=1e-5)
    # a loaded model forecasts exactly as the one in memory (here: loaded twice, and after a save)
    first = GlobalForecaster.load(trained)
    saved = first.save(tmp_path / "copy")
    a = first.predict(panel_csv)
    b = GlobalForecaster.load(saved).predict(panel_csv)
    pd.testing.assert_frame_equal(a, b)
    with pytest.raises(DataError, match="'nope'"):
        first.predict(panel_csv, ids=["nope"])
    capsys.readouterr()  # --quantize int8: test_global_runs.py
    assert main(["forecast", "predict", str(panel_csv), "--model", str(trained), "--fill", "ffill"]) == 2
    assert "--fill is not supported for a model trained with --id-column" in capsys.readouterr().err


def test_a_short_series_is_named_and_skipped_only_when_asked(tmp_path):
    frame = panel(6, seed=1)
    frame = frame[~((frame["series"] == "S02") & (frame["time"] > frame.loc[frame["series"] == "S02", "time"].min() + 30))]
    config = dict(id_column="series", target="value", time_column="time", season=12, test_last=H, epochs=1,
                  ensemble=1, hidden_size=4)
    with pytest.raises(DataError, match=r"'S02' \(31 values\).*--skip-short"):
        GlobalForecaster(GlobalConfig(**config)).fit(frame)
    gf = GlobalForecaster(GlobalConfig(**config, skip_short=True)).fit(frame)
    assert gf.state.skipped == ["S02"] and gf.state.series == 5
    result = gf.evaluate(frame)
    assert result["split"]["skipped"] == ["S02"] and result["model"]["series"] == 5
    # the model in memory and the one saved and loaded forecast the same (S02 is long enough for predict)
    loaded = GlobalForecaster.load(gf.save(tmp_path / "model"))
    pd.testing.assert_frame_equal(gf.predict(frame), loaded.predict(frame))


def test_a_missing_value_names_series_column_and_row(tmp_path):
    frame = panel(3, seed=2)
    frame.loc[70, "value"] = np.nan
    sid = frame.loc[70, "series"]
    with pytest.raises(DataError, match=rf"series '{sid}': column 'value' has a missing value at row 70"):
        GlobalForecaster(GlobalConfig(id_column="series", target="value", season=12, test_last=H)).fit(frame)
    path = tmp_path / "bad.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(DataError, match=rf"series '{sid}': column 'value' has a missing value at row 70"):
        GlobalForecaster(GlobalConfig(id_column="series", target="value", season=12, test_last=H)).check_input(path)


def test_the_command_line_refuses_a_short_series_by_name(tmp_path, capsys):
    frame = panel(4, seed=3)
    frame = frame[~((frame["series"] == "S01") & (frame["time"] > frame.loc[frame["series"] == "S01", "time"].min() + 20))]
    path = tmp_path / "short.csv"
    frame.to_csv(path, index=False)
    argv = ["forecast", "train", str(path), "--id-column", "series", "--target", "value", "--season", "12",
            "--test-last", str(H), "--out", str(tmp_path / "run"), *QUICK]
    assert main(argv) != 0
    assert "'S01' (21 values)" in capsys.readouterr().err
    assert not (tmp_path / "run" / "config.json").exists()  # refused before writing anything
    # the panel's own options on one series are refused, not ignored
    single = tmp_path / "one.csv"
    frame[frame["series"] == "S00"][["time", "value"]].to_csv(single, index=False)
    capsys.readouterr()
    assert main(["forecast", "train", str(single), "--target", "value", "--windows-per-series", "5",
                 "--out", str(tmp_path / "one"), *QUICK]) != 0
    assert "--windows-per-series applies to many series with --id-column" in capsys.readouterr().err


def test_season_and_horizon_come_from_the_competition_layout():
    frame = panel(5, seed=4)
    frame["frequency"] = "monthly"
    last = frame.groupby("series")["time"].transform("max")
    frame["split"] = np.where(frame["time"] > last - 6, "test", "train")
    gf = GlobalForecaster(GlobalConfig(id_column="series", target="value", time_column="time"))
    state, kept = gf._choose(*gf.read(frame))
    assert (state.season, state.horizon) == (12, 6)
    assert state.reasons["season"] == "the table's frequency column says monthly"
    assert state.reasons["horizon"] == "the table's split column has 6 test rows per series"
    assert all(len(s.test) == 6 for s in kept)
