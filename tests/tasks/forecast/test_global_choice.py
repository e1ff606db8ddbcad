"""The global forecaster's choice on validation with ETS and AR among the candidates (``--ets-baseline``)."""
import warnings

import numpy as np
import pandas as pd
import pytest

from lstmkit.metrics.forecast import smape_m3
from lstmkit.tasks.forecast.choose import choose, forecast_label, label_parts
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster

statsmodels = pytest.importorskip("statsmodels")

H, M = 6, 12


def local_trend_panel(n_series=6, seed=0):
    """Series whose slope drifts (a local linear trend on the log scale) under a fixed season, little
    noise: Holt-Winters with a trend follows the recent slope, Theta (half the global slope) and AR (a
    fixed drift) do not, and a network trained for one epoch is far off."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(50, 70))
        t = np.arange(n)
        slope = np.cumsum(rng.normal(0, 0.004, n)) + rng.uniform(-0.02, 0.02)
        z = (np.log(10 ** rng.uniform(2, 3)) + np.cumsum(slope)
             + 0.25 * np.sin(2 * np.pi * (t + rng.integers(0, M)) / M) + rng.normal(0, 0.005, n))
        parts.append(pd.DataFrame({"series": f"S{i:02d}", "time": t, "value": np.exp(z)}))
    return pd.concat(parts, ignore_index=True)


def statsmodels_ets(history, h, m):
    """The reference: statsmodels' damped Holt-Winters on ln y (season when two seasons + 2 values), exp back."""
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    z = np.log(history)
    seasonal = "add" if 1 < m <= 24 and len(z) >= 2 * m + 2 else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = ExponentialSmoothing(z, trend="add", damped_trend=True, seasonal=seasonal,
                                   seasonal_periods=m if seasonal else None, initialization_method="estimated").fit()
    return np.exp(fit.forecast(h))


def blank_test_part(frame):
    """The table without each series' last H rows: what a user holds before the test part happens."""
    ordered = frame.sort_values(["series", "time"])
    return ordered[ordered.groupby("series").cumcount(ascending=False) >= H]


@pytest.fixture(scope="module")
def fitted():
    frame = local_trend_panel()
    config = GlobalConfig(id_column="series", target="value", time_column="time", season=M, test_last=H, epochs=1,
                          ensemble=1, hidden_size=4, ets_baseline=True)
    gf = GlobalForecaster(config).fit(frame)
    series = {sid: part["value"].to_numpy() for sid, part in frame.sort_values("time").groupby("series")}
    validation_ets = np.stack([statsmodels_ets(y[:-2 * H], H, M) for y in series.values()])
    return gf, frame, series, validation_ets, gf.evaluate(frame)


def test_ets_clearly_best_on_validation_is_the_forecast_and_predict_reproduces_it(fitted):
    gf, frame, series, validation_ets, result = fitted
    scores = gf.state.validation_smape
    assert set(scores) == {"lstm", "theta", "ar", "ets", "mean of lstm and theta", "mean of lstm and ar",
                           "mean of lstm and ets"}
    assert gf.state.combination == "ets"
    assert scores["ets"] < 0.8 * min(v for k, v in scores.items() if k != "ets")  # clearly
    # ETS fitted on each series' values before its validation window, scored there: statsmodels directly
    reference = np.mean([smape_m3(y[-2 * H:-H], f) for y, f in zip(series.values(), validation_ets)])
    assert scores["ets"] == pytest.approx(reference, rel=1e-6)
    assert result["split"]["combination"] == "ets" and result["split"]["validation_smape"] == scores
    # the test forecast is ETS refitted on the part before the test window: the ETS baseline's own numbers
    assert result["model"]["smape"] == pytest.approx(result["baselines"]["ets"]["smape"], rel=1e-12)
    forecasts = result["forecasts"]
    for sid in ("S00", "S04"):
        np.testing.assert_allclose(forecasts.loc[forecasts["series"] == sid, "forecast"],
                                   statsmodels_ets(series[sid][:-H], H, M), rtol=1e-6)
    predicted = gf.predict(blank_test_part(frame))
    np.testing.assert_allclose(predicted["forecast"], forecasts["forecast"], rtol=1e-12)


def test_the_mean_of_the_network_and_ets_wins_when_their_errors_cancel(fitted, monkeypatch):
    gf, frame, series, ets, result = fitted
    truth = np.stack([y[-2 * H:-H] for y in series.values()])
    # a network erring the other way, by 1.5 times ETS's error: worse than ETS alone, its mean with ETS errs by a quarter
    network = truth + 1.5 * (truth - ets)
    monkeypatch.setattr(gf, "_forecast_histories", lambda histories: network[:, :, None])
    state = (gf.state.combination, dict(gf.state.validation_smape))
    try:
        kept = gf._choose(*gf.read(frame))[1]
        gf._choose_combination(kept)
        scores = gf.state.validation_smape
        assert gf.state.combination == "mean of lstm and ets"
        expected = np.mean([smape_m3(y, f) for y, f in zip(truth, truth + 0.25 * (truth - ets))])
        assert scores["mean of lstm and ets"] == pytest.approx(expected, rel=1e-5)
        assert scores["ets"] < scores["lstm"]
        monkeypatch.undo()  # the real network from here: predict's mean is that of the test part's forecasts
        forecasts = result["forecasts"].set_index("series").loc[["S03", "S01"]]
        predicted = gf.predict(blank_test_part(frame), ids=["S03", "S01"])
        expected_rows = (forecasts["lstm_alone"] + forecasts["ets"]) / 2
        # float32 network: another batch (2 series, not 6) may round its last bit differently
        np.testing.assert_allclose(predicted["forecast"], expected_rows, rtol=1e-6)
    finally:
        gf.state.combination, gf.state.validation_smape = state


def test_without_ets_baseline_ets_is_no_candidate_and_ar_is():
    gf = GlobalForecaster(GlobalConfig(id_column="s", target="v", ets_baseline=False))
    assert gf._candidates() == ("theta", "ar")
    assert GlobalForecaster(GlobalConfig(id_column="s", target="v"))._candidates() == ("theta", "ar", "ets")


def test_each_mean_is_a_candidate_and_labels_round_trip():
    truth = np.zeros((4, 3))
    network, best, opposite = truth + 2.0, truth + 1.0, truth - 1.5  # best alone: +1; the mean with opposite: +0.25
    mae = lambda f: float(np.abs(f - truth).mean())  # noqa: E731
    assert choose(network, {"best": best, "opposite": opposite}, mae)["forecast"] == "best"  # one mean only
    picked = choose(network, {"best": best, "opposite": opposite}, mae, means="each")
    assert (picked["kind"], picked["baseline"], picked["best_baseline"]) == ("mean", "opposite", "best")
    assert picked["scores"]["mean of lstm and opposite"] == pytest.approx(0.25)
    assert picked["gain_vs_best_baseline"] == pytest.approx(0.75)
    assert label_parts("lstm") == ("lstm", None) and label_parts("ets") == ("baseline", "ets")
    assert label_parts("mean of lstm and ets") == ("mean", "ets")
    for label in ("theta", "mean of lstm and seasonal_naive_12"):
        assert forecast_label(*label_parts(label)) == label
