"""The global forecaster's config (:class:`GlobalConfig`), what fitting chooses from the data
(:class:`GlobalState`) and how it chooses it (:func:`choose_state`: season, horizon, input width, the
baseline's seasons, each series' test part, the series too short for one window)."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace

from lstmkit.config import DictConfig
from lstmkit.data import DataError
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options
from lstmkit.tasks.forecast import baselines
from lstmkit.config import check_positive_ints
from lstmkit.tasks.forecast.panel import Series

logger = logging.getLogger(__name__)

COMBINE_CHOICES = ("auto", "lstm")
#: The per-series statistical models a global forecast can be or be averaged with: Theta, AR(p) and
#: (with ``ets_baseline``, which fits it anyway) ETS.
CANDIDATE_BASELINES = ("theta", "ar", "ets")
#: What a global forecast can be: the network's median, a baseline, or the mean of the network and one.
COMBINATIONS = ("lstm", *CANDIDATE_BASELINES, *(f"mean of lstm and {name}" for name in CANDIDATE_BASELINES))


@dataclass
class GlobalConfig(DictConfig):
    """A global forecasting run. ``None`` means "choose from the data"."""

    id_column: str
    target: str
    time_column: str | None = None  # optional: rows are ordered by it within a series; else file order
    # Columns known in advance for the forecast horizon (holidays, planned promotions, prices): the network
    # reads them over its input window and the horizon's values in its decoder. A forecast needs them for
    # the horizon: rows after each series' last value with the target empty (panel.Series.future_rows).
    future_features: list[str] = field(default_factory=list)
    # Add the calendar as future-known features: sin and cos of month of year, day of week, hour of day ...
    # as the time column's step calls for (covariates.calendar_cycles); needs a time column.
    calendar: bool = False
    # Categorical columns constant within each series (a product's category, a store): each is embedded.
    static_features: list[str] = field(default_factory=list)
    # A wide table: a time column and one column per series (``series_columns``, default: every column but
    # the time column and the future features), converted to the long layout with id_column and target as
    # the names of its series and value columns (panel.wide_to_long).
    wide: bool = False
    series_columns: list[str] = field(default_factory=list)
    horizon: int | None = None  # default: test_last, else the table's attrs["horizon"] (load_dataset)
    test_last: int | None = None  # the last h values of each series are its test part; default: horizon
    season: int | None = None  # default: the table's attrs["season"], else the time column's frequency
    input_width: int | None = None  # default: max(3 seasons, 2h) (24 or 2h without a season)
    seasons_averaged: int | None = None  # J; default: what the shortest training part holds, at most 3
    skip_short: bool = False  # skip (and name) series too short for one window, instead of refusing
    transform: str = "auto"  # per series: "auto" (log when all training values > 0), "log" or "none"
    quantiles: list[float] = field(default_factory=lambda: [0.5])
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    cell: str = "lstm"
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    ensemble: int = 2
    windows_per_series: int = 8  # an epoch draws this many windows per series (on average) from the pool
    # "auto": after training, forecast every series' validation window with the network, with Theta, AR(p)
    # and (ets_baseline) ETS fitted to the values before it, and with the mean of the network and each of
    # them, and keep whichever has the lowest mean sMAPE there (never worse on validation than any of those
    # baselines); "lstm": the network alone. Only the median is combined, so with other quantiles: "lstm".
    combine: str = "auto"
    # The ETS baseline in metrics.json (statsmodels' damped Holt-Winters, fitted to each series alone), and
    # ETS as a candidate of combine="auto" (fitted a second time, before the validation windows): 0.1-0.2 s
    # of CPU a series and fit, about 160 s a fit on M3 monthly's 1,428 series, more than the network's
    # training (137 s). On by default: on Tourism monthly the network alone lost to ETS, and its mean
    # with ETS won (README). False leaves it out (--no-ets-baseline). Without statsmodels it is left out
    # with a warning. AR(p) is always there.
    ets_baseline: bool = True
    # The single-series forecaster (lstmkit forecast train on one series, its defaults) fitted to every
    # series alone on the same split, as the baselines "per_series" (its forecast) and "per_series_lstm"
    # (its LSTM alone): what one global model adds. 1-3 s of CPU a series (26 minutes for M3 monthly,
    # 11 times the global network's training), so only when asked (lstmkit.tasks.forecast.per_series).
    per_series_baseline: bool = False
    epochs: int = 60
    patience: int = 10
    lr: float = 3e-3
    # "plateau": halve the learning rate after 3 epochs without a better validation loss; None: constant
    lr_schedule: str | None = "plateau"
    weight_decay: float = 1e-4
    batch_size: int = 256
    clip_grad_norm: float = 1.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.id_column or not self.target:
            raise ConfigError("GlobalConfig: id_column and target are needed")
        if self.id_column == self.target:
            raise ConfigError(f"the id column and the target are the same column {self.target!r}")
        self.future_features = [str(c) for c in self.future_features]
        self.static_features = [str(c) for c in self.static_features]
        self.series_columns = [str(c) for c in self.series_columns]
        roles = {self.id_column: "the id column", self.target: "the target", self.time_column: "the time column"}
        for kind in ("future_features", "static_features"):
            for column in getattr(self, kind):
                if column in roles:
                    raise ConfigError(f"{column!r} is {roles[column]} and cannot also be in {kind}")
                roles[column] = kind
        if self.calendar and not self.time_column:
            raise ConfigError("calendar features need a time column (time_column, --time-column)")
        if self.series_columns and not self.wide:
            raise ConfigError("series_columns name the series of a wide table: set wide=True (--wide)")
        if self.wide and self.static_features:
            raise ConfigError("static features need the long layout (--id-column): a wide table has no "
                              "place for a value per series")
        if self.lr_schedule not in (None, "plateau", "cosine"):
            raise ConfigError(f"lr_schedule must be 'plateau', 'cosine' or None, got {self.lr_schedule!r}")
        if self.transform not in ("auto", "log", "none"):
            raise ConfigError(f"transform must be 'auto', 'log' or 'none', got {self.transform!r}")
        if self.combine not in COMBINE_CHOICES:
            raise ConfigError(f"combine must be one of {', '.join(COMBINE_CHOICES)}, got {self.combine!r}")
        check_positive_ints(self, ("input_width", "horizon", "season", "seasons_averaged", "test_last"), optional=True)
        if self.horizon and self.test_last and self.horizon != self.test_last:
            raise ConfigError(f"horizon {self.horizon} and test_last {self.test_last} differ: the competition "
                              "protocol forecasts the whole test part at once; give one of them")
        qs = sorted(set(float(q) for q in self.quantiles) | {0.5})
        if not all(0 < q < 1 for q in qs):
            raise ConfigError(f"quantiles must lie strictly between 0 and 1, got {self.quantiles}")
        self.quantiles = qs
        check_positive_ints(self, ("ensemble", "hidden_size", "num_layers", "epochs", "patience", "batch_size",
                                   "windows_per_series"))
        check_cell_options(self)


@dataclass
class GlobalState(DictConfig):
    """What fitting chose; ``config.json["data"]``. Per-series log decisions and scales are recomputed
    from whatever history a forecast starts from (they are properties of the window, not learned)."""

    season: int
    horizon: int
    input_width: int
    seasons_averaged: int
    lag: int
    baseline_residual: bool
    min_history: int
    series: int  # how many series trained the model
    skipped: list[str] = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    # What the forecast is (chosen on the validation windows, config "combine"): one of COMBINATIONS
    # (a baseline in it is refitted on whatever history a forecast starts from), and the mean
    # validation sMAPE of each candidate.
    combination: str = "lstm"
    validation_smape: dict = field(default_factory=dict)
    # Covariates (covariates.fit_covariates): the input channels after the target and its mask, the
    # calendar cycles among them, the future features' training mean and standard deviation, how to
    # continue the time axis past a series' end (a pandas frequency, or the step of a numeric time),
    # and the categories of each static feature (code 0 is a category never seen in training).
    covariates: list[str] = field(default_factory=list)
    calendar: list[str] = field(default_factory=list)
    feature_mean: list[float] = field(default_factory=list)
    feature_std: list[float] = field(default_factory=list)
    freq: str | None = None
    time_step: float | None = None
    static_categories: dict = field(default_factory=dict)

    @property
    def conditioned(self) -> bool:
        """Whether the network reads covariates or static features (GlobalForecastNet, else ForecastNet)."""
        return bool(self.covariates or self.static_categories)


def choose_state(cfg: GlobalConfig, series: list[Series], attrs: dict) -> tuple[GlobalState, list[Series]]:
    """Season, horizon, width, J; the test split of each series; the short series refused or skipped."""
    from lstmkit.data import infer_season

    if not series:
        raise DataError("the table has no rows")
    if cfg.season is not None:
        season, season_why = cfg.season, "given"
    elif attrs.get("season"):
        season, season_why = int(attrs["season"]), attrs.get("season_why", "from the data set's metadata")
    else:
        season, season_why = infer_season(attrs.get("freq"), n=max(len(s.train) for s in series))
    horizon = cfg.horizon or cfg.test_last or attrs.get("horizon")
    if not horizon:
        raise DataError("give --horizon or --test-last: the number of values to forecast per series")
    horizon_why = ("given" if (cfg.horizon or cfg.test_last)
                   else attrs.get("horizon_why", "from the data set's metadata"))
    horizon = int(horizon)
    test_last = cfg.test_last or horizon
    min_history = max(season, 2)
    needed = min_history + 2 * horizon + test_last
    short = [s for s in series if len(s.train) < needed]
    if short:
        names = ", ".join(f"{s.id!r} ({len(s.train)} values)" for s in short[:5])
        more = f" and {len(short) - 5} more" if len(short) > 5 else ""
        message = (f"{len(short)} series too short for one window: {names}{more}; each needs {needed} values "
                   f"(one season of history {min_history}, a training and a validation window of {horizon}, "
                   f"the test part {test_last})")
        if not cfg.skip_short:
            raise DataError(message + "; pass --skip-short to skip them")
        logger.warning("skipping %s", message)
        if len(short) == len(series):
            raise DataError(message + ": no series left")
    kept = [replace(s, train=s.train[: len(s.train) - test_last], test=s.train[len(s.train) - test_last:],
                    season=season) for s in series if len(s.train) >= needed]
    if cfg.input_width is not None:
        width, width_why = cfg.input_width, "given"
    elif 2 <= season <= 24:
        width, width_why = max(3 * season, 2 * horizon), "three seasons or twice the horizon"
    else:
        width, width_why = max(24, 2 * horizon), "24 steps or twice the horizon"
    lag = baselines.seasonal_lag(season, horizon)
    if cfg.seasons_averaged is not None:
        j = cfg.seasons_averaged
    elif season > 1:
        shortest = min(len(s.train) for s in kept) - horizon  # the validation window's origin
        j = int(min(3, max(1, (shortest - min(width, season)) // lag)))
    else:
        j = 1
    state = GlobalState(season=season, horizon=horizon, input_width=width, seasons_averaged=j, lag=lag,
                        baseline_residual=season <= 24, min_history=min_history, series=len(kept),
                        skipped=[s.id for s in short],
                        reasons={"season": season_why, "horizon": horizon_why, "input_width": width_why})
    return state, kept
