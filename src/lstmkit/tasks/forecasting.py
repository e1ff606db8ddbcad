r"""Time-series forecasting: an LSTM that forecasts the next K steps of one or more columns.

How a forecast is made (all of it fitted on the training part only)
-------------------------------------------------------------------
1. **Transform.** A target whose training values are all positive is modelled on the log scale
   (``transform="auto"``): trends and seasonal swings that grow with the level become additive.
2. **Window-relative scale.** An LSTM fed raw, trending levels learns badly from a hundred points, and a
   scaler fitted on the training part cannot extrapolate a trend. So each input window is expressed
   relative to its own *level* :math:`\ell_T` (the mean of its last m values, m the season; the last
   value when there is no season) and divided by a per-target scale :math:`s` (the training part's
   mean absolute one-step change):  :math:`\tilde z_t = (z_t - \ell_T) / s`.
3. **Seasonal baseline.** Before the LSTM says anything, the forecast is the level plus the average
   seasonal profile of the last J seasons, each taken relative to its own level:

   .. math:: b_{T+h} = \frac{1}{J}\sum_{j=1}^{J} \left(z_{T+h-jL} - \ell_{T-jL}\right), \quad L = m\lceil K/m\rceil

   (zero without a season, i.e. the naive forecast). This is what seasonal naive does, made robust
   to noise (J averages) and to trend (per-season levels).
4. **LSTM correction.** An :class:`lstmkit.nn.LSTM` reads the relative window; a linear head reads its
   last hidden state and the baseline and outputs a correction for every step, target and quantile:
   :math:`\hat z_{T+h} = \ell_T + s\,(b_{T+h} + \mathrm{head}([h_T, b]))`. The head starts at zero, so
   training starts from the baseline and early stopping on the validation part (restoring the best
   weights) keeps only corrections that help. For long seasons (m > 24: daily data with a yearly
   cycle) the baseline is a single noisy value a season ago rather than an average of whole cycles;
   there it is only an input of the head, :math:`\hat z_{T+h} = \ell_T + s\,\mathrm{head}([h_T, b])`
   (``baseline_residual``; on the Seattle weather this lowered test MASE from 0.735 to 0.717, mean of
   three seeds).
5. **Ensemble.** ``ensemble`` independently initialised members are trained side by side (their losses
   summed, so each gets its own gradients); the forecast is their mean. On a hundred points this
   removes most of the seed-to-seed variance.

The loss is the pinball (quantile) loss, which for the median alone is half the absolute error, the
loss MASE measures. Windows are built so that no target lies outside its split (``lstmkit.data``).
"""
from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from lstmkit.data import DataError, StandardScaler, make_windows, read_table, seasonal_period, temporal_split
from lstmkit.nn import LSTM
from lstmkit.config import DictConfig
from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.tasks import forecast_eval as fe
from lstmkit.train import TrainConfig, Trainer, load_model, read_config, save_model, write_task_config
from lstmkit.train.checkpoint import atomic_write_text, check_run_dir, write_json

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1


# ---------------------------------------------------------------------------------------- config
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
    ensemble: int = 3
    train_fraction: float = 0.7
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    fill: str | None = None  # missing values / gaps: None (error), "ffill" or "interpolate"
    sort: bool = False  # sort rows by time instead of refusing unsorted input
    # Training. Small data, many cheap epochs: a few thousand steps for a monthly series. Early
    # stopping restores the best validation weights (without that, peers ended worse than naive).
    epochs: int = 300
    patience: int = 40
    lr: float = 3e-3
    weight_decay: float = 1e-4
    batch_size: int = 32
    clip_grad_norm: float = 1.0
    seed: int = 0
    # "auto": CUDA when available, else CPU. Bit-for-bit resume is guaranteed on CPU only.
    device: str = "auto"

    def __post_init__(self) -> None:
        if isinstance(self.targets, str):
            self.targets = [self.targets]
        if not self.targets:
            raise ValueError("ForecastConfig: at least one target column is needed")
        overlap = set(self.targets) & set(self.features)
        if overlap:
            raise ValueError(f"ForecastConfig: {sorted(overlap)} listed both as target and as feature")
        if self.transform not in ("auto", "log", "none"):
            raise ValueError(f"transform must be 'auto', 'log' or 'none', got {self.transform!r}")
        for name in ("input_width", "horizon", "season", "seasons_averaged"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        qs = sorted(set(float(q) for q in self.quantiles) | {0.5})
        if not all(0 < q < 1 for q in qs):
            raise ValueError(f"quantiles must lie strictly between 0 and 1, got {self.quantiles}")
        self.quantiles = qs
        for name in ("ensemble", "hidden_size", "num_layers", "epochs", "patience", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")



# ----------------------------------------------------------------------------------------- model
@register_model("forecaster")
class ForecastNet(torch.nn.Module):
    """Ensemble of LSTM + linear head; maps a relative window and a baseline to relative forecasts.

    With ``residual`` the output is the baseline plus the head's correction; without, the head's output
    alone (the baseline is still one of its inputs).

    ``forward((x, base))``: x (N, W, F) window (targets relative to level, features scaled), base
    (N, K, T) relative baseline. Returns (N, K, T, Q) in eval mode (the members' mean) and
    (E, N, K, T, Q) in training mode (every member, for the loss).
    """

    def __init__(self, n_inputs: int, n_targets: int, horizon: int, quantiles: Sequence[float] = (0.5,),
                 hidden_size: int = 32, num_layers: int = 1, dropout: float = 0.0, members: int = 3,
                 residual: bool = True):
        super().__init__()
        self.residual = residual
        self.n_inputs, self.n_targets, self.horizon = n_inputs, n_targets, horizon
        self.quantiles = [float(q) for q in quantiles]
        self.hidden_size, self.num_layers, self.dropout, self.members = hidden_size, num_layers, dropout, members
        out = horizon * n_targets * len(self.quantiles)
        self.lstms = torch.nn.ModuleList(
            LSTM(n_inputs, hidden_size, num_layers, batch_first=True, dropout=dropout if num_layers > 1 else 0.0)
            for _ in range(members)
        )
        self.heads = torch.nn.ModuleList(torch.nn.Linear(hidden_size + horizon * n_targets, out)
                                         for _ in range(members))
        with torch.no_grad():  # start at the baseline: a zero correction
            for head in self.heads:
                head.weight.zero_()
                head.bias.zero_()

    def get_config(self) -> dict:
        return {"n_inputs": self.n_inputs, "n_targets": self.n_targets, "horizon": self.horizon,
                "quantiles": self.quantiles, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "dropout": self.dropout, "members": self.members, "residual": self.residual}

    @classmethod
    def from_config(cls, config: dict) -> "ForecastNet":
        return cls(**config)

    def forward(self, inputs) -> torch.Tensor:
        x, base = inputs  # (N, W, F), (N, K, T)
        N = x.shape[0]
        shape = (N, self.horizon, self.n_targets, len(self.quantiles))
        outputs = []
        for lstm, head in zip(self.lstms, self.heads):
            _, (h_n, _) = lstm(x)  # h_n (layers, N, H)
            correction = head(torch.cat([h_n[-1], base.flatten(1)], dim=1)).view(shape)
            outputs.append(base.unsqueeze(-1) + correction if self.residual else correction)  # (N, K, T, Q)
        stacked = torch.stack(outputs)  # (E, N, K, T, Q)
        return stacked if self.training else stacked.mean(0)


def pinball_loss(quantiles: Sequence[float]):
    r"""Mean pinball loss :math:`\max(q (y - \hat y), (q - 1)(y - \hat y))` over every quantile q."""
    q_values = torch.tensor(list(quantiles))

    def loss(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        q = q_values.to(pred.device, pred.dtype)
        diff = y.unsqueeze(-1) - pred  # broadcasts over the ensemble axis in training
        return torch.maximum(q * diff, (q - 1) * diff).mean()

    return loss


# ------------------------------------------------------------------------------- data preparation
@dataclass
class _Prepared:
    """A table turned into model-ready arrays (the transform already applied)."""

    frame: pd.DataFrame
    z: np.ndarray  # (n, T) transformed targets
    features: np.ndarray  # (n, F_x) scaled features (F_x may be 0)


class Forecaster:
    """Fit, evaluate, predict, save and load an LSTM forecaster on a table.

    >>> fc = Forecaster(ForecastConfig(targets=["temp_max"], time_column="date")).fit(df)
    >>> fc.evaluate(df)["model"]["mase"]; fc.predict(df)  # next horizon after the end of df
    """

    def __init__(self, config: ForecastConfig):
        self.config = config
        self.model: ForecastNet | None = None
        self.state: dict[str, Any] = {}  # learned from the training part; saved as config.json["data"]
        self.history: list[dict] = []

    # ---- reading -----------------------------------------------------------------------------
    def _read(self, data) -> pd.DataFrame:
        cfg = self.config
        time_column = cfg.time_column
        if (isinstance(data, pd.DataFrame) and time_column and time_column not in data.columns
                and data.index.name == time_column):
            time_column = None  # already indexed by time (a table read_table returned): use the index
        return read_table(data, time_column=time_column, columns=[*cfg.targets, *cfg.features],
                          sort=cfg.sort, fill=cfg.fill)

    def _split(self, n: int):
        cfg = self.config
        return temporal_split(n, train=cfg.train_fraction, val=cfg.val_fraction, test=cfg.test_fraction)

    # ---- fitting the preprocessing -------------------------------------------------------------
    def _resolve(self, frame: pd.DataFrame, n_train: int) -> dict:
        """Choose season, horizon, input width and J from the data where the config leaves them open."""
        cfg = self.config
        freq = frame.attrs.get("freq")
        season = cfg.season
        if season is None:
            season = seasonal_period(freq, n=len(frame)) if freq else 1
        offset = pd.tseries.frequencies.to_offset(freq) if freq else None
        daily = isinstance(offset, (pd.offsets.Day, pd.offsets.BusinessDay)) and offset.n == 1
        horizon = cfg.horizon or (7 if daily else season if 2 <= season <= 24 else 1)
        width = cfg.input_width or max(2 * horizon, 3 * season if 2 <= season <= 24 else 56 if season > 1 else 24)
        width = min(width, max(2, n_train // 3)) if cfg.input_width is None else width
        lag = fe.seasonal_lag(season, horizon)
        j = cfg.seasons_averaged
        if season > 1:
            level_span = min(width, season)
            if j is None:
                j = min(3, (n_train - horizon - level_span) // (2 * lag))
            if j < 1:
                logger.warning("the training part (%d rows) is too short for season %d with horizon %d; "
                               "forecasting without a seasonal baseline", n_train, season, horizon)
                season, j, lag = 1, 1, horizon
        j = j or 1
        residual = cfg.baseline_residual if cfg.baseline_residual is not None else season <= 24
        return {"season": season, "horizon": horizon, "input_width": width, "seasons_averaged": j, "lag": lag,
                "freq": freq, "baseline_residual": residual}

    def _first_origin(self) -> int:
        s = self.state
        if s["season"] > 1:
            return max(s["input_width"], s["seasons_averaged"] * s["lag"] + min(s["input_width"], s["season"]))
        return s["input_width"]

    def _fit_preprocessing(self, frame: pd.DataFrame) -> None:
        cfg = self.config
        split = self._split(len(frame))
        n_train = split.train.stop
        self.state = self._resolve(frame, n_train)
        values = frame[cfg.targets].to_numpy(dtype=float)
        train_values = values[:n_train]
        if cfg.transform == "log":
            bad = [c for c, ok in zip(cfg.targets, (train_values > 0).all(0)) if not ok]
            if bad:
                raise DataError(f"transform='log' needs positive values, but target {bad[0]!r} has values <= 0")
            log = [True] * len(cfg.targets)
        elif cfg.transform == "auto":
            log = [bool(ok) for ok in (train_values > 0).all(0)]
        else:
            log = [False] * len(cfg.targets)
        self.state["log_targets"] = log
        z = self._transform(values)
        step = np.abs(np.diff(z[:n_train], axis=0)).mean(0)
        self.state["target_scale"] = [float(v) if v > 0 else 1.0 for v in step]
        if cfg.features:
            scaler = StandardScaler().fit(frame[cfg.features].to_numpy(dtype=float)[:n_train])
            self.state["feature_scaler"] = scaler.to_dict()
        else:
            self.state["feature_scaler"] = None
        self.state["time_column"] = frame.attrs.get("time_column")
        self.state["split"] = {"rows": len(frame), "train": [0, split.train.stop],
                               "val": [split.val.start, split.val.stop], "test": [split.test.start, split.test.stop]}

    def _transform(self, values: np.ndarray) -> np.ndarray:
        z = values.astype(float).copy()
        for k, use_log in enumerate(self.state["log_targets"]):
            if use_log:
                if (values[:, k] <= 0).any():
                    row = int(np.argmax(values[:, k] <= 0))
                    raise DataError(f"target {self.config.targets[k]!r} was log-transformed in training but has "
                                    f"value {values[row, k]} <= 0 at row {row}")
                z[:, k] = np.log(values[:, k])
        return z

    def _inverse(self, z: np.ndarray) -> np.ndarray:
        out = z.copy()
        for k, use_log in enumerate(self.state["log_targets"]):
            if use_log:
                out[..., k] = np.exp(z[..., k])
        return out

    def _prepare(self, frame: pd.DataFrame) -> _Prepared:
        cfg = self.config
        z = self._transform(frame[cfg.targets].to_numpy(dtype=float))
        if cfg.features:
            scaler = StandardScaler.from_dict(self.state["feature_scaler"])
            feats = scaler.transform(frame[cfg.features].to_numpy(dtype=float))
        else:
            feats = np.zeros((len(frame), 0))
        return _Prepared(frame, z, feats)

    # ---- windows -------------------------------------------------------------------------------
    def _levels(self, z: np.ndarray, origins: np.ndarray) -> np.ndarray:
        """(N, T): the level before each origin: mean of the last min(W, m) values, or the last value."""
        s = self.state
        span = min(s["input_width"], s["season"]) if s["season"] > 1 else 1
        rows = origins[:, None] - span + np.arange(span)[None, :]  # (N, span)
        return z[rows].mean(axis=1)

    def _inputs(self, data: _Prepared, origins: np.ndarray):
        """Model inputs for forecast origins T (first forecast row): x (N, W, F), base (N, K, T), level (N, T)."""
        s = self.state
        W, K = s["input_width"], s["horizon"]
        scale = np.asarray(s["target_scale"])
        full = np.concatenate([data.z, data.features], axis=1)  # (n, T + F_x)
        # make_windows: window i covers rows [i, i + W); the window ending just before T is i = T - W.
        windows, _ = make_windows(np.concatenate([full, np.zeros((1, full.shape[1]))]), W, 1)
        x = np.array(windows[origins - W], dtype=float)  # (N, W, T + F_x), copied: made relative below
        level = self._levels(data.z, origins)  # (N, T)
        n_t = data.z.shape[1]
        x[:, :, :n_t] = (x[:, :, :n_t] - level[:, None, :]) / scale
        base = np.zeros((len(origins), K, n_t))
        if s["season"] > 1:
            for j in range(1, s["seasons_averaged"] + 1):
                past = origins - j * s["lag"]  # the same part of the season, j seasons back
                rows = past[:, None] + np.arange(K)[None, :]
                base += data.z[rows] - self._levels(data.z, past)[:, None, :]
            base /= s["seasons_averaged"]
        base = base / scale
        return (torch.tensor(x, dtype=torch.float32), torch.tensor(base, dtype=torch.float32)), level

    def _origins(self, rows: slice) -> np.ndarray:
        """Forecast origins whose whole horizon lies inside ``rows`` (and whose inputs exist)."""
        K = self.state["horizon"]
        return np.arange(max(rows.start, self._first_origin()), rows.stop - K + 1)

    def _dataset(self, data: _Prepared, rows: slice):
        origins = self._origins(rows)
        if len(origins) == 0:
            return None
        (x, base), level = self._inputs(data, origins)
        K = self.state["horizon"]
        target_rows = origins[:, None] + np.arange(K)[None, :]
        y = (data.z[target_rows] - level[:, None, :]) / np.asarray(self.state["target_scale"])
        return torch.utils.data.TensorDataset(x, base, torch.tensor(y, dtype=torch.float32))

    # ---- fit -----------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "Forecaster":
        """Fit the preprocessing and the model on the train part of ``data`` (a CSV path or DataFrame),
        stopping early on the validation part. With ``run_dir``, checkpoints go there (``resume=True``
        continues an interrupted run; the result equals an uninterrupted one)."""
        cfg = self.config
        frame = self._read(data)
        self._fit_preprocessing(frame)
        prepared = self._prepare(frame)
        split = self._split(len(frame))
        train_set = self._dataset(prepared, split.train)
        val_set = self._dataset(prepared, split.val)
        needed = self._first_origin() + self.state["horizon"]
        if train_set is None or len(train_set) < 2:
            raise DataError(
                f"too few rows: the training part has {split.train.stop} rows, but input width "
                f"{self.state['input_width']} + horizon {self.state['horizon']} (and the seasonal baseline) need "
                f"more than {needed}; use more data or a smaller --input-width/--horizon"
            )
        if val_set is None:
            raise DataError(
                f"too few rows: the validation part (rows {split.val.start}-{split.val.stop - 1}) is shorter than the "
                f"horizon {self.state['horizon']}; use more data or a smaller --horizon"
            )
        seed_everything(cfg.seed)
        self.model = ForecastNet(prepared.z.shape[1] + prepared.features.shape[1], len(cfg.targets),
                                 self.state["horizon"], cfg.quantiles, cfg.hidden_size, cfg.num_layers,
                                 cfg.dropout, cfg.ensemble, self.state["baseline_residual"])
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, seed=cfg.seed, device=cfg.device,
                                   progress=False)
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self._write_config(run_dir, train_config)  # a killed run can be resumed from its directory alone
        trainer = Trainer(self.model, pinball_loss(cfg.quantiles), train_config, run_dir=run_dir)
        # The Trainer feeds (x, y) pairs: pack the two model inputs into x.
        self.history = trainer.fit(_Pairs(train_set), _Pairs(val_set), resume=resume)
        self.model = trainer.model.eval()
        if run_dir is not None:
            self._write_config(run_dir, train_config)
        return self

    # ---- forecasts -----------------------------------------------------------------------------
    def _require_fitted(self) -> None:
        if self.model is None:
            raise RuntimeError("this Forecaster is not fitted yet: call fit() or Forecaster.load()")

    @torch.no_grad()
    def _forecast(self, data: _Prepared, origins: np.ndarray) -> np.ndarray:
        """(N, K, T, Q) forecasts on the original scale for the given origins."""
        inputs, level = self._inputs(data, origins)
        device = next(self.model.parameters()).device
        rel = self.model.eval()(tuple(t.to(device) for t in inputs)).cpu().numpy().astype(float)  # (N, K, T, Q)
        rel = np.sort(rel, axis=-1)  # quantiles never cross
        scale = np.asarray(self.state["target_scale"])
        z = level[:, None, :, None] + rel * scale[None, None, :, None]
        return np.moveaxis(self._inverse(np.moveaxis(z, -1, 1)), 1, -1)  # inverse transform per target

    def _median_index(self) -> int:
        return self.config.quantiles.index(0.5)

    def evaluate(self, data) -> dict:
        """Metrics on every window of the test part: the model and the baselines, same windows.

        Returns ``{"model": {...}, "baselines": {...}, "split": {...}, "forecasts": DataFrame}``.
        """
        self._require_fitted()
        frame = self._read(data)
        split = self._split(len(frame))
        result = self._evaluate_rows(frame, split.test, train_end=split.train.stop)
        result["split"] = {**self.state["split"], **result["split"]}
        return result

    def _evaluate_rows(self, frame: pd.DataFrame, rows: slice, *, train_end: int) -> dict:
        """Evaluate forecasts whose whole horizon lies in ``rows``; MASE scaled on rows [0, train_end)."""
        cfg, s = self.config, self.state
        prepared = self._prepare(frame)
        origins = self._origins(rows)
        K = s["horizon"]
        if len(origins) == 0:
            raise DataError(f"the test part has {rows.stop - rows.start} rows, fewer than the horizon {K} "
                            "(or than the history the first window needs): no test window")
        values = frame[cfg.targets].to_numpy(dtype=float)
        truth = values[origins[:, None] + np.arange(K)[None, :]]  # (N, K, T)
        pred_q = self._forecast(prepared, origins)
        pred = pred_q[..., self._median_index()]
        scale = fe.mase_scale(values[:train_end], s["season"])
        result = {"model": fe.forecast_metrics(truth, pred, scale)}
        if len(cfg.quantiles) > 1:
            result["model"]["pinball"] = _pinball_numpy(truth, pred_q, cfg.quantiles)
            inside = (truth >= pred_q[..., 0]) & (truth <= pred_q[..., -1])
            result["model"][f"coverage_{cfg.quantiles[0]:g}_{cfg.quantiles[-1]:g}"] = float(inside.mean())
        baselines = {
            "naive": fe.naive_forecast(values, origins, K),
            "seasonal_naive": fe.seasonal_naive_forecast(values, origins, K, s["season"]),
        }
        ets = fe.ets_forecast(prepared.z, origins, K, s["season"], fit_end=rows.start)
        if ets is not None:
            baselines["ets"] = self._inverse(ets)
        result["baselines"] = {name: fe.forecast_metrics(truth, p, scale) for name, p in baselines.items()}
        result["split"] = {"test": [rows.start, rows.stop], "test_windows": int(len(origins)), "horizon": K,
                           "season": s["season"], "input_width": s["input_width"],
                           "seasons_averaged": s["seasons_averaged"]}
        result["forecasts"] = self._forecast_frame(frame, origins, truth, pred_q, baselines)
        return result

    def _forecast_frame(self, frame, origins, truth, pred_q, baselines) -> pd.DataFrame:
        cfg = self.config
        K = truth.shape[1]
        index = frame.index
        rows = []
        for i, origin in enumerate(origins):
            for h in range(K):
                for k, target in enumerate(cfg.targets):
                    row = {"origin": _label(index, origin - 1), "time": _label(index, origin + h), "step": h + 1,
                           "target": target, "actual": truth[i, h, k],
                           "forecast": pred_q[i, h, k, self._median_index()]}
                    for qi, q in enumerate(cfg.quantiles):
                        if q != 0.5:
                            row[f"q{q:g}"] = pred_q[i, h, k, qi]
                    for name, p in baselines.items():
                        row[name] = p[i, h, k]
                    rows.append(row)
        return pd.DataFrame(rows)

    def predict(self, data) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``data`` (same columns as in training)."""
        self._require_fitted()
        cfg, s = self.config, self.state
        frame = self._read(data)
        n = len(frame)
        needed = self._first_origin()
        if n < needed:
            raise DataError(f"predict needs at least {needed} rows (input width {s['input_width']} plus the seasonal "
                            f"baseline's history), got {n}")
        prepared = self._prepare(frame)
        pred_q = self._forecast(prepared, np.array([n]))[0]  # (K, T, Q)
        times = _future_index(frame, s["horizon"], s.get("freq"))
        rows = []
        for h in range(s["horizon"]):
            for k, target in enumerate(cfg.targets):
                row = {"time": times[h], "step": h + 1, "target": target,
                       "forecast": pred_q[h, k, self._median_index()]}
                for qi, q in enumerate(cfg.quantiles):
                    if q != 0.5:
                        row[f"q{q:g}"] = pred_q[h, k, qi]
                rows.append(row)
        return pd.DataFrame(rows)

    # ---- files ---------------------------------------------------------------------------------
    def _write_config(self, run_dir, train_config: TrainConfig | None = None) -> None:
        write_task_config(run_dir, "forecast", self.config, self.state, train_config)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` (task, preprocessing state, model) + ``model.safetensors``."""
        self._require_fitted()
        directory = Path(directory)
        save_model(self.model, directory)
        self._write_config(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "Forecaster":
        config = read_config(directory)
        task = dict(config.get("task") or {})
        if task.pop("name", None) != "forecast" or "data" not in config:
            raise DataError(f"{directory} does not hold a forecasting model (config.json has no forecast task)")
        forecaster = cls(ForecastConfig.from_dict(task))
        forecaster.state = config["data"]
        forecaster.model = load_model(directory).eval()
        return forecaster


# ---------------------------------------------------------------------------------- run directory
def train_run(config: ForecastConfig, data, out: str | Path, *, resume: bool = False) -> dict:
    """``lstmkit forecast train``: fit, evaluate on the test part, and write the run directory.

    Writes ``config.json``, ``model.safetensors``, ``history.csv`` (through the Trainer),
    ``metrics.json``, ``forecast.csv``, ``forecast.png``. The data is read and validated before
    anything is written, so bad input leaves no files behind.
    """
    from lstmkit.plots import forecast_plot

    out = check_run_dir(out, resume=resume)
    if resume:
        saved = read_config(out).get("task") or {}
        saved.pop("name", None)
        config = ForecastConfig.from_dict(saved) if saved else config
    forecaster = Forecaster(config)
    forecaster._read(data)  # validate first: nothing is written for bad input
    forecaster.fit(data, run_dir=out, resume=resume)
    result = forecaster.evaluate(data)
    forecasts = result.pop("forecasts")
    write_json(out / "metrics.json", result)
    atomic_write_text(out / "forecast.csv", forecasts.to_csv(index=False))
    frame = forecaster._read(data)
    target = config.targets[0]
    band = (f"q{config.quantiles[0]:g}", f"q{config.quantiles[-1]:g}") if len(config.quantiles) > 1 else None
    forecast_plot(frame[target], forecasts[forecasts["target"] == target], out / "forecast.png",
                  title=f"{target}: test part, MASE {result['model']['mase']:.3f} "
                        f"(seasonal naive {result['baselines']['seasonal_naive']['mase']:.3f})",
                  quantile_columns=band)
    return result


def backtest_run(config: ForecastConfig, data, out: str | Path, *, folds: int = 3,
                 fold_size: int | None = None) -> dict:
    """Walk-forward backtest: for each fold, fit on every row before it and score the fold.

    Fold k trains on rows ``[0, start_k)`` (its last ``val_fraction`` for early stopping) and is scored
    on the windows whose horizon lies in ``[start_k, start_k + fold_size)``; folds follow one another,
    so no fold ever sees its own future. Writes ``metrics.json`` (per fold and overall: the mean over
    folds) and ``backtest.csv`` to ``out``.
    """
    from lstmkit.data import walk_forward

    out = check_run_dir(out, resume=False)
    probe = Forecaster(config)
    frame = probe._read(data)
    n = len(frame)
    if fold_size is None:
        fold_size = max(2 * (config.horizon or 1), int(config.test_fraction * n))  # as large as a test part
    fold_config = dataclasses.replace(config, train_fraction=1 - config.val_fraction, test_fraction=0.0)
    per_fold, rows = [], []
    for k, fold in enumerate(walk_forward(n, folds=folds, horizon=fold_size, min_train=n - folds * fold_size)):
        forecaster = Forecaster(fold_config).fit(frame.iloc[: fold.train.stop])
        result = forecaster._evaluate_rows(frame, fold.test, train_end=fold.train.stop)
        forecasts = result.pop("forecasts")
        forecasts.insert(0, "fold", k + 1)
        rows.append(forecasts)
        per_fold.append({"fold": k + 1, "train_rows": [0, fold.train.stop],
                         "test_rows": [fold.test.start, fold.test.stop], **result})
        logger.info("fold %d: model MASE %.3f", k + 1, result["model"]["mase"])
    overall = {"model": _mean_metrics([f["model"] for f in per_fold])}
    overall["baselines"] = {name: _mean_metrics([f["baselines"][name] for f in per_fold])
                            for name in per_fold[0]["baselines"]}
    summary = {**overall, "folds": per_fold, "split": {"folds": folds, "fold_size": fold_size, "rows": n}}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", summary)
    atomic_write_text(out / "backtest.csv", pd.concat(rows).to_csv(index=False))
    return summary


def _mean_metrics(rows: list[dict]) -> dict:
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


class _Pairs(torch.utils.data.Dataset):
    """(x, base, y) rows as the Trainer's (inputs, target) pairs."""

    def __init__(self, tensors: torch.utils.data.TensorDataset):
        self.tensors = tensors

    def __len__(self) -> int:
        return len(self.tensors)

    def __getitem__(self, i):
        x, base, y = self.tensors[i]
        return (x, base), y


def _pinball_numpy(truth: np.ndarray, pred_q: np.ndarray, quantiles: Sequence[float]) -> float:
    q = np.asarray(quantiles)
    diff = truth[..., None] - pred_q
    return float(np.maximum(q * diff, (q - 1) * diff).mean())


def _label(index: pd.Index, row: int):
    if row < len(index):
        value = index[row]
        return value.isoformat() if hasattr(value, "isoformat") else value
    return row


def _future_index(frame: pd.DataFrame, horizon: int, freq: str | None) -> list:
    index = frame.index
    if isinstance(index, pd.DatetimeIndex) and freq:
        future = pd.date_range(index[-1], periods=horizon + 1, freq=freq)[1:]
        return [t.isoformat() for t in future]
    if isinstance(index, pd.RangeIndex) or (len(index) and np.issubdtype(index.dtype, np.integer)):
        step = int(index[-1] - index[-2]) if len(index) > 1 else 1
        return [int(index[-1]) + step * (h + 1) for h in range(horizon)]
    return [f"+{h + 1}" for h in range(horizon)]


