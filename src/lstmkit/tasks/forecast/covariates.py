r"""Covariates of the global forecaster: features known in advance, and static features per series.

**Future-known features** (``future_features``: holidays, planned promotions, prices) are columns whose
values are known for the forecast horizon. Each is standardised with its mean and standard deviation
over the training parts, :math:`u = (v - \mu) / \sigma`; the network reads them at every step of its
input window and, in its decoder, at every step of the horizon
(:class:`~lstmkit.tasks.forecast.global_net.GlobalForecastNet`).

**The calendar** (``calendar=True``) adds future-known features made from the time column: for each
cycle the step calls for (:func:`calendar_cycles`) the phase :math:`\phi \in [0, 1)` within the cycle
as :math:`\sin 2\pi\phi` and :math:`\cos 2\pi\phi` (so December sits next to January). Past a series'
last row the times continue with the data's frequency, so a calendar alone needs no future rows.

**Static features** (``static_features``) are categorical columns constant within a series (a
product's category, a store). Each category seen in training gets a code 1, 2, ...; code 0 stands for
a category first seen at forecast time.

Everything here is fitted on the training parts and saved in :class:`GlobalState`, so ``predict``
rebuilds the same inputs from the saved run directory.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from lstmkit.data import DataError, infer_frequency
from lstmkit.tasks.forecast.global_config import GlobalConfig, GlobalState
from lstmkit.tasks.forecast.panel import Series

# Smallest step (in days) of each kind of data -> the calendar cycles its values follow.
_CYCLES_BY_STEP = ((300.0, ()), (80.0, ("quarter_of_year",)), (27.0, ("month_of_year",)),
                   (6.5, ("week_of_year",)), (0.99, ("day_of_week", "day_of_year")),
                   (0.0, ("time_of_day", "day_of_week")))


def calendar_cycles(times: np.ndarray, season: int) -> list[str]:
    """The cycles a calendar of ``times`` (one series, sorted) encodes.

    Datetimes, by their median step: quarterly data the quarter of the year, monthly the month, weekly
    the week of the year, daily the day of the week and of the year, sub-daily the time of day and the
    day of the week. Numbers (a step count): the phase within the season, ``season_phase``. Yearly data
    and numbers without a season have no cycle: refused."""
    if np.issubdtype(times.dtype, np.datetime64):
        days = float(np.median(np.diff(times)) / np.timedelta64(1, "D")) if len(times) > 1 else 0.0
        cycles = next(cycles for least, cycles in _CYCLES_BY_STEP if days >= least)
        if not cycles:
            raise DataError(f"calendar: the time column steps by {days:.0f} days (yearly data): there is no "
                            "calendar cycle (month, weekday, hour) within a year to encode")
        return list(cycles)
    if season <= 1:
        raise DataError("calendar: a numeric time column gives a calendar only through the season (the phase "
                        "within it); give --season or a datetime time column")
    return ["season_phase"]


def _phase(cycle: str, times: np.ndarray, state: GlobalState) -> np.ndarray:
    """(n,) the phase in [0, 1) of each time within ``cycle``."""
    if cycle == "season_phase":
        steps = np.round(np.asarray(times, dtype=float) / state.time_step)
        return np.mod(steps, state.season) / state.season
    t = pd.DatetimeIndex(times)
    if cycle == "quarter_of_year":
        return (t.quarter.to_numpy() - 1) / 4
    if cycle == "month_of_year":
        return (t.month.to_numpy() - 1) / 12
    if cycle in ("week_of_year", "day_of_year"):
        return (t.dayofyear.to_numpy() - 1) / 365.25
    if cycle == "day_of_week":
        return t.dayofweek.to_numpy() / 7
    if cycle == "time_of_day":
        return (t.hour.to_numpy() * 3600 + t.minute.to_numpy() * 60 + t.second.to_numpy()) / 86400
    raise ValueError(f"unknown calendar cycle {cycle!r}")


def fit_covariates(cfg: GlobalConfig, state: GlobalState, series: list[Series]) -> None:
    """Fill ``state``'s covariate fields from the training parts of ``series`` (split by
    :func:`~lstmkit.tasks.forecast.global_config.choose_state`)."""
    state.covariates = list(cfg.future_features)
    if cfg.future_features:
        training = np.concatenate([item.known[: len(item.train)] for item in series])  # (rows, F)
        std = training.std(axis=0)
        state.feature_mean = training.mean(axis=0).tolist()
        state.feature_std = np.where(std > 0, std, 1.0).tolist()  # a constant column stays centred at 0
    if cfg.calendar:
        longest = max(series, key=lambda item: len(item.train))
        times = longest.times[: len(longest.train)]
        state.calendar = calendar_cycles(times, state.season)
        if np.issubdtype(times.dtype, np.datetime64):
            try:
                state.freq = infer_frequency(times)
            except DataError:  # irregular: forecasts then need the horizon's rows with their times
                state.freq = None
        else:
            state.time_step = float(np.median(np.diff(np.asarray(times, dtype=float)))) if len(times) > 1 else 1.0
        state.covariates += [f"{cycle}_{part}" for cycle in state.calendar for part in ("sin", "cos")]
    state.static_categories = {column: sorted({item.static[column] for item in series})
                               for column in cfg.static_features}


def series_covariates(state: GlobalState, item: Series, n_rows: int) -> np.ndarray:
    """(n_rows, C) the covariates of the series' first ``n_rows`` rows (value rows, then future rows),
    standardised as in training. Rows past the table's rows exist only for the calendar (its times
    continue with the data's step); a future feature missing there is refused, naming the series."""
    parts = []
    if state.feature_mean:
        available = item.known[:n_rows]
        n_values = len(item.train) + len(item.test)
        complete = np.isfinite(available).all(axis=1)
        if len(available) < n_rows or not complete.all():
            found = int(np.argmin(np.append(complete, False)))  # rows before the first incomplete one
            names = ", ".join(state.covariates[: len(state.feature_mean)])
            raise DataError(f"series {item.id!r}: the forecast of {n_rows - n_values} steps needs the future features "
                            f"{names} for the {n_rows - n_values} rows after its last value, found them for "
                            f"{max(found - n_values, 0)}; add those rows with the target empty and {names} filled in")
        parts.append((available - np.asarray(state.feature_mean)) / np.asarray(state.feature_std))
    if state.calendar:
        times = _times(state, item, n_rows)
        for cycle in state.calendar:
            angle = 2 * np.pi * _phase(cycle, times, state)
            parts += [np.sin(angle)[:, None], np.cos(angle)[:, None]]
    return np.concatenate(parts, axis=1) if parts else np.zeros((n_rows, 0))


def _times(state: GlobalState, item: Series, n_rows: int) -> np.ndarray:
    """(n_rows,) the times of the series' first n_rows rows, continued past its last row with the data's step."""
    times = item.times[:n_rows]
    extra = n_rows - len(times)
    if extra <= 0:
        return times
    if np.issubdtype(times.dtype, np.datetime64):
        if not state.freq:
            raise DataError(f"series {item.id!r}: the calendar of the {extra} steps after its last row needs their "
                            "times, and the time column has no regular frequency to continue it; add those rows "
                            "with the target empty and their times")
        more = pd.date_range(pd.Timestamp(times[-1]), periods=extra + 1, freq=state.freq)[1:]
        return np.concatenate([times, more.to_numpy().astype(times.dtype)])
    return np.concatenate([np.asarray(times, dtype=float), times[-1] + state.time_step * np.arange(1, extra + 1)])


def static_codes(state: GlobalState, item: Series) -> np.ndarray:
    """(S,) each static feature's category code: 1 + its index among the training categories, 0 if unseen."""
    codes = []
    for column, categories in state.static_categories.items():
        value = item.static[column]
        codes.append(categories.index(value) + 1 if value in categories else 0)
    return np.asarray(codes, dtype=np.int64)
