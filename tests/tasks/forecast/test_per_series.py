"""The single-series forecaster as a panel baseline (``--per-series-baseline``) and its competition split
(``--test-last`` for one series)."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import main
from lstmkit.data import DataError
from lstmkit.errors import ConfigError
from lstmkit.tasks.forecast import ForecastConfig, Forecaster
from lstmkit.tasks.forecast.baselines import seasonal_naive
from lstmkit.tasks.forecast.global_config import choose_state
from lstmkit.tasks.forecast.global_model import GlobalConfig
from lstmkit.tasks.forecast.panel import read_panel
from lstmkit.tasks.forecast.per_series import per_series_forecasts
from lstmkit.tasks.forecast.run import backtest_run

H = 6
QUICK = ["--ensemble", "1", "--hidden-size", "8", "--threads", "1"]
NO_ETS = ["--no-ets-baseline"]  # the panel's ETS baseline is not what these tests are about


def seasonal(n, seed, level=100.0):
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return level * (1 + 0.3 * np.sin(2 * np.pi * t / 6)) * np.exp(0.004 * t + rng.normal(0, 0.03, n))


def test_test_last_makes_the_last_h_rows_the_test_part_and_the_h_before_them_validation(tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"value": seasonal(60, 0)}).to_csv(path, index=False)
    out = tmp_path / "run"
    assert main(["forecast", "train", str(path), "--target", "value", "--season", "6", "--horizon", str(H),
                 "--test-last", str(H), "--epochs", "3", "--out", str(out), *QUICK]) == 0
    split = json.loads((out / "metrics.json").read_text())["split"]
    assert (split["train"], split["val"], split["test"]) == ([0, 48], [48, 54], [54, 60])
    assert split["test_windows"] == 1
    assert ForecastConfig(targets=["value"], test_last=10).split(25) == (slice(0, 5), slice(5, 15), slice(15, 25))
    with pytest.raises(DataError, match="test_last 10 needs more than 20 rows .* the table has 20"):
        ForecastConfig(targets=["value"], test_last=10).split(20)
    with pytest.raises(ConfigError, match="a backtest chooses its own test parts"):
        backtest_run(ForecastConfig(targets=["value"], test_last=H), path, tmp_path / "bt")


def test_the_per_series_baseline_is_the_forecaster_trained_on_each_series_alone(tmp_path, capsys, monkeypatch):
    """Each series' per_series forecast equals ``lstmkit forecast train`` on that series alone with the
    same split; a series the forecaster refuses gets seasonal naive, and is counted."""
    lengths = {"A": 70, "B": 55, "C": 30}
    fit = Forecaster.fit

    def refuse_c(self, data, **kwargs):  # the forecaster's own refusal of a series too short for its windows
        if len(data) == lengths["C"]:
            raise DataError("too few rows")
        return fit(self, data, **kwargs)

    monkeypatch.setattr(Forecaster, "fit", refuse_c)
    frame = pd.concat([pd.DataFrame({"series": sid, "time": np.arange(n), "value": seasonal(n, i, 10.0 ** (i + 1))})
                       for i, (sid, n) in enumerate(lengths.items())], ignore_index=True)
    path = tmp_path / "panel.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "global"
    assert main(["forecast", "train", str(path), "--id-column", "series", "--target", "value", "--season", "6",
                 "--test-last", str(H), "--epochs", "3", "--per-series-baseline", "--out", str(out), *QUICK,
                 *NO_ETS]) == 0
    printed = capsys.readouterr().out
    assert "per_series: the single-series forecaster" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert {"per_series", "per_series_lstm"} <= set(metrics["baselines"])
    assert metrics["split"]["per_series"] == {"fitted": 2, "too_short (seasonal naive instead)": 1}
    forecasts = pd.read_csv(out / "forecasts.csv")
    for sid in ("A", "B"):
        alone = tmp_path / f"alone_{sid}.csv"
        frame.loc[frame["series"] == sid, ["value"]].to_csv(alone, index=False)
        run = tmp_path / f"run_{sid}"
        assert main(["forecast", "train", str(alone), "--target", "value", "--season", "6", "--horizon", str(H),
                     "--test-last", str(H), "--out", str(run), "--threads", "1"]) == 0
        single = pd.read_csv(run / "forecast.csv")
        mine = forecasts[forecasts["series"] == sid]
        np.testing.assert_allclose(mine["per_series"].to_numpy(), single["forecast"].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(mine["per_series_lstm"].to_numpy(), single["lstm_alone"].to_numpy(), rtol=1e-9)
        np.testing.assert_allclose(mine["actual"].to_numpy(), single["actual"].to_numpy())
    short = forecasts[forecasts["series"] == "C"]
    c = frame.loc[frame["series"] == "C", "value"].to_numpy()
    np.testing.assert_allclose(short["per_series"].to_numpy(), seasonal_naive(c[:-H], H, 6))


def test_per_series_forecasts_on_series_read_from_a_panel():
    cfg = GlobalConfig(id_column="series", target="value", season=6, test_last=H)
    frame = pd.DataFrame({"series": "X", "time": np.arange(50), "value": seasonal(50, 3)})
    series, attrs = read_panel(frame, cfg)
    _, kept = choose_state(cfg, series, attrs)
    forecasts, facts = per_series_forecasts(kept, H, 6)
    assert facts["fitted"] == 1 and facts["too_short"] == []
    assert forecasts["per_series"]["X"].shape == (H,)
    # better than seasonal naive on this clean seasonal series with a trend
    truth = kept[0].test
    err = np.abs(forecasts["per_series"]["X"] - truth).mean()
    assert err < np.abs(seasonal_naive(kept[0].train, H, 6) - truth).mean()


@pytest.mark.parametrize("value", [0, -6, 2.5, True, "6"])
def test_test_last_and_the_other_optional_sizes_must_be_positive_integers_or_none(value):
    assert ForecastConfig(targets=["value"], test_last=None).test_last is None
    for config in (lambda v: ForecastConfig(targets=["value"], test_last=v),
                   lambda v: ForecastConfig(targets=["value"], horizon=v),
                   lambda v: GlobalConfig(id_column="series", target="value", test_last=v)):
        with pytest.raises(ConfigError, match="must be a positive integer, got"):
            config(value)
