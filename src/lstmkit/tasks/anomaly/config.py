"""What defines an anomaly detector (:class:`AnomalyConfig`) and what fitting learns (:class:`AnomalyState`)."""
from __future__ import annotations

from dataclasses import dataclass

from lstmkit.config import DictConfig
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

METHODS = ("prediction", "reconstruction")
TRANSFORMS = ("none", "diff", "logdiff")


@dataclass
class AnomalyConfig(DictConfig):
    """Everything that defines an anomaly detector."""

    columns: list[str]  # the series (one or more columns) to watch
    time_column: str | None = None
    method: str = "prediction"  # "prediction" (next-step errors) or "reconstruction" (autoencoder)
    train_fraction: float = 0.5  # leading share of the rows assumed normal and trained on ...
    train_until: int | str | None = None  # ... or: train on the rows before this row number / time
    calibration_fraction: float = 0.3  # last share of the training part: early stopping and threshold
    transform: str = "none"  # "none", "diff" (trending series) or "logdiff" (prices: log returns)
    hidden_size: int = 32
    num_layers: int = 1
    cell: str = "lstm"  # the recurrent cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sequence (training only)
    zoneout: float = 0.0
    segment: int = 50  # prediction: truncated-BPTT segment length (steps per update)
    window: int = 32  # reconstruction: window width W
    latent_size: int = 8  # reconstruction: size of the code between encoder and decoder (the bottleneck)
    warmup: int = 10  # prediction: first rows of a series or stream left unscored while the state settles
    # Thresholding (Hundman et al. 2018). Their smoothing window (5% of 2,100 errors) is made for
    # sequences tens of points long; a short span keeps one-point anomalies visible.
    smoothing_span: float = 5.0
    min_decrease: float = 0.13  # pruning: the paper's p
    zscore_window: int = 30  # the rolling z-score baseline's window
    fill: str | None = None  # missing values and gaps: None (error), "ffill" or "interpolate"
    sort: bool = False
    epochs: int = 100
    patience: int = 15
    lr: float = 3e-3
    batch_size: int = 16  # prediction: parallel streams; reconstruction: windows (x4)
    clip_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.columns, str):
            self.columns = [self.columns]
        self.columns = list(self.columns)
        if not self.columns:
            raise ConfigError("AnomalyConfig: at least one column is needed")
        if len(set(self.columns)) != len(self.columns):
            raise ConfigError(f"AnomalyConfig: a column is listed twice: {self.columns}")
        if self.time_column is not None and self.time_column in self.columns:
            raise ConfigError(f"AnomalyConfig: {self.time_column!r} is the time column; it cannot also be watched")
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if not 0 < self.train_fraction < 1:
            raise ConfigError(f"train_fraction must lie strictly between 0 and 1, got {self.train_fraction!r}")
        if not 0 < self.calibration_fraction < 1:
            raise ConfigError("calibration_fraction must lie strictly between 0 and 1, "
                              f"got {self.calibration_fraction!r}")
        if not 0 < self.min_decrease < 1:
            raise ConfigError(f"min_decrease must lie strictly between 0 and 1, got {self.min_decrease!r}")
        if not self.smoothing_span >= 1:
            raise ConfigError(f"smoothing_span must be >= 1, got {self.smoothing_span!r}")
        for name in ("hidden_size", "num_layers", "segment", "window", "latent_size", "zscore_window", "epochs",
                     "patience", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.window < 2:
            raise ConfigError(f"window must be at least 2, got {self.window}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ConfigError(f"warmup must be a non-negative integer, got {self.warmup!r}")
        check_cell_options(self)


@dataclass
class AnomalyState(DictConfig):
    """What fitting learned, saved as ``config.json["data"]``: preprocessing, split and thresholds.

    ``threshold`` and ``baseline_threshold`` are :class:`~lstmkit.tasks.anomaly.thresholds.Calibration`
    dicts, None until the model is trained and calibrated (a run directory written before training, so
    that it can be resumed, holds them as null).
    """

    scaler: dict  # StandardScaler.to_dict() of the (transformed) fit part
    time_column: str | None  # the time column the table was read with (None: rows are numbered)
    split: dict  # {"rows", "fit": [0, n_fit], "calibration": [n_fit, n_train], "train_end": label of row n_train - 1}
    threshold: dict | None = None  # the model's calibrated threshold
    baseline_threshold: dict | None = None  # the rolling z-score baseline's, calibrated the same way
