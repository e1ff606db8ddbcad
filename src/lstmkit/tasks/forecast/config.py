"""What defines a forecasting run (:class:`ForecastConfig`) and what fitting learns (:class:`ForecastState`)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from lstmkit.config import DictConfig, check_positive_ints
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

COMBINE_CHOICES = ("auto", "lstm")
MIN_PATIENCE = 10  # epochs: the least early stopping waits, however many steps an epoch holds


@dataclass
class ForecastConfig(DictConfig):
    """Everything that defines a forecasting run. ``None`` means "choose from the data" (see ``resolve``)."""

    targets: list[str]
    time_column: str | None = None
    features: list[str] = field(default_factory=list)  # extra input columns, not forecast
    input_width: int | None = None  # default: 3 seasons (m <= 24), 56 steps otherwise, at least 2K
    horizon: int | None = None  # default: 7 for daily data, m for 2 <= m <= 24, else 1
    season: int | None = None  # default: from the time column's frequency (lstmkit.data.seasonal_period)
    seasons_averaged: int | None = None  # J in the baseline; default: up to 3 that the training part holds
    # Start from the baseline and learn a correction (True), or give the baseline to the head as an
    # input only (False). Default: True for seasons up to 24 steps, where the baseline averages whole
    # short cycles; False for long ones (daily data, season 365), where it is one noisy day a year ago.
    baseline_residual: bool | None = None
    transform: str = "auto"  # "auto" (log when all training values > 0), "log" or "none"
    quantiles: list[float] = field(default_factory=lambda: [0.5])  # 0.5 is always included
    hidden_size: int = 32
    num_layers: int = 1
    dropout: float = 0.0
    cell: str = "lstm"  # the recurrent cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sequence (training only)
    zoneout: float = 0.0
    ensemble: int = 3
    # The forecast: "auto" chooses the LSTM, the best baseline or their mean by validation MASE
    # (lstmkit.tasks.forecast.candidates); "lstm" keeps the LSTM alone.
    combine: str = "auto"
    train_fraction: float = 0.7
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    # The competition protocol instead of the fractions: the last test_last rows are the test part and
    # the test_last rows before them the validation part (one window each when test_last = horizon).
    test_last: int | None = None
    fill: str | None = None  # missing values / gaps: None (error), "ffill" or "interpolate"
    sort: bool = False  # sort rows by time instead of refusing unsorted input
    # Training. Small data, many cheap epochs: a few thousand steps for a monthly series. Early
    # stopping restores the best validation weights (without that, peers ended worse than naive).
    epochs: int = 300
    # Early stopping waits `patience` epochs without a better validation loss, or `patience_steps`
    # optimiser steps when those are fewer epochs (a long series has many steps an epoch), but never
    # fewer than MIN_PATIENCE epochs (patience_epochs). None: `patience` epochs whatever the length.
    # The weather (19 steps an epoch) waits 11 epochs instead of 40: the same test scores in 37 of the
    # 39 fits measured on long series, in half the time (README, "How the forecaster works").
    patience: int = 40
    patience_steps: int | None = 200
    lr: float = 3e-3
    # None: a constant learning rate; "plateau": halved after plateau_patience epochs without a better
    # validation loss.
    lr_schedule: str | None = None
    plateau_patience: int = 5
    weight_decay: float = 1e-4
    batch_size: int = 32
    clip_grad_norm: float = 1.0
    seed: int = 0
    # "auto": CUDA when available, else CPU. Bit-for-bit resume is guaranteed on CPU only.
    device: str = "auto"
    # Runs saved before patience_steps existed waited `patience` epochs whatever the length.
    saved_defaults: ClassVar[dict] = {"patience_steps": None}

    def __post_init__(self) -> None:
        if isinstance(self.targets, str):
            self.targets = [self.targets]
        if not self.targets:
            raise ConfigError("ForecastConfig: at least one target column is needed")
        overlap = set(self.targets) & set(self.features)
        if overlap:
            raise ConfigError(f"ForecastConfig: {sorted(overlap)} listed both as target and as feature")
        if self.transform not in ("auto", "log", "none"):
            raise ConfigError(f"transform must be 'auto', 'log' or 'none', got {self.transform!r}")
        check_positive_ints(self, ("input_width", "horizon", "season", "seasons_averaged", "test_last",
                                   "patience_steps"), optional=True)
        qs = sorted(set(float(q) for q in self.quantiles) | {0.5})
        if not all(0 < q < 1 for q in qs):
            raise ConfigError(f"quantiles must lie strictly between 0 and 1, got {self.quantiles}")
        self.quantiles = qs
        check_positive_ints(self, ("ensemble", "hidden_size", "num_layers", "epochs", "patience", "batch_size",
                                   "plateau_patience"))
        if self.lr_schedule not in (None, "plateau"):
            raise ConfigError(f"lr_schedule must be 'plateau' or None, got {self.lr_schedule!r}")
        if self.combine not in COMBINE_CHOICES:
            raise ConfigError(f"combine must be one of {', '.join(COMBINE_CHOICES)}, got {self.combine!r}")
        check_cell_options(self)

    def patience_epochs(self, train_windows: int) -> int:
        """Epochs early stopping waits without a better validation loss when training on ``train_windows``
        windows, i.e. S = ceil(train_windows / batch_size) optimiser steps an epoch:
        ``min(patience, max(MIN_PATIENCE, ceil(patience_steps / S)))``; ``patience`` without a step budget."""
        if self.patience_steps is None:
            return self.patience
        steps_per_epoch = max(1, -(-train_windows // self.batch_size))
        return min(self.patience, max(MIN_PATIENCE, -(-self.patience_steps // steps_per_epoch)))

    def split(self, n: int):
        """The train / validation / test rows of an ``n``-row table (:class:`lstmkit.data.Split` of
        slices): the fractions in time order, or with ``test_last`` = h the last h rows as test and the h
        before them as validation."""
        from lstmkit.data import DataError, Split, temporal_split

        if self.test_last is None:
            return temporal_split(n, train=self.train_fraction, val=self.val_fraction, test=self.test_fraction)
        h = self.test_last
        if n <= 2 * h:
            raise DataError(f"test_last {h} needs more than {2 * h} rows (a validation and a test part of {h} "
                            f"each, and a training part before them), the table has {n}")
        return Split(slice(0, n - 2 * h), slice(n - 2 * h, n - h), slice(n - h, n))


@dataclass
class ForecastState(DictConfig):
    """What fitting learned from the training part; saved as ``config.json["data"]`` (same keys, same order)."""

    season: int  # m; 1 = no season (none given, none found, or too little data for one)
    horizon: int  # K
    input_width: int  # W
    seasons_averaged: int  # J
    lag: int  # L = m * ceil(K / m): the seasonal baseline's step back (K without a season)
    freq: str | None  # the time column's frequency, e.g. "MS", "D"; None without a time column
    baseline_residual: bool
    log_targets: list[bool]  # per target: modelled on the log scale
    target_scale: list[float]  # per target: s, the training part's mean absolute one-step change (transformed)
    feature_scaler: dict | None  # StandardScaler.to_dict() of the features, None without features
    time_column: str | None
    # {"rows": n, "train": [0, a], "val": [a, b], "test": [b, n], "early_stopping": [rows it watched],
    #  "early_stopping_patience": epochs it waited (ForecastConfig.patience_epochs), ...}
    split: dict
    # Why season, horizon and input width took their values (a sentence each); runs saved before this
    # field existed load with none.
    reasons: dict = field(default_factory=dict)
    # Every season of the frequency and the network's (seasonal naive per season, MSTL); runs saved
    # before this field existed load with none (their baselines: the network's season only).
    seasons: list[int] = field(default_factory=list)
    # The forecast, chosen on the validation part (config "combine"; lstmkit.tasks.forecast.candidates):
    # "lstm", "baseline" (combination_baseline alone) or "mean" (of the LSTM and combination_baseline),
    # and the validation MASE of each candidate (choice). Runs saved before: the LSTM.
    combination: str = "lstm"
    combination_baseline: str | None = None
    choice: dict = field(default_factory=dict)
