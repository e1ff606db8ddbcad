"""Sampling frequencies and the seasons they imply.

:func:`infer_frequency` finds a time axis's frequency even with gaps; :func:`seasonal_period` and
:func:`infer_season` turn it into the main seasonal period in steps, with a rule that gives the same
answer on every pandas the project supports (pandas 3.0 made ``Day`` a calendar offset, so nothing
here converts an offset to a ``Timedelta``). :func:`infer_seasons` lists every season the data is
long enough for (daily and weekly for half-hourly data covering weeks), for multi-season baselines.
"""
from __future__ import annotations

import logging
import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from lstmkit.data.errors import DataError

__all__ = ["infer_frequency", "infer_season", "infer_seasons", "seasonal_period"]

logger = logging.getLogger(__name__)

# Gaps break pandas.infer_freq on the whole index, so the frequency of a gappy series is the most
# common one among short runs of _CHUNK consecutive timestamps, at up to _MAX_CHUNKS evenly spaced
# positions (a few ms even for long series).
_CHUNK = 4
_MAX_CHUNKS = 256


def _infer_freq(times: pd.DatetimeIndex) -> str | None:
    with warnings.catch_warnings():
        # pandas >= 3.1 warns that infer_freq will return an offset; to_offset() accepts both.
        warnings.filterwarnings("ignore", message=".*infer_freq.*")
        try:
            found = pd.infer_freq(times)
        except (TypeError, ValueError):
            return None
    return None if found is None else to_offset(found).freqstr


def infer_frequency(times: Any) -> str:
    """The pandas offset alias (``"D"``, ``"MS"``, ``"h"``, ...) of a regular time index.

    ``times`` is anything :class:`pandas.DatetimeIndex` accepts (sorted). If
    :func:`pandas.infer_freq` fails on the whole index (typically because of gaps), the answer is
    the most common frequency among runs of 4 consecutive timestamps, so a series with a few
    missing days is still daily. Raises :class:`DataError` if no frequency can be inferred.
    """
    index = pd.DatetimeIndex(times)
    if len(index) < 3:
        raise DataError(f"cannot infer a frequency from {len(index)} timestamp(s); need at least 3")
    found = _infer_freq(index)
    if found is not None:
        return found
    votes: Counter[str] = Counter()
    last = max(len(index) - _CHUNK, 0)
    for start in np.unique(np.linspace(0, last, min(last + 1, _MAX_CHUNKS)).astype(int)):
        chunk = _infer_freq(index[start : start + _CHUNK])
        if chunk is not None:
            votes[chunk] += 1
    if not votes:
        raise DataError(
            "cannot infer a regular frequency from the timestamps (they look irregular); "
            "state it with freq='<pandas offset alias>' or skip the check with freq=None"
        )
    return votes.most_common(1)[0][0]


# Offset classes by the seasonal cycle their steps follow. Compared by class, never through
# pd.Timedelta(offset): pandas 3.0 made Day a calendar offset (no longer a Tick), so
# pd.Timedelta(Day()) raises there (it works on 2.x and again on 3.1).
_YEARLY_CLASSES = ("YearBegin", "YearEnd", "BYearBegin", "BYearEnd", "FY5253", "Easter")
_CALENDAR_RULES = (  # (class names, steps per cycle at k=1, kind of data, cycle)
    (("QuarterBegin", "QuarterEnd", "BQuarterBegin", "BQuarterEnd", "FY5253Quarter"), 4, "quarterly", "yearly"),
    (("MonthBegin", "MonthEnd", "BusinessMonthBegin", "BusinessMonthEnd", "CustomBusinessMonthBegin",
      "CustomBusinessMonthEnd", "WeekOfMonth", "LastWeekOfMonth"), 12, "monthly", "yearly"),
    (("SemiMonthBegin", "SemiMonthEnd"), 24, "semi-monthly", "yearly"),
    (("Week",), 52, "weekly", "yearly"),
    (("BusinessDay", "CustomBusinessDay"), 5, "business-daily", "weekly (business week)"),
)
_NS_PER_DAY = 86_400 * 10**9


def _offset_classes(names: Sequence[str]) -> tuple[type, ...]:
    return tuple(getattr(pd.offsets, name) for name in names if hasattr(pd.offsets, name))


def _as_offset(freq_or_times: Any, n: int | None) -> tuple[Any, int | None]:
    """The offset of a frequency (alias or offset), or of timestamps (then ``n`` defaults to their count)."""
    if isinstance(freq_or_times, (str, pd.offsets.BaseOffset)):
        return to_offset(freq_or_times), n
    times = pd.DatetimeIndex(freq_or_times)
    return to_offset(infer_frequency(times)), len(times) if n is None else n


def _step_nanos(offset: Any) -> int | None:
    """The length of one step in nanoseconds for Day and the fixed-length (Tick) offsets; None for others."""
    if isinstance(offset, pd.offsets.Day):  # a Tick on pandas 2.x, a calendar offset on 3.x
        return offset.n * _NS_PER_DAY
    if isinstance(offset, pd.offsets.Tick):  # Hour, Minute, Second, Milli, Micro, Nano on every pandas
        return int(offset.nanos)
    return None


def _season_rule(offset: Any, n: int | None) -> tuple[int, str] | None:
    """(period, reason) for an offset, or None when no rule covers it."""
    k = offset.n
    if k < 1:
        raise ValueError(f"seasonal_period needs a positive frequency, got {offset.freqstr!r}")
    name = repr(offset.freqstr)
    if isinstance(offset, _offset_classes(_YEARLY_CLASSES)):
        return 1, f"yearly data ({name}): season 1 (no seasonality at yearly steps)"
    for classes, cycle, kind, adjective in _CALENDAR_RULES:
        if isinstance(offset, _offset_classes(classes)):
            period = max(1, round(cycle / k))
            return period, f"{kind} data ({name}): {adjective} season {period}"
    step = _step_nanos(offset)
    if step is None:
        return None
    if step < _NS_PER_DAY:
        period = max(1, round(_NS_PER_DAY / step))
        return period, f"sub-daily data ({name}): daily season {period}"
    days = step / _NS_PER_DAY
    kind = "daily" if days == 1 else f"{days:g}-day"
    yearly = round(365 / days)
    weekly = max(1, round(7 / days))
    if yearly >= 2:
        need = 2 * yearly
        if n is not None and n >= need:
            return yearly, f"{kind} data ({name}), {n} rows (>= 2 years): yearly season {yearly}"
        rows = "length not given" if n is None else f"{n} rows (< 2 years; {need} needed for a yearly season)"
        if weekly >= 2:
            return weekly, f"{kind} data ({name}), {rows}: weekly season {weekly}"
        return 1, f"{kind} data ({name}), {rows}: season 1 (a step spans a week or more)"
    return 1, f"{kind} data ({name}): season 1 (a step spans half a year or more)"


def seasonal_period(freq_or_times: Any, *, n: int | None = None) -> int:
    """The main seasonal period, in steps, for a sampling frequency; 1 means "no seasonality".

    ``freq_or_times`` is a pandas offset alias or offset (then ``n`` is the series length, if
    known) or the timestamps themselves (then the frequency is inferred and ``n = len(times)``).

    Rule (``k`` is the offset's multiple, e.g. 15 for ``"15min"``; results are rounded, at least 1).
    The same on every supported pandas (offsets are compared by class; aliases differ by version,
    e.g. ``"ME"``/``"M"``, ``"h"``/``"H"``, ``"SME"``/``"SM"``):

    ==============================  ============================================================
    frequency                       period
    ==============================  ============================================================
    sub-daily (h, min, s, ms, ...)  steps per day: hourly 24, 15-minute 96 (cycle: one day)
    daily (D)                       365 if ``n >= 730`` (two years, so a full year is there to
                                    learn and one to compare), else 7 (weekly); ``kD``: 365/k if
                                    ``n`` covers two years, else 7/k, alike
    business daily (B, C)           5/k (a business week)
    weekly (W, W-SUN, ...)          52/k (a year)
    semi-monthly (SMS, SME/SM)      24/k
    monthly (MS, ME/M, BMS, WOM)    12/k (a year)
    quarterly (QS, QE/Q, BQS)       4/k (a year)
    yearly (YS, YE/Y/A)             1
    ==============================  ============================================================

    Raises:
        DataError: for a frequency no rule covers (e.g. business hours, ``DateOffset(months=2)``);
            the message names it and says to state the season. :func:`infer_season` returns
            season 1 with that explanation instead.
    """
    offset, n = _as_offset(freq_or_times, n)
    rule = _season_rule(offset, n)
    if rule is None:
        raise DataError(
            f"no seasonal rule for frequency {offset.freqstr!r}: pass --season N (season=N from Python) "
            "with the season length N in steps, or 1 for no seasonal baseline"
        )
    return rule[0]


def infer_season(freq: Any, n: int | None = None) -> tuple[int, str]:
    """The seasonal period for a frequency and a one-line reason a person can read.

    ``freq`` is what :func:`seasonal_period` accepts (an alias, an offset or the timestamps), or
    None when the series has no regular frequency. ``n`` is the series length. Never raises for a
    frequency without a rule: the answer is then ``(1, reason)`` and the reason says so, e.g.::

        (365, "daily data ('D'), 1461 rows (>= 2 years): yearly season 365")
        (7, "daily data ('D'), 500 rows (< 2 years; 730 needed for a yearly season): weekly season 7")
        (12, "monthly data ('MS'): yearly season 12")
        (1, "no seasonal rule for frequency 'bh': season 1 (no seasonal baseline); set --season to override")
    """
    if freq is None:
        return 1, ("no regular frequency (irregular or numeric time axis): season 1 (no seasonal baseline); "
                   "set --season to override")
    offset, n = _as_offset(freq, n)
    rule = _season_rule(offset, n)
    if rule is None:
        logger.info("infer_season: no seasonal rule for frequency %r; season 1", offset.freqstr)
        return 1, (f"no seasonal rule for frequency {offset.freqstr!r}: season 1 (no seasonal baseline); "
                   "set --season to override")
    return rule


def _season_candidates(offset: Any) -> list[tuple[int, str]]:
    """Every (period, cycle name) the steps of ``offset`` can follow, shortest first; periods >= 2 only."""
    if offset.n < 1:
        return []
    step = _step_nanos(offset)
    if step is not None and step < _NS_PER_DAY:  # sub-daily: a day and a week (a year is left out: rarely
        per_day = round(_NS_PER_DAY / step)      # two of them, and a decomposition that long is slow)
        found = [(per_day, "daily"), (7 * per_day, "weekly")]
    elif step is not None:  # daily or k-daily: a week and a year (365 days, as seasonal_period counts it)
        days = step / _NS_PER_DAY
        found = [(round(7 / days), "weekly"), (round(365 / days), "yearly")]
    else:  # calendar offsets follow one cycle (monthly: a year; business days: a week); yearly ones none
        found = [(round(cycle / offset.n), adjective.split()[0]) for classes, cycle, _, adjective in _CALENDAR_RULES
                 if isinstance(offset, _offset_classes(classes))][:1]
    return [(m, name) for i, (m, name) in enumerate(found) if m >= 2 and m not in [p for p, _ in found[:i]]]


def infer_seasons(freq: Any, n: int | None = None, *, cycles: int = 2) -> tuple[list[int], str]:
    """Every seasonal period the frequency implies that ``n`` rows hold ``cycles`` full cycles of,
    shortest first, and a one-line reason a person can read.

    Where :func:`infer_season` picks the one season the network's baseline uses, this is the set a
    multi-season baseline (MSTL, seasonal naive per season) uses: half-hourly demand has a daily (48)
    and a weekly (336) cycle, and the weekly seasonal naive beats the daily one there.

    ==============================  ====================================================
    frequency                       candidate seasons (kept when ``n >= cycles * m``)
    ==============================  ====================================================
    sub-daily, k steps a day        k (daily) and 7k (weekly): hourly 24, 168; 30min 48, 336
    daily (D), k-daily              7/k (weekly) and 365/k (yearly): daily 7, 365
    business daily, weekly, ...     the one season of :func:`seasonal_period` (5, 52, 12, 4, ...)
    yearly, irregular, unknown      none
    ==============================  ====================================================

    ``n`` is the number of rows the seasons are learned from (the training part); None keeps every
    candidate. Two cycles by default: one to learn the pattern from and one to check it against, the
    least a decomposition (STL) accepts and the rule :func:`seasonal_period` uses for the yearly season.
    Never raises for a frequency without a rule (the answer is then no season)::

        ([48, 336], "'30min' data, 2822 rows: daily season 48, weekly season 336 (each >= 2 full cycles)")
        ([7], "'D' data, 500 rows: weekly season 7 (each >= 2 full cycles); yearly 365 left out (needs 730 rows)")
    """
    if freq is None:
        return [], "no regular frequency (irregular or numeric time axis): no season"
    offset, n = _as_offset(freq, n)
    candidates = _season_candidates(offset)
    where = f"{offset.freqstr!r} data" + (f", {n} rows" if n is not None else "")
    if not candidates:
        return [], f"{where}: no season (no calendar cycle of 2 or more steps for this frequency)"
    kept = [(m, name) for m, name in candidates if n is None or n >= cycles * m]
    dropped = [(m, name) for m, name in candidates if (m, name) not in kept]
    reason = where + ": " + (", ".join(f"{name} season {m}" for m, name in kept) if kept else "no season")
    if kept and n is not None:
        reason += f" (each >= {cycles} full cycles)"
    if dropped:
        reason += "; " + ", ".join(f"{name} {m} left out (needs {cycles * m} rows)" for m, name in dropped)
    return [m for m, _ in kept], reason


# ---------------------------------------------------------------------------------------------
# read_table
# ---------------------------------------------------------------------------------------------
