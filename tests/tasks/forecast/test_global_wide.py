"""A wide table (a time column, one column per series) is the long table it converts to."""
import json

import numpy as np
import pandas as pd
import pytest

from lstmkit.cli import main
from lstmkit.data import DataError
from lstmkit.errors import ConfigError
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster

H = 6
QUICK = ["--epochs", "3", "--ensemble", "1", "--hidden-size", "8", "--threads", "1", "--no-ets-baseline"]


def long_panel(n_series=8, seed=3):
    """Seasonal series that start and end at different times (numeric time axis), plus a shared holiday flag."""
    rng = np.random.default_rng(seed)
    parts = []
    for i in range(n_series):
        start, n = int(rng.integers(0, 20)), int(rng.integers(50, 80))
        t = np.arange(start, start + n)
        y = 10 ** rng.uniform(1, 3) * (1 + 0.3 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, 0.05, n))
        parts.append(pd.DataFrame({"series": f"S{i}", "time": t, "value": y, "holiday": (t % 12 == 5).astype(float)}))
    return pd.concat(parts, ignore_index=True)


def as_wide(frame):
    wide = frame.pivot(index="time", columns="series", values="value")
    wide.insert(0, "holiday", (wide.index.to_numpy() % 12 == 5).astype(float))
    wide.columns.name = None
    return wide.reset_index()


def test_a_wide_table_trains_and_forecasts_as_its_long_layout():
    frame = long_panel()
    wide = as_wide(frame)
    assert wide[["S0", "S1"]].isna().any().any()  # the series start and end at different rows
    common = dict(season=12, test_last=H, epochs=3, ensemble=1, hidden_size=8, time_column="time",
                  future_features=["holiday"], ets_baseline=False)
    long_model = GlobalForecaster(GlobalConfig(id_column="series", target="value", **common)).fit(frame)
    wide_model = GlobalForecaster(GlobalConfig(id_column="series", target="value", wide=True, **common)).fit(wide)
    long_result, wide_result = long_model.evaluate(frame), wide_model.evaluate(wide)
    assert long_result["model"] == wide_result["model"]
    pd.testing.assert_frame_equal(long_result["forecasts"], wide_result["forecasts"])
    # the horizon's holidays: rows after the last value of every series (the wide table's shared column)
    future = pd.DataFrame({"time": wide["time"].max() + 1 + np.arange(H)})
    future["holiday"] = (future["time"] % 12 == 5).astype(float)
    wide_future = pd.concat([wide, future], ignore_index=True)
    long_future = pd.concat([frame] + [pd.DataFrame({"series": sid, "time": future["time"], "value": np.nan,
                                                     "holiday": future["holiday"]})
                                       for sid in frame["series"].unique()], ignore_index=True)
    # a series that ended early has the rows to the table's end, so its future rows start right after it
    ended_early = [c for c in wide.columns[2:] if wide[c].last_valid_index() < len(wide) - 1]
    only_full = [sid for sid in frame["series"].unique() if sid not in ended_early]
    pd.testing.assert_frame_equal(wide_model.predict(wide_future, ids=only_full),
                                  long_model.predict(long_future, ids=only_full))
    # series_columns picks some of the columns
    some = GlobalForecaster(GlobalConfig(id_column="series", target="value", wide=True,
                                         series_columns=["S1", "S4", "S0"], **common))
    assert [s.id for s in some.read(wide)[0]] == ["S1", "S4", "S0"]


def test_the_command_line_takes_a_wide_table(tmp_path, capsys):
    frame = long_panel()
    wide = as_wide(frame).drop(columns="holiday")
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    out = tmp_path / "run"
    assert main(["forecast", "train", str(path), "--wide", "--season", "12", "--test-last", str(H),
                 "--out", str(out), *QUICK]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"]["series"] == 8
    long_path = tmp_path / "long.csv"
    frame.drop(columns="holiday").to_csv(long_path, index=False)
    assert main(["forecast", "train", str(long_path), "--id-column", "series", "--target", "value", "--season", "12",
                 "--test-last", str(H), "--out", str(tmp_path / "long"), *QUICK]) == 0
    assert json.loads((tmp_path / "long" / "metrics.json").read_text())["model"] == metrics["model"]
    capsys.readouterr()
    assert main(["forecast", "predict", str(path), "--model", str(out), "--ids", "S3"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "series,step,forecast"
    assert main(["forecast", "train", str(path), "--wide", "--id-column", "series", "--out", str(tmp_path / "x")]) == 2
    assert "--wide and --id-column exclude each other" in capsys.readouterr().err


def test_a_gap_inside_a_wide_column_or_a_column_of_text_is_named():
    wide = as_wide(long_panel()).drop(columns="holiday")
    config = GlobalConfig(id_column="series", target="value", wide=True, time_column="time", season=12, test_last=H)
    first = int(wide["S2"].first_valid_index())
    wide.loc[first + 3, "S2"] = np.nan
    with pytest.raises(DataError, match=rf"series 'S2' \(a column of the wide table\) has a missing value at row "
                                        rf"{first + 3}, between its first value \(row {first}\)"):
        GlobalForecaster(config).check_input(wide)
    wide = as_wide(long_panel()).drop(columns="holiday").assign(note="x")
    with pytest.raises(DataError, match=r"series 'note' .* non-numeric .* name the series columns with --target"):
        GlobalForecaster(config).check_input(wide)
    with pytest.raises(ConfigError, match="static features need the long layout"):
        GlobalConfig(id_column="series", target="value", wide=True, static_features=["kind"])
