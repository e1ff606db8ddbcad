"""The global model's covariates: future-known features, the calendar, static features (and their network)."""
import json

import numpy as np
import pandas as pd
import pytest
import torch

from lstmkit.cli import main
from lstmkit.data import DataError
from lstmkit.errors import ConfigError
from lstmkit.tasks.forecast.covariates import series_covariates
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster
from lstmkit.tasks.forecast.global_net import GlobalForecastNet
from lstmkit.tasks.forecast.model import ForecastNet

H = 12
LIFT = 0.5  # a promotion multiplies sales by exp(0.5) = 1.65
QUICK = dict(id_column="series", target="value", time_column="time", season=12, test_last=H, epochs=30, ensemble=1,
             hidden_size=16, combine="lstm", windows_per_series=16, ets_baseline=False)


def promo_panel(n_series=24, seed=0):
    """Seasonal sales with planned promotions (a 0/1 flag known ahead, on about one step in five) that
    lift sales by the factor exp(LIFT); two kinds of product."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(70, 100))
        t = np.arange(n)
        promo = (rng.random(n) < 0.2).astype(float)
        y = (10 ** rng.uniform(1, 3) * (1 + 0.2 * np.sin(2 * np.pi * (t + rng.integers(0, 12)) / 12))
             * np.exp(LIFT * promo + rng.normal(0, 0.03, n)))
        parts.append(pd.DataFrame({"series": f"S{i:02d}", "time": t, "value": y, "promo": promo, "kind": "ab"[i % 2]}))
    return pd.concat(parts, ignore_index=True)


def with_future_rows(frame, promo, n=H):
    """The table plus n rows per series after its last value: target empty, the given promotion flag."""
    rows = [pd.DataFrame({"series": sid, "time": part["time"].max() + 1 + np.arange(n), "value": np.nan,
                          "promo": promo, "kind": part["kind"].iloc[0]})
            for sid, part in frame.groupby("series", sort=False)]
    return pd.concat([frame, *rows], ignore_index=True)


@pytest.fixture(scope="module")
def frame():
    return promo_panel()


@pytest.fixture(scope="module")
def promo_model(frame):
    return GlobalForecaster(GlobalConfig(**QUICK, future_features=["promo"], static_features=["kind"])).fit(frame)


def test_known_promotions_lower_the_error_and_lift_the_forecast_by_their_effect(frame, promo_model):
    blind = GlobalForecaster(GlobalConfig(**QUICK)).fit(frame).evaluate(frame)
    informed = promo_model.evaluate(frame)
    # measured: sMAPE 18.1 without the promotions, 4.5 with them
    assert informed["model"]["smape"] < 0.5 * blind["model"]["smape"]
    assert informed["model"]["smape"] < informed["baselines"]["seasonal_naive"]["smape"] / 2
    assert informed["split"]["covariates"] == ["promo"] and informed["split"]["static_features"] == ["kind"]
    # the same history forecast with a promotion at every horizon step vs none: the ratio is the lift
    ratio = promo_model.predict(with_future_rows(frame, 1.0))["forecast"] / \
        promo_model.predict(with_future_rows(frame, 0.0))["forecast"]
    assert abs(np.log(ratio.median()) - LIFT) < 0.12  # measured 1.56 against exp(0.5) = 1.65


def test_predict_reads_the_horizon_covariates_from_the_rows_after_each_series(frame, promo_model):
    # the test parts' targets emptied: predict forecasts them from the same history and the same
    # promotions as the evaluation did
    emptied = frame.copy()
    last = emptied.groupby("series")["time"].transform("max")
    emptied.loc[emptied["time"] > last - H, "value"] = np.nan
    evaluated = promo_model.evaluate(frame)["forecasts"]
    predicted = promo_model.predict(emptied)
    assert list(predicted["series"]) == list(evaluated["series"])
    np.testing.assert_allclose(predicted["forecast"], evaluated["forecast"], rtol=1e-9)


def test_predict_without_the_horizon_covariates_is_refused_in_one_line(frame, promo_model, tmp_path, capsys):
    with pytest.raises(DataError, match=r"series 'S00': the forecast of 12 steps needs the future features promo "
                                        r"for the 12 rows after its last value, found them for 0; add those rows"):
        promo_model.predict(frame)
    partial = with_future_rows(frame, 1.0, n=5)
    with pytest.raises(DataError, match=r"found them for 5;"):
        promo_model.predict(partial)
    gap = with_future_rows(frame, 1.0)
    gap.loc[gap.index[(gap["series"] == "S03") & gap["value"].isna()][-1], "promo"] = np.nan  # the last step's
    with pytest.raises(DataError, match=r"series 'S03'.*found them for 11;"):
        promo_model.predict(gap)
    # a gap in the covariates where the target is known is refused by name, series and row
    broken = frame.copy()
    broken.loc[5, "promo"] = np.nan
    with pytest.raises(DataError, match=r"series 'S00': column 'promo' has a missing value at row 5"):
        promo_model.predict(broken)
    # the command line: exit 2 and that one line
    run = promo_model.save(tmp_path / "run")
    path = tmp_path / "no_future.csv"
    frame.to_csv(path, index=False)
    assert main(["forecast", "predict", str(path), "--model", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "needs the future features promo for the 12 rows" in err


def test_static_features_round_trip_through_the_run_directory(frame, promo_model, tmp_path, caplog):
    saved = json.loads((promo_model.save(tmp_path / "m") / "config.json").read_text())
    assert saved["model_type"] == "forecaster_global"
    assert saved["data"]["static_categories"] == {"kind": ["a", "b"]}
    assert saved["task"]["static_features"] == ["kind"] and saved["task"]["future_features"] == ["promo"]
    loaded = GlobalForecaster.load(tmp_path / "m")
    future = with_future_rows(frame, 0.0)
    pd.testing.assert_frame_equal(promo_model.predict(future), loaded.predict(future))
    # the embedding is used: the same history as the other kind forecasts differently
    swapped = future.assign(kind=future["kind"].map({"a": "b", "b": "a"}))
    assert not np.allclose(loaded.predict(swapped)["forecast"], loaded.predict(future)["forecast"])
    # a kind never seen in training is forecast with the "unseen" code, and said
    unseen = future.assign(kind=np.where(future["series"] == "S01", "c", future["kind"]))
    assert len(loaded.predict(unseen)) == 24 * H
    assert "static categories not seen in training" in caplog.text and "'S01' (kind 'c')" in caplog.text
    changing = frame.copy()
    changing.loc[changing.index[3], "kind"] = "b"  # S00 is kind "a"
    with pytest.raises(DataError, match=r"series 'S00': static feature 'kind' changes within the series "
                                        r"\('a' at row 0, 'b' at row 3\)"):
        loaded.predict(changing)


def monthly_panel(n_series=6, freq="MS"):
    rng = np.random.default_rng(1)
    parts = []
    for i in range(n_series):
        n = int(rng.integers(60, 80))
        dates = pd.date_range(pd.Timestamp("2001-01-01") + pd.DateOffset(months=i), periods=n, freq=freq)
        parts.append(pd.DataFrame({"series": f"M{i}", "time": dates.strftime("%Y-%m-%d"),
                                   "value": 100 * np.exp(rng.normal(0, 0.1, n))}))
    return pd.concat(parts, ignore_index=True)


def test_the_calendar_encodes_the_month_and_continues_past_the_end_of_each_series():
    frame = monthly_panel()
    config = dict(QUICK, season=None, epochs=2, hidden_size=4, calendar=True)
    gf = GlobalForecaster(GlobalConfig(**config)).fit(frame)
    assert gf.state.calendar == ["month_of_year"] and gf.state.freq == "MS"
    assert gf.state.covariates == ["month_of_year_sin", "month_of_year_cos"]
    series = gf.read(frame)[0][2]
    n = len(series.train)
    values = series_covariates(gf.state, series, n + 3)  # three months past the table's last row
    months = pd.date_range(pd.Timestamp(series.times[0]), periods=n + 3, freq="MS").month.to_numpy()
    angle = 2 * np.pi * (months - 1) / 12
    np.testing.assert_allclose(values, np.stack([np.sin(angle), np.cos(angle)], axis=1), atol=1e-12)
    assert len(gf.predict(frame)) == 6 * H  # a calendar needs no future rows
    yearly = monthly_panel(freq="YS")
    with pytest.raises(DataError, match="yearly data"):
        GlobalForecaster(GlobalConfig(**dict(config, season=1, test_last=3))).check_input(yearly)
    with pytest.raises(ConfigError, match="calendar features need a time column"):
        GlobalConfig(**dict(config, time_column=None))


def test_without_covariates_the_network_is_the_forecasters_and_with_them_it_starts_at_the_baseline():
    torch.manual_seed(0)
    reference = ForecastNet(2, 1, 5, [0.1, 0.5, 0.9], hidden_size=6, members=2).double()
    ours = GlobalForecastNet(2, 5, quantiles=[0.1, 0.5, 0.9], hidden_size=6, members=2).double()
    ours.lstms.load_state_dict(reference.lstms.state_dict())
    with torch.no_grad():
        for mine, theirs in zip(ours.heads, reference.heads):
            torch.nn.init.normal_(theirs.weight)
            mine.weight.copy_(theirs.weight)
    x, base = torch.randn(4, 9, 2, dtype=torch.float64), torch.randn(4, 5, 1, dtype=torch.float64)
    empty = torch.zeros(4, 5, 0, dtype=torch.float64)
    expected = reference.eval()((x, base))
    got = ours.eval()((x, base, empty, empty, torch.zeros(4, 0, dtype=torch.long)))
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    conditioned = GlobalForecastNet(5, 5, n_known=3, static_sizes=[2, 7], hidden_size=6, members=2).eval()
    x = torch.randn(4, 9, 5)
    known, static = torch.randn(4, 5, 3), torch.tensor([[0, 7], [1, 0], [2, 3], [1, 1]])
    inputs = (x, base.float(), known, known, static)
    torch.testing.assert_close(conditioned(inputs)[:, :, 0, 0], base.float()[..., 0])
    for layer in conditioned.heads:  # member k alone is the k-th of the stacked members (TrainConfig.backward_by_member)
        torch.nn.init.normal_(layer.weight)
    torch.testing.assert_close(conditioned(inputs, member=1), conditioned.train()(inputs)[1])


def test_the_command_line_takes_the_covariate_options(frame, tmp_path, capsys):
    path = tmp_path / "promo.csv"
    frame.to_csv(path, index=False)
    out = tmp_path / "run"
    argv = ["forecast", "train", str(path), "--id-column", "series", "--target", "value", "--season", "12",
            "--test-last", str(H), "--future-features", "promo", "--static-features", "kind", "--epochs", "2",
            "--ensemble", "1", "--hidden-size", "4", "--threads", "1", "--out", str(out)]
    assert main(argv) == 0
    assert "the network reads future-known features: promo; static features: kind" in capsys.readouterr().out
    future = tmp_path / "future.csv"
    with_future_rows(frame, 1.0).to_csv(future, index=False)
    assert main(["forecast", "predict", str(future), "--model", str(out), "--ids", "S02"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 1 + H
    one = tmp_path / "one.csv"
    frame[frame["series"] == "S00"][["time", "value", "promo"]].to_csv(one, index=False)
    assert main(["forecast", "train", str(one), "--target", "value", "--future-features", "promo",
                 "--out", str(tmp_path / "one")]) == 2
    assert "--future-features applies to many series with --id-column or --wide" in capsys.readouterr().err
