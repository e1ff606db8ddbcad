r"""Anomaly detection in sequences: an LSTM learns what normal looks like; what it cannot explain is suspect.

Two detectors, one pipeline
---------------------------
* ``method="prediction"`` (Hundman et al., KDD 2018): an LSTM reads the series one step at a time and
  a linear head forecasts the next step from its hidden state,
  :math:`\hat z_{t+1} = z_t + W h_t + b` (the skip makes "no change" the starting point; it is left
  out for differenced series). The error of a point is :math:`e_t = \mathrm{mean}_F |z_t - \hat z_t|`.
  The model is *stateful*: trained with the state carried across segments of parallel streams
  (``TrainConfig.carry_state``), run over a whole series with the state carried from its first row,
  so ``watch`` can step it one line at a time with :meth:`lstmkit.nn.LSTM.streamer` and compute the
  same numbers as ``detect``.
* ``method="reconstruction"`` (Malhotra et al. 2016, EncDec-AD): an LSTM encoder reads a window of W
  steps into a small code; an LSTM decoder rebuilds the window from the code (in reverse order, the
  easiest order to learn). The error of point t is its absolute reconstruction error averaged over
  the W windows that hold it, so it is known W - 1 steps after t: ``watch`` reports each point
  W - 1 lines late (an autoencoder copies the newest point of a window well, so scoring only the
  newest point, or a window's mean error, flags single-point anomalies late or never).

Then, for both: errors are smoothed and thresholded without labels by non-parametric dynamic
thresholding with pruning (:mod:`lstmkit.tasks.anomaly_eval`), learned once on a held-out
*calibration* part at the end of the training part, stored in ``config.json`` and applied point by
point at ``detect``/``watch`` time.

Parts of a series (rows, in time order)::

    [0 ........ fit ........)[.... calibration ....)[....... not trained on .......)
    |<------------ training part: assumed normal -->|

The model is fitted on the fit part; the calibration part decides early stopping and the threshold.
Values are modelled after an optional transform (``"diff"``: first differences; ``"logdiff"``: log
returns, for prices) and a :class:`~lstmkit.data.StandardScaler` fitted on the fit part.
Inference runs in float64 (a copy of the trained float32 weights), so the batch path (the whole
series in one call) and the streaming path (NumPy steps) agree to round-off (~1e-12).
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import math
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence, TextIO

import numpy as np
import pandas as pd
import torch

from lstmkit.data import DataError, StandardScaler, make_windows, read_table, temporal_split
from lstmkit.nn import LSTM
from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.tasks import anomaly_eval as ae
from lstmkit.train import TrainConfig, Trainer, load_model, read_config, save_model, write_task_config
from lstmkit.train.checkpoint import atomic_write_text, write_json
from lstmkit.config import DictConfig

logger = logging.getLogger(__name__)

METHODS = ("prediction", "reconstruction")
TRANSFORMS = ("none", "diff", "logdiff")


# ---------------------------------------------------------------------------------------- config
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
            raise ValueError("AnomalyConfig: at least one column is needed")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError(f"AnomalyConfig: a column is listed twice: {self.columns}")
        if self.time_column is not None and self.time_column in self.columns:
            raise ValueError(f"AnomalyConfig: {self.time_column!r} is the time column; it cannot also be watched")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if not 0 < self.train_fraction < 1:
            raise ValueError(f"train_fraction must lie strictly between 0 and 1, got {self.train_fraction!r}")
        if not 0 < self.calibration_fraction < 1:
            raise ValueError("calibration_fraction must lie strictly between 0 and 1, "
                             f"got {self.calibration_fraction!r}")
        if not 0 < self.min_decrease < 1:
            raise ValueError(f"min_decrease must lie strictly between 0 and 1, got {self.min_decrease!r}")
        if not self.smoothing_span >= 1:
            raise ValueError(f"smoothing_span must be >= 1, got {self.smoothing_span!r}")
        for name in ("hidden_size", "num_layers", "segment", "window", "latent_size", "zscore_window", "epochs",
                     "patience", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window}")
        if not isinstance(self.warmup, int) or self.warmup < 0:
            raise ValueError(f"warmup must be a non-negative integer, got {self.warmup!r}")



# ---------------------------------------------------------------------------------------- models
@register_model("anomaly_next_step")
class NextStepNet(torch.nn.Module):
    """Stateful next-step predictor: ``forward(x, state) -> (prediction, state)``.

    x (N, T, F); prediction (N, T, F), row t forecasting x at t + 1 from the hidden state after t:
    :math:`\\hat x_{t+1} = [x_t] + W h_t + b` (the skip term when ``residual``). The head starts at
    zero, so training starts from "no change" (residual) or "the mean" (not residual).
    """

    def __init__(self, n_features: int, hidden_size: int = 32, num_layers: int = 1, residual: bool = True):
        super().__init__()
        self.n_features, self.hidden_size, self.num_layers = n_features, hidden_size, num_layers
        self.residual = residual
        self.lstm = LSTM(n_features, hidden_size, num_layers, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, n_features)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    def get_config(self) -> dict:
        return {"n_features": self.n_features, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "residual": self.residual}

    @classmethod
    def from_config(cls, config: dict) -> "NextStepNet":
        return cls(**config)

    def forward(self, x: torch.Tensor, state=None):
        out, state = self.lstm(x, state)  # (N, T, H)
        pred = self.head(out)  # (N, T, F)
        return (pred + x if self.residual else pred), state


@register_model("anomaly_autoencoder")
class SequenceAutoencoder(torch.nn.Module):
    """LSTM encoder-decoder over windows: ``forward(x) -> reconstruction``, both (N, W, F).

    The encoder's last hidden state goes through a linear bottleneck of ``latent_size`` (so the
    model cannot simply copy its input); the decoder LSTM reads the code at every step and emits the
    window back to front (Malhotra et al. 2016), flipped into time order on return.
    """

    def __init__(self, n_features: int, window: int, hidden_size: int = 32, num_layers: int = 1,
                 latent_size: int = 8):
        super().__init__()
        self.n_features, self.window, self.hidden_size = n_features, window, hidden_size
        self.num_layers, self.latent_size = num_layers, latent_size
        self.encoder = LSTM(n_features, hidden_size, num_layers, batch_first=True)
        self.to_code = torch.nn.Linear(hidden_size, latent_size)
        self.decoder = LSTM(latent_size, hidden_size, num_layers, batch_first=True)
        self.head = torch.nn.Linear(hidden_size, n_features)

    def get_config(self) -> dict:
        return {"n_features": self.n_features, "window": self.window, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "latent_size": self.latent_size}

    @classmethod
    def from_config(cls, config: dict) -> "SequenceAutoencoder":
        return cls(**config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h_n, _) = self.encoder(x)  # h_n (L, N, H)
        code = torch.tanh(self.to_code(h_n[-1]))  # (N, latent)
        steps = code.unsqueeze(1).expand(-1, x.shape[1], -1)  # (N, W, latent)
        out, _ = self.decoder(steps)  # (N, W, H)
        return self.head(out).flip(1)  # decoded back to front -> time order


def _masked_mse(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean squared error over the finite targets (NaN marks targets outside the part scored)."""
    mask = torch.isfinite(y)
    diff = torch.where(mask, pred - torch.nan_to_num(y), torch.zeros_like(pred))
    return (diff * diff).sum() / mask.sum().clamp(min=1)


# ------------------------------------------------------------------------------------- detector
class AnomalyDetector:
    """Fit on the normal part of a series, then score, flag and stream.

    >>> det = AnomalyDetector(AnomalyConfig(columns=["value"])).fit(df)
    >>> result = det.detect(df, labels="label")   # scores, intervals, event metrics
    >>> stream = det.stream(); stream.update([0.42])   # {"step": 0, "score": None, "is_anomaly": False}
    """

    def __init__(self, config: AnomalyConfig):
        self.config = config
        self.model: torch.nn.Module | None = None
        self.state: dict[str, Any] = {}  # preprocessing, split and thresholds; config.json["data"]
        self.history: list[dict] = []
        self._infer: torch.nn.Module | None = None  # float64 copy used for every score

    # ---- reading ---------------------------------------------------------------------------------
    def _read(self, data, extra: Sequence[str] = ()) -> pd.DataFrame:
        cfg = self.config
        time_column = cfg.time_column
        if (isinstance(data, pd.DataFrame) and time_column and time_column not in data.columns
                and data.index.name == time_column):
            time_column = None
        if isinstance(data, (str, Path)) and not Path(data).is_file():
            raise FileNotFoundError(f"{data}: no such file")
        # Gaps only matter when asked to fill them: anomaly scores do not need a regular grid.
        frame = read_table(data, time_column=time_column, columns=[*cfg.columns, *extra], sort=cfg.sort,
                           fill=cfg.fill, freq="infer" if cfg.fill else None)
        if cfg.transform == "logdiff":
            values = frame[cfg.columns].to_numpy(dtype=float)
            if (values <= 0).any():
                row, col = map(int, np.argwhere(values <= 0)[0])
                raise DataError(f"transform 'logdiff' needs positive values, but column {cfg.columns[col]!r} has "
                                f"{values[row, col]} at row {row}")
        return frame

    def _train_rows(self, frame: pd.DataFrame) -> int:
        """Rows [0, n_train) form the training part."""
        cfg, n = self.config, len(frame)
        until = cfg.train_until
        if until is None:
            return int(math.floor(cfg.train_fraction * n))
        text = str(until).strip()
        is_int = text.lstrip("-").isdigit()
        index = frame.index
        if frame.attrs.get("time_column") is None or (is_int and isinstance(index, pd.DatetimeIndex)):
            if not is_int:
                raise DataError(f"train_until {until!r}: the table has no time column; give a row number")
            row = int(text)
            if not 0 < row < n:
                raise DataError(f"train_until {row}: the table has rows 0-{n - 1}; choose a row between 1 and {n - 1}")
            return row
        try:
            point = pd.Timestamp(text) if isinstance(index, pd.DatetimeIndex) else float(text)
        except (TypeError, ValueError):
            raise DataError(f"train_until {until!r} is neither a row number nor a time like those in "
                            f"{frame.attrs.get('time_column')!r} (first: {index[0]})") from None
        row = int(index.searchsorted(point, side="left"))
        if not 0 < row < n:
            raise DataError(f"train_until {until!r} is outside the series ({index[0]} to {index[-1]}): "
                            "no rows left to train on or to watch")
        return row

    # ---- preprocessing ---------------------------------------------------------------------------
    def _transform(self, values: np.ndarray) -> np.ndarray:
        """(n, F) raw values -> (n, F) transformed (row 0 of a difference has no predecessor: 0)."""
        kind = self.config.transform
        if kind == "none":
            return values.astype(float)
        v = np.log(values) if kind == "logdiff" else values.astype(float)
        return np.concatenate([np.zeros((1, v.shape[1])), np.diff(v, axis=0)])

    def _prepare(self, values: np.ndarray) -> np.ndarray:
        """(n, F) raw values -> (n, F) model inputs (transformed and scaled)."""
        scaler = StandardScaler.from_dict(self.state["scaler"])
        return scaler.transform(self._transform(values))

    def _warmup(self) -> int:
        cfg = self.config
        if cfg.method == "reconstruction":
            return cfg.warmup
        return max(cfg.warmup, 1)  # row 0 is never predicted

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None) -> "AnomalyDetector":
        """Fit the preprocessing and the model on the training part of ``data`` and calibrate the
        thresholds on its calibration part. ``run_dir`` receives the Trainer's checkpoints and history."""
        cfg = self.config
        frame = self._read(data)
        n_fit, n_train = self._parts(frame)
        values = frame[cfg.columns].to_numpy(dtype=float)
        scaler = StandardScaler().fit(self._transform(values[:n_fit]))
        self.state = {
            "scaler": scaler.to_dict(), "time_column": frame.attrs.get("time_column"),
            "split": {"rows": len(frame), "fit": [0, n_fit], "calibration": [n_fit, n_train],
                      "train_end": _label(frame.index, n_train - 1)},
        }
        z = self._prepare(values[:n_train])  # (n_train, F)
        seed_everything(cfg.seed)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                                   weight_decay=1e-4, clip_grad_norm=cfg.clip_grad_norm, patience=cfg.patience,
                                   restore_best=True, seed=cfg.seed, device="cpu", progress=False,
                                   shuffle=cfg.method == "reconstruction",
                                   carry_state=cfg.method == "prediction")
        if cfg.method == "prediction":
            self.model = NextStepNet(len(cfg.columns), cfg.hidden_size, cfg.num_layers,
                                     residual=cfg.transform == "none")
            train_data, val_data = self._stream_loaders(z, n_fit)
            loss = _masked_mse
        else:
            self.model = SequenceAutoencoder(len(cfg.columns), cfg.window, cfg.hidden_size, cfg.num_layers,
                                             cfg.latent_size)
            train_data, val_data = self._window_sets(z, n_fit)
            train_config = dataclasses.replace(train_config, batch_size=4 * cfg.batch_size)
            loss = torch.nn.functional.mse_loss
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
        trainer = Trainer(self.model, loss, train_config, run_dir=run_dir)
        self.history = trainer.fit(train_data, val_data)
        self.model = trainer.model.eval()
        self._infer = None
        # Calibrate on errors the model was not fitted to.
        errors = self.errors(values[:n_train])
        self.state["threshold"] = ae.calibrate(ae.ewma(errors, cfg.smoothing_span)[n_fit:], span=cfg.smoothing_span,
                                               min_decrease=cfg.min_decrease).to_dict()
        z_scores = ae.rolling_zscore(values[:n_train], cfg.zscore_window)
        self.state["baseline_threshold"] = ae.calibrate(ae.ewma(z_scores, cfg.smoothing_span)[n_fit:],
                                                        span=cfg.smoothing_span,
                                                        min_decrease=cfg.min_decrease).to_dict()
        kept = [r for r in self.state["threshold"]["calibration_runs"] if r[3]]
        if kept:
            logger.info("the calibration part (rows %d-%d) holds %d run(s) that stand out (the first at rows %d-%d); "
                        "they count as normal, as the training part is assumed normal", n_fit, n_train - 1, len(kept),
                        n_fit + kept[0][0], n_fit + kept[0][1] - 1)
        if run_dir is not None:
            self._write_config(run_dir, train_config)
        return self

    def _parts(self, frame: pd.DataFrame) -> tuple[int, int]:
        """(end of the fit part, end of the training part), checked to be long enough."""
        cfg = self.config
        n_train = self._train_rows(frame)
        try:
            parts = temporal_split(n_train, train=1 - cfg.calibration_fraction, val=cfg.calibration_fraction,
                                   test=0.0)
            n_fit = parts.train.stop
        except ValueError:  # a part rounds to zero rows: reported below with what is needed
            n_fit = 0
        self._check_lengths(n_fit, n_train)
        return n_fit, n_train

    def _check_lengths(self, n_fit: int, n_train: int) -> None:
        cfg = self.config
        need_fit = cfg.window + 8 if cfg.method == "reconstruction" else max(2 * cfg.warmup, 16)
        need_cal = (cfg.window + 10) if cfg.method == "reconstruction" else 10
        if n_fit < need_fit or n_train - n_fit < need_cal:
            what = f"window {cfg.window}" if cfg.method == "reconstruction" else f"warm-up {cfg.warmup}"
            raise DataError(
                f"too few rows: the training part has {n_train} rows ({n_fit} to fit, {n_train - n_fit} to calibrate), "
                f"but the {cfg.method} detector with {what} needs at least {need_fit} to fit and {need_cal} to "
                "calibrate; use more data or a larger training part"
                + (" or a smaller --window" if cfg.method == "reconstruction" else "")
            )

    def _stream_loaders(self, z: np.ndarray, n_fit: int):
        """Training: B parallel streams over the fit part, cut into segments; batch b + 1 continues
        batch b row by row (``carry_state``), so the state the model learns from is the state it will
        see at detection time. Validation: the whole training part as one sequence, scored on the
        calibration part only (its targets before are NaN)."""
        cfg = self.config
        usable = n_fit - 1  # inputs that have a next value inside the fit part
        k = max(4, min(cfg.segment, usable // 4))
        # Fewer, longer streams: more (sequential) updates per epoch; 16 segments per stream at least.
        streams = max(1, min(cfg.batch_size, usable // (16 * k)))
        length = usable // streams
        chunks = length // k
        xs, ys = [], []
        for c in range(chunks):
            for i in range(streams):
                a = i * length + c * k
                xs.append(z[a:a + k])
                ys.append(z[a + 1:a + k + 1])
        x = torch.tensor(np.stack(xs), dtype=torch.float32)
        y = torch.tensor(np.stack(ys), dtype=torch.float32)
        train = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=streams, shuffle=False)
        target = z[1:].copy()
        target[: n_fit - 1] = np.nan  # targets of the fit part are not validation
        target[: self._warmup()] = np.nan
        xv = torch.tensor(z[None, :-1], dtype=torch.float32)
        yv = torch.tensor(target[None], dtype=torch.float32)
        val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xv, yv), batch_size=1)
        return train, val

    def _window_sets(self, z: np.ndarray, n_fit: int):
        """Windows ending in the fit part to train on, windows ending in the calibration part to validate."""
        W = self.config.window
        windows, _ = make_windows(np.concatenate([z, np.zeros((1, z.shape[1]))]), W, 1)  # window i: rows [i, i+W)
        windows = torch.tensor(np.array(windows), dtype=torch.float32)  # (n - W + 1, W, F)
        split = n_fit - W + 1  # windows 0 .. split-1 end inside the fit part
        train = torch.utils.data.TensorDataset(windows[:split], windows[:split])
        val = torch.utils.data.TensorDataset(windows[split:], windows[split:])
        return train, val

    # ---- scoring ---------------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if self.model is None:
            raise RuntimeError("this AnomalyDetector is not fitted yet: call fit() or AnomalyDetector.load()")

    def _inference_model(self) -> torch.nn.Module:
        if self._infer is None:
            self._infer = copy.deepcopy(self.model).double().eval()
        return self._infer

    @torch.no_grad()
    def errors(self, values: np.ndarray) -> np.ndarray:
        """(n,) raw per-point errors of (n, F) raw values, NaN where not scored (the warm-up)."""
        self._require_fitted()
        z = self._prepare(np.asarray(values, dtype=float))
        n = len(z)
        err = np.full(n, np.nan)
        model = self._inference_model()
        if self.config.method == "prediction":
            pred, _ = model(torch.from_numpy(z[None]))  # (1, n, F): row t forecasts t + 1
            err[1:] = np.abs(z[1:] - pred[0, :-1].numpy()).sum(axis=1) / z.shape[1]
        else:
            W = self.config.window
            if n >= W:
                windows, _ = make_windows(np.concatenate([z, np.zeros((1, z.shape[1]))]), W, 1)
                parts = []
                for start in range(0, len(windows), 2048):
                    batch = torch.from_numpy(np.ascontiguousarray(windows[start:start + 2048]))
                    parts.append(np.abs(model(batch).numpy() - batch.numpy()).mean(axis=2))
                per_window = np.concatenate(parts)  # (N, W): window i, position j is point i + j
                N = len(per_window)
                total, count = np.zeros(n), np.zeros(n)
                for j in range(W):  # point s: windows starting at s, s - 1, ..., in that order
                    total[j:j + N] += per_window[:, j]
                    count[j:j + N] += 1
                err = total / count
                # The last W - 1 points are not yet in all their windows: unscored, as in a stream.
                err[n - W + 1:] = np.nan
        err[: self._warmup()] = np.nan
        return err

    def score(self, data) -> pd.DataFrame:
        """One row per point: time, the columns, error, score (smoothed error), is_anomaly."""
        self._require_fitted()
        frame = self._read(data)
        return self._score_frame(frame)

    def _score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cfg = self.config
        values = frame[cfg.columns].to_numpy(dtype=float)
        err = self.errors(values)
        scores, flags = ae.OnlineThreshold(self.calibration).apply(err)
        out = pd.DataFrame({"time": _labels(frame.index)})
        for k, column in enumerate(cfg.columns):
            out[column] = values[:, k]
        out["error"], out["score"], out["is_anomaly"] = err, scores, flags
        return out

    @property
    def calibration(self) -> ae.Calibration:
        return ae.Calibration.from_dict(self.state["threshold"])

    def baseline_flags(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Flags of the rolling z-score baseline: calibrated like the model, and the textbook |z| > 3."""
        z = ae.rolling_zscore(values, self.config.zscore_window)
        calibrated = ae.OnlineThreshold(ae.Calibration.from_dict(self.state["baseline_threshold"])).apply(z)[1]
        return {"rolling_zscore": calibrated, "rolling_zscore_3sigma": np.nan_to_num(z, nan=0.0) > 3.0}

    def detect(self, data, *, labels: str | None = None, eval_from: int | str | None = None) -> dict:
        """Scores, anomalous intervals and (with a ``labels`` column) event metrics for the model and
        the rolling z-score baselines on rows from ``eval_from`` (default: every row).

        Returns ``{"scores": DataFrame, "anomalies": DataFrame, "metrics": dict | None, "labels": array | None}``.
        """
        self._require_fitted()
        frame = self._read(data, extra=[labels] if labels else [])
        truth = _check_labels(frame[labels], labels) if labels else None
        start = 0 if eval_from is None else self._row_of(frame, eval_from, "eval_from")
        scores = self._score_frame(frame)
        anomalies = _intervals(scores)
        metrics = None
        if truth is not None:
            flags = scores["is_anomaly"].to_numpy()
            baselines = self.baseline_flags(frame[self.config.columns].to_numpy(dtype=float))
            metrics = {
                "model": ae.event_metrics(truth[start:], flags[start:]),
                "baselines": {name: ae.event_metrics(truth[start:], f[start:]) for name, f in baselines.items()},
                "split": {"evaluated_rows": [start, len(frame)], "rows": len(frame),
                          "train_end": self.state["split"]["train_end"]},
                "threshold": {k: v for k, v in self.state["threshold"].items() if k != "calibration_runs"},
            }
        return {"scores": scores, "anomalies": anomalies, "metrics": metrics, "labels": truth}

    def _row_of(self, frame: pd.DataFrame, value, what: str) -> int:
        probe = copy.copy(self)
        probe.config = dataclasses.replace(self.config, train_until=value)
        try:
            return probe._train_rows(frame)
        except DataError as error:
            raise DataError(str(error).replace("train_until", what)) from None

    def stream(self) -> "AnomalyStream":
        """A fresh per-step scorer (state zero, like the first row of a batch)."""
        self._require_fitted()
        return AnomalyStream(self)

    # ---- files -----------------------------------------------------------------------------------
    def _write_config(self, run_dir, train_config: TrainConfig | None = None) -> None:
        write_task_config(run_dir, "anomaly", self.config, self.state, train_config)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` (task, scaler, split, thresholds, model) + ``model.safetensors``."""
        self._require_fitted()
        directory = Path(directory)
        save_model(self.model, directory)
        self._write_config(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "AnomalyDetector":
        if not Path(directory).is_dir():
            raise FileNotFoundError(f"--model {directory}: no such directory")
        config = read_config(directory)
        task = dict(config.get("task") or {})
        if task.pop("name", None) != "anomaly" or "threshold" not in (config.get("data") or {}):
            raise DataError(f"{directory} does not hold an anomaly detector (config.json has no anomaly task)")
        detector = cls(AnomalyConfig.from_dict(task))
        detector.state = config["data"]
        detector.model = load_model(directory).eval()
        return detector


class AnomalyStream:
    """Score one time step per call, carrying the LSTM state: what ``lstmkit anomaly watch`` runs.

    ``update(values)`` takes the raw values of the trained columns at one step and returns
    ``{"step": i, "score": float | None, "is_anomaly": bool}``: the score of point i (0-based; None
    during the warm-up). The prediction detector scores the point just given, advancing a
    :class:`~lstmkit.nn.LSTMStreamer` by one step (NumPy, float64). The reconstruction detector
    re-encodes its last ``window`` steps and scores the point W - 1 steps back (step None until the
    first window is full).
    """

    def __init__(self, detector: AnomalyDetector):
        cfg = detector.config
        self.detector = detector
        self.n_features = len(cfg.columns)
        scaler = StandardScaler.from_dict(detector.state["scaler"])
        # Plain floats: for a handful of columns Python arithmetic beats NumPy's per-call overhead.
        self._mean = np.asarray(scaler.mean_, dtype=float).tolist()
        self._scale = np.asarray(scaler.scale_, dtype=float).tolist()
        self._x = np.zeros((1, self.n_features))  # the streamer's input buffer
        self._model = detector._inference_model()
        self._warmup = detector._warmup()
        self._threshold = ae.OnlineThreshold(detector.calibration)
        self._transform = cfg.transform
        self._predict = cfg.method == "prediction"
        if self._predict:
            self._streamer = self._model.lstm.streamer(1)
            self._w = np.ascontiguousarray(self._model.head.weight.detach().numpy().T)  # (H, F)
            self._b = self._model.head.bias.detach().numpy().copy()
            self._residual = self._model.residual
        else:
            self._window = deque(maxlen=cfg.window)  # the last W scaled rows
            self._errors = deque(maxlen=cfg.window)  # per-position errors of the last W windows
        self.reset()

    def reset(self) -> None:
        self.step = 0
        self._previous = None  # last raw row (for differences)
        self._forecast = None  # prediction of the next scaled row
        self._threshold.reset()
        if self.detector.config.method == "prediction":
            self._streamer.reset()
        else:
            self._window.clear()
            self._errors.clear()

    def update(self, values: Sequence[float]) -> dict:
        # Small-array NumPy calls cost about a microsecond each: this path keeps them few, since it
        # runs once per line of a live feed (benchmarks/bench_anomaly.py measures it).
        try:
            row = [float(v) for v in values]
        except (TypeError, ValueError):
            raise ValueError(f"expected {self.n_features} number(s), got {values!r}") from None
        if len(row) != self.n_features:
            raise ValueError(f"expected {self.n_features} value(s) ({', '.join(self.detector.config.columns)}), "
                             f"got {len(row)}")
        if not all(map(math.isfinite, row)):
            raise ValueError("values must be finite numbers")
        kind = self._transform
        if kind == "none":
            u = row
        elif kind == "diff":
            u = [0.0] * len(row) if self._previous is None else [a - b for a, b in zip(row, self._previous)]
        else:
            if min(row) <= 0:
                raise ValueError("transform 'logdiff' needs positive values")
            logs = np.log(np.array(row))  # np.log, as the batch path: math.log may differ in the last bit
            u = [0.0] * len(row) if self._previous is None else (logs - self._previous).tolist()
            row = logs
        self._previous = row
        z = [(a - m) / s for a, m, s in zip(u, self._mean, self._scale)]  # as StandardScaler.transform
        error = float("nan")
        if self._predict:
            if self._forecast is not None:
                error = sum(abs(a - b) for a, b in zip(z, self._forecast)) / self.n_features
            self._x[0] = z
            forecast = (self._streamer.step(self._x)[0] @ self._w + self._b).tolist()  # h_t W^T + b
            self._forecast = [a + b for a, b in zip(forecast, z)] if self._residual else forecast
            point = self.step
        else:
            point = self._reconstruct(np.array(z))
            if point is None:
                self.step += 1
                return {"step": None, "score": None, "is_anomaly": False}
            error = self._point_error
        if point < self._warmup:
            error = float("nan")
        score, flag = self._threshold.update(error)
        self.step += 1
        return {"step": point, "score": None if score != score else score, "is_anomaly": flag}

    def _reconstruct(self, z: np.ndarray) -> int | None:
        """Reconstruct the window ending now; return the point that has now been seen in all the windows
        it will ever be in (W steps ago), its mean error in ``self._point_error``; None before that."""
        W = self._window.maxlen
        self._window.append(z)
        if len(self._window) < W:
            return None
        batch = torch.from_numpy(np.stack(self._window)[None])  # (1, W, F)
        with torch.no_grad():
            self._errors.append(np.abs(self._model(batch).numpy() - batch.numpy()).mean(axis=2)[0])  # (W,)
        point = self.step - W + 1  # first row of this window: every window holding it is done
        total, count = 0.0, 0
        for j, errors in enumerate(reversed(self._errors)):  # windows starting at point, point - 1, ...
            if j >= W or point - j < 0:
                break
            total += errors[j]
            count += 1
        self._point_error = total / count
        return point


# --------------------------------------------------------------------------------------- helpers
def _check_labels(series: pd.Series, name: str) -> np.ndarray:
    values = series.to_numpy(dtype=float)
    bad = ~np.isin(values, (0.0, 1.0))
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"labels column {name!r} must hold 0 (normal) or 1 (anomalous), "
                        f"got {values[row]:g} at row {row}")
    return values.astype(bool)


def _label(index: pd.Index, row: int):
    value = index[row]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value.item() if hasattr(value, "item") else value


def _labels(index: pd.Index) -> list:
    if isinstance(index, pd.DatetimeIndex):
        return [t.isoformat() for t in index]
    return list(index)


def _intervals(scores: pd.DataFrame) -> pd.DataFrame:
    """anomalies.csv: one row per maximal run of flagged points."""
    flags = scores["is_anomaly"].to_numpy()
    rows = []
    for a, b in ae.runs(flags):
        part = scores["score"].to_numpy()[a:b]
        peak = int(np.nanargmax(part))
        rows.append({"start": scores["time"].iloc[a], "end": scores["time"].iloc[b - 1], "peak_score": part[peak],
                     "peak_time": scores["time"].iloc[a + peak], "points": b - a})
    return pd.DataFrame(rows, columns=["start", "end", "peak_score", "peak_time", "points"])




def check_out_dir(out: str | Path) -> Path:
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"{out} exists and is not empty; choose another --out")
    return out


def anomalies_plot(scores: pd.DataFrame, columns: Sequence[str], calibration: ae.Calibration, path: str | Path, *,
                   labels: np.ndarray | None = None, title: str = "") -> Path:
    """Top: the series with flagged intervals (red) and labelled events (green). Bottom: the score
    against the two threshold levels (log scale)."""
    from matplotlib.patches import Patch

    from lstmkit.plots import plt, save_figure

    t = scores["time"]
    if len(t) and isinstance(t.iloc[0], str):
        t = pd.to_datetime(t)
    t = np.asarray(t)
    last = len(t) - 1
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(12, 6), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    for column in list(columns)[:4]:
        top.plot(t, scores[column], lw=0.8, label=column)
    if labels is not None:
        for a, b in ae.runs(labels):
            top.axvspan(t[a], t[min(b, last)], color="C2", alpha=0.3, lw=1.5, ec="C2")
    for a, b in ae.runs(scores["is_anomaly"].to_numpy()):
        for ax in (top, bottom):
            ax.axvspan(t[a], t[min(b, last)], color="C3", alpha=0.3, lw=1.5, ec="C3")
    handles, _ = top.get_legend_handles_labels()
    handles.append(Patch(color="C3", alpha=0.3, label="flagged"))
    if labels is not None:
        handles.append(Patch(color="C2", alpha=0.3, label="labelled anomaly"))
    top.legend(handles=handles, loc="upper left", fontsize=8)
    top.set_title(title or "anomalies")
    bottom.plot(t, scores["score"], color="0.3", lw=0.8, label="score (smoothed error)")
    bottom.axhline(calibration.epsilon, color="C1", lw=0.8, ls="--", label="epsilon: a run lasts while above")
    bottom.axhline(calibration.trigger, color="C3", lw=0.8, ls="--", label="trigger: a run is an anomaly once above")
    if np.nanmin(scores["score"].to_numpy(), initial=np.inf) > 0:
        bottom.set_yscale("log")
    bottom.legend(loc="upper left", fontsize=8)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------- run functions
def train_run(config: AnomalyConfig, data, out: str | Path) -> dict:
    """``lstmkit anomaly train``: fit on the training part, calibrate, write the run directory
    (config.json with thresholds, model.safetensors, history.csv). Input is validated first."""
    out = check_out_dir(out)
    detector = AnomalyDetector(config)
    detector._parts(detector._read(data))  # validate before anything is written
    detector.fit(data, run_dir=out)
    detector.save(out)
    return {"split": detector.state["split"], "threshold": detector.state["threshold"],
            "epochs": len(detector.history), "detector": detector}


def detect_run(model_dir: str | Path, data, out: str | Path, *, labels: str | None = None,
               eval_from: int | str | None = None) -> dict:
    """``lstmkit anomaly detect``: write scores.csv, anomalies.csv, anomalies.png and (with labels)
    metrics.json to ``out``. Everything is read and computed before the first file is written."""
    out = check_out_dir(out)
    detector = AnomalyDetector.load(model_dir)
    result = detector.detect(data, labels=labels, eval_from=eval_from)
    scores, truth = result["scores"], result["labels"]
    table = scores if truth is None else scores.assign(label=truth.astype(int))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "scores.csv", table.to_csv(index=False))
    atomic_write_text(out / "anomalies.csv", result["anomalies"].to_csv(index=False))
    if result["metrics"] is not None:
        write_json(out / "metrics.json", result["metrics"])
    title = f"{detector.config.method} detector: {len(result['anomalies'])} anomalous interval(s)"
    if result["metrics"] is not None and result["metrics"]["model"]["f1"] is not None:
        m = result["metrics"]["model"]
        title += f"; event precision {m['precision']:.2f}, recall {m['recall']:.2f}, F1 {m['f1']:.2f}"
    anomalies_plot(scores, detector.config.columns, detector.calibration, out / "anomalies.png", labels=truth,
                   title=title)
    return result


def parse_line(line: str, n_features: int) -> list[float]:
    """One watch input line -> values; ValueError with the reason for a malformed line."""
    parts = [p.strip() for p in line.strip().split(",")]
    if len(parts) != n_features:
        raise ValueError(f"expected {n_features} comma-separated value(s), got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError("not a number: " + next(p for p in parts if not _is_float(p))[:40]) from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("values must be finite numbers")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def watch(detector: AnomalyDetector, lines: Iterable[str], out: TextIO | None = None,
          err: TextIO | None = None) -> dict:
    """``lstmkit anomaly watch``: one JSON line per input line, flushed as it goes.

    A malformed line (wrong count, not a number, not finite) is reported on ``err`` with its line
    number and skipped: the state is left as it was and the watch goes on. Blank lines, and a first
    line naming the trained columns (a CSV header), are ignored.
    Returns ``{"scored": n, "skipped": m, "anomalies": k}``.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    stream = detector.stream()
    n_features = stream.n_features
    scored = skipped = anomalies = 0
    header = [c.strip() for c in detector.config.columns]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == 1 and [p.strip() for p in line.split(",")] == header:
            continue  # a CSV header naming the trained columns: not data, not an error
        try:
            values = parse_line(line, n_features)
            record = stream.update(values)
        except ValueError as error:
            skipped += 1
            print(f"lstmkit: line {number} skipped: {error}", file=err, flush=True)
            continue
        scored += 1
        anomalies += record["is_anomaly"]
        out.write(json.dumps(record) + "\n")
        out.flush()
    return {"scored": scored, "skipped": skipped, "anomalies": anomalies}
