"""Never lose to the obvious baseline: several seasons, MSTL, ETS in one pass, and the choice on validation."""
import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import build_parser
from lstmkit.tasks.forecast import ForecastConfig, Forecaster
from lstmkit.tasks.forecast import baselines as fb
from lstmkit.tasks.forecast.candidates import MIN_HOLDOUT_WINDOWS, choice_report, chosen_forecast, validation_parts
from lstmkit.tasks.forecast.config import ForecastState
from lstmkit.tasks.forecast.choose import choose, combine
from lstmkit.tasks.forecast.cli import _config

statsmodels = pytest.importorskip("statsmodels")


# ------------------------------------------------------------------------------------------ choose
def test_early_stopping_and_the_choice_split_the_validation_part_when_each_half_has_enough_windows():
    state = ForecastState(season=1, horizon=7, input_width=10, seasons_averaged=1, lag=7, freq=None,
                          baseline_residual=True, log_targets=[False], target_scale=[1.0], feature_scaler=None,
                          time_column=None, split={})
    # 40 rows: halves of 20 rows, 14 windows of 7 steps each
    assert validation_parts(state, slice(100, 140), "auto") == (slice(100, 120), slice(120, 140), True)
    assert validation_parts(state, slice(100, 140), "lstm") == (slice(100, 140), slice(100, 140), False)
    # halves of 7 + MIN_HOLDOUT_WINDOWS - 2 rows hold one window too few: the whole part for both
    short = slice(100, 100 + 2 * (7 + MIN_HOLDOUT_WINDOWS - 2))
    assert validation_parts(state, short, "auto") == (short, short, False)
    enough = slice(100, 100 + 2 * (7 + MIN_HOLDOUT_WINDOWS - 1))
    assert validation_parts(state, enough, "auto")[2] is True


def _mae(truth):
    return lambda forecast: float(np.abs(forecast - truth).mean())


def test_the_mean_wins_when_errors_cancel_and_the_gains_say_by_how_much():
    truth = np.zeros((5, 3, 1))
    network, below, far = truth + 2.0, truth - 1.0, truth + 3.0
    picked = choose(network, {"below": below, "far": far}, _mae(truth))
    assert (picked["kind"], picked["baseline"], picked["forecast"]) == ("mean", "below", "mean of lstm and below")
    assert picked["scores"] == {"lstm": 2.0, "below": 1.0, "far": 3.0, "mean of lstm and below": 0.5}
    assert picked["gain_vs_lstm"] == pytest.approx(0.75) and picked["gain_vs_best_baseline"] == pytest.approx(0.5)
    np.testing.assert_array_equal(combine("mean", network, below), truth + 0.5)


def test_the_network_or_the_baseline_alone_and_ties_go_to_the_network():
    truth = np.zeros((4, 2, 1))
    assert choose(truth + 1.0, {"b": truth + 1.5}, _mae(truth))["kind"] == "lstm"  # same side: the mean is between
    picked = choose(truth + 3.0, {"b": truth + 1.0}, _mae(truth))
    assert (picked["kind"], picked["forecast"], picked["gain_vs_best_baseline"]) == ("baseline", "b", 0.0)
    assert choose(truth + 1.0, {"b": truth - 1.0 + 0.0}, lambda f: 1.0)["kind"] == "lstm"
    blown = choose(truth + 1.0, {"nan": truth + np.nan, "b": truth + 2.0}, _mae(truth))  # NaN never wins
    assert (blown["baseline"], blown["scores"]["nan"]) == ("b", float("inf"))


# -------------------------------------------------------------------------------- ETS in one pass
def _ets_per_origin(z, origins, horizon, season, fit_end):
    """The reference: statsmodels re-run over z[:T] at every origin with the parameters fitted once."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    seasonal = "add" if 1 < season <= 24 and fit_end >= 2 * season + 2 else None
    spec = dict(trend="add", damped_trend=True, seasonal=seasonal, seasonal_periods=season if seasonal else None)
    out = np.empty((len(origins), horizon, z.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for k in range(z.shape[1]):
            p = ExponentialSmoothing(z[:fit_end, k], initialization_method="estimated", **spec).fit().params
            known = dict(initialization_method="known", initial_level=p["initial_level"],
                         initial_trend=p["initial_trend"], initial_seasonal=p["initial_seasons"] if seasonal else None)
            smoothing = dict(smoothing_level=p["smoothing_level"], smoothing_trend=p["smoothing_trend"],
                             damping_trend=p["damping_trend"], optimized=False)
            if seasonal:
                smoothing["smoothing_seasonal"] = p["smoothing_seasonal"]
            for i, origin in enumerate(origins):
                model = ExponentialSmoothing(z[:origin, k], **spec, **known).fit(**smoothing)
                out[i, :, k] = model.forecast(horizon)
    return out


@pytest.mark.parametrize("season", [1, 4])
def test_ets_in_one_pass_equals_statsmodels_rerun_at_every_origin(season):
    rng = np.random.default_rng(season)
    t = np.arange(60)
    z = np.stack([5 + 0.05 * t + np.sin(2 * np.pi * t / 4) + rng.normal(0, 0.2, 60),
                  np.cumsum(rng.normal(0, 1, 60))], axis=1)
    origins = np.array([40, 41, 47, 54])
    ours = fb.ets_forecast(z, origins, 6, season, fit_end=40)  # horizon 6 > m: statsmodels' seasonal indexing
    np.testing.assert_allclose(ours, _ets_per_origin(z, origins, 6, season, 40), rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------------------- MSTL
def test_mstl_recovers_two_seasons_better_than_either_seasonal_naive():
    from lstmkit.tasks.forecast.mstl import _continued, mstl_forecast

    np.testing.assert_array_equal(_continued(np.arange(6.0), 3, 10), [0, 1, 2, 3, 4, 5, 3, 4, 5, 3])
    rng = np.random.default_rng(0)
    t = np.arange(600)
    # periods 7 and 24 (a common cycle of 168 steps): each seasonal naive misses the other season
    signal = 0.002 * t + np.sin(2 * np.pi * t / 7) + 0.8 * np.sin(2 * np.pi * t / 24)
    z = (signal + rng.normal(0, 0.1, len(t)))[:, None]
    origins = np.arange(480, 595)
    rows = origins[:, None] + np.arange(6)[None, :]
    mstl = mstl_forecast(z, origins, 6, [7, 24], fit_end=480)[:, :, 0]
    error = np.abs(mstl - signal[rows]).mean()  # against the noise-free signal: a tenth of the seasons' swing
    assert error < 0.15
    for season in (7, 24):
        naive = fb.seasonal_naive_forecast(z, origins, 6, season)[:, :, 0]
        assert error < 0.2 * np.abs(naive - signal[rows]).mean()
    assert mstl_forecast(z, origins, 6, [400], fit_end=480) is None  # 400 does not fit twice into 480 rows


# ------------------------------------------------------------------------------ the forecaster
def hourly_demand(weeks=5, seed=0):
    """A daily cycle, a weekend dip (a weekly cycle) and noise: the weekly seasonal naive beats the daily."""
    rng = np.random.default_rng(seed)
    time = pd.date_range("2024-01-01", periods=168 * weeks, freq="h")
    hours = np.arange(len(time))
    weekend = np.asarray(time.day_of_week >= 5)
    demand = 100 + 10 * np.sin(2 * np.pi * hours / 24) - 15 * weekend + rng.normal(0, 1.0, len(time))
    return pd.DataFrame({"time": time, "demand": demand})


@pytest.fixture(scope="module")
def fitted():
    df = hourly_demand()
    config = ForecastConfig(targets=["demand"], time_column="time", epochs=2, ensemble=1, hidden_size=8)
    fc = Forecaster(config).fit(df)
    return fc, df, fc.evaluate(df)


def test_every_season_gets_a_seasonal_naive_and_mstl_uses_both(fitted):
    fc, df, result = fitted
    split, b = result["split"], result["baselines"]
    assert (split["season"], split["horizon"]) == (24, 24)
    assert split["seasons"] == split["mstl_seasons"] == [24, 168]
    assert list(b) == ["lstm_alone", "naive", "seasonal_naive", "seasonal_naive_168", "ets", "ar", "mstl"]
    # the weekly seasonal naive by hand: y[T + h - 168]
    forecasts = result["forecasts"]
    rows = pd.Index(df["time"]).get_indexer(pd.to_datetime(forecasts["time"]))
    np.testing.assert_allclose(forecasts["seasonal_naive_168"], df["demand"].to_numpy()[rows - 168])
    assert b["seasonal_naive_168"]["mase"] < 0.7 * b["seasonal_naive"]["mase"]  # the weekend dip
    assert b["mstl"]["mase"] < b["seasonal_naive_168"]["mase"]


def test_the_choice_is_never_worse_on_validation_than_any_baseline(fitted):
    fc, df, result = fitted
    choice, s = result["choice"], fc.state
    scores = choice["validation_mase"]
    assert set(scores) >= {"lstm", *(name for name in result["baselines"] if name != "lstm_alone")}
    assert scores[choice["forecast"]] <= min(scores.values()) + 1e-12
    # early stopping watched the first half of the validation part, the choice was made on the second
    train_end, (val_start, val_end) = s.split["train"][1], s.split["val"]
    middle = (val_start + val_end) // 2
    assert s.split["early_stopping"] == [val_start, middle]
    # ... and the best validation loss of the history is the restored model's loss on the first half only
    import torch

    from lstmkit.tasks.forecast import windows
    from lstmkit.tasks.forecast.model import pinball_loss

    x, base, target = windows.dataset(s, fc._prepare(fc.read(df)), slice(val_start, middle)).tensors
    with torch.no_grad():
        loss = float(pinball_loss(fc.config.quantiles)(fc.model.eval()((x, base)), target))
    assert loss == pytest.approx(min(row["val_loss"] for row in fc.history), rel=1e-5)
    assert choice["validation_rows"] == [middle, val_end] and choice["holdout"] is True
    # the weekly seasonal naive's MASE there by hand: origins whose day lies in the second half,
    # scaled by the training part's mean |y_t - y_{t-24}|
    y = df["demand"].to_numpy()
    origins = np.arange(middle, val_end - 24 + 1)
    assert choice["validation_windows"] == len(origins)
    rows = origins[:, None] + np.arange(24)[None, :]
    scale = np.abs(y[24:train_end] - y[:train_end - 24]).mean()
    assert scores["seasonal_naive_168"] == pytest.approx(np.abs(y[rows] - y[rows - 168]).mean() / scale, rel=1e-12)
    assert choice["gain_vs_best_baseline"] >= 0


def test_the_forecast_is_the_chosen_combination_in_metrics_csv_and_predict(fitted, tmp_path):
    fc, df, result = fitted
    s, forecasts = fc.state, result["forecasts"]
    parts = {"lstm": forecasts["lstm_alone"], "baseline": forecasts.get(s.combination_baseline)}
    expected = {"lstm": parts["lstm"], "baseline": parts["baseline"],
                "mean": None if parts["baseline"] is None else (parts["lstm"] + parts["baseline"]) / 2}
    np.testing.assert_allclose(forecasts["forecast"], expected[s.combination], rtol=1e-12)
    # predict: force each kind and check it against its parts (the weekly seasonal naive by hand)
    y, n = df["demand"].to_numpy(), len(df)
    weekly_naive = y[n - 168: n - 168 + 24]
    saved = (s.combination, s.combination_baseline)
    try:
        s.combination, s.combination_baseline = "lstm", None
        network = fc.predict(df)["forecast"].to_numpy()
        s.combination, s.combination_baseline = "baseline", "seasonal_naive_168"
        np.testing.assert_allclose(fc.predict(df)["forecast"], weekly_naive)
        s.combination = "mean"
        np.testing.assert_allclose(fc.predict(df)["forecast"], (network + weekly_naive) / 2)
        with pytest.raises(Exception, match="predict needs at least 168 rows"):
            fc.predict(df.iloc[-150:])  # the weekly seasonal naive needs a week of history
    finally:
        s.combination, s.combination_baseline = saved
    fc.save(tmp_path / "run")
    loaded = Forecaster.load(tmp_path / "run")
    assert (loaded.state.combination, loaded.state.choice) == (s.combination, s.choice)
    pd.testing.assert_frame_equal(loaded.predict(df), fc.predict(df))


def test_combine_lstm_is_the_network_alone(fitted, tmp_path):
    fc, df, result = fitted
    lstm = dataclasses.replace(fc.state, combination="lstm", combination_baseline=None, choice={"combine": "lstm"})
    network = result["forecasts"]["lstm_alone"].to_numpy()
    assert chosen_forecast(lstm, network, {}) is network
    assert choice_report(lstm, {**result, "model": result["baselines"]["lstm_alone"]})["forecast"] == "lstm"
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    args = build_parser().parse_args(["forecast", "train", str(path), "--target", "demand", "--combine", "lstm"])
    assert _config(args).combine == "lstm"
    assert _config(build_parser().parse_args(["forecast", "train", str(path), "--target", "demand"])).combine == "auto"
