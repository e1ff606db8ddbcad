r"""The detector: fit on the normal part of a series, calibrate a threshold, then score and flag.

Parts of a series (rows, in time order)::

    [0 ........ fit ........)[.... calibration ....)[....... not trained on .......)
    |<------------ training part: assumed normal -->|

The model is fitted on the fit part; the calibration part decides early stopping and the threshold.
Values are modelled after an optional transform (``"diff"``: first differences; ``"logdiff"``: log
returns, for prices) and a :class:`~lstmkit.data.StandardScaler` fitted on the fit part.
Inference runs in float64 (a copy of the trained float32 weights), so the batch path (the whole
series in one call) and the streaming path (NumPy steps, :mod:`lstmkit.tasks.anomaly.stream`) agree
to round-off (~1e-12). With ``detect --quantize int8`` the batch path runs the model's int8 ONNX graph
instead (:attr:`AnomalyDetector.batch_model`, set by :func:`lstmkit.export.runtime.use_int8`): its errors
move by a few hundredths at most, and streams keep the float64 path.
"""
from __future__ import annotations

import copy
import dataclasses
import logging
import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from lstmkit.data import StandardScaler, make_windows, read_table, temporal_split
from lstmkit.errors import DataError, InputFileError, ModelFileError
from lstmkit.metrics.events import event_metrics, runs
from lstmkit.runtime import seed_everything
from lstmkit.tasks.anomaly.baselines import rolling_zscore
from lstmkit.tasks.anomaly.config import AnomalyConfig, AnomalyState
from lstmkit.tasks.anomaly.data import row_of, stream_loaders, window_sets
from lstmkit.tasks.anomaly.model import NextStepNet, SequenceAutoencoder, masked_mse
from lstmkit.tasks.anomaly.thresholds import Calibration, OnlineThreshold, calibrate, ewma
from lstmkit.tasks.base import Application
from lstmkit.tasks.cells import layer_options
from lstmkit.train import TrainConfig

logger = logging.getLogger(__name__)


class AnomalyDetector(Application):
    """Fit on the normal part of a series, then score, flag and stream.

    >>> det = AnomalyDetector(AnomalyConfig(columns=["value"])).fit(df)
    >>> result = det.detect(df, labels="label")   # scores, intervals, event metrics
    >>> stream = det.stream(); stream.update([0.42])   # {"step": 0, "score": None, "is_anomaly": False}
    """

    name = "anomaly"
    config_class = AnomalyConfig
    state_class = AnomalyState
    description = "an anomaly detector"
    train_command = "lstmkit anomaly train"

    config: AnomalyConfig
    state: AnomalyState | None  # preprocessing, split and thresholds; config.json["data"]

    def __init__(self, config: AnomalyConfig):
        super().__init__(config)
        self._infer: torch.nn.Module | None = None  # float64 copy used for every score
        # What errors() scores a whole series with instead of that copy, when set: the int8 ONNX graph of
        # --quantize int8 (lstmkit.export.runtime.use_int8). Streams keep the float64 copy either way.
        self.batch_model: torch.nn.Module | None = None
        self._streamer = None  # the first stream's streamer; later streams fork it (shared weights)

    # ---- reading ---------------------------------------------------------------------------------
    def read(self, data, extra: Sequence[str] = ()) -> pd.DataFrame:
        """The table of ``data`` (a path or a DataFrame) with the configured columns (and ``extra``), checked."""
        cfg = self.config
        time_column = cfg.time_column
        if (isinstance(data, pd.DataFrame) and time_column and time_column not in data.columns
                and data.index.name == time_column):
            time_column = None
        if isinstance(data, (str, Path)) and not Path(data).is_file():
            raise InputFileError(f"{data}: no such file")
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

    def train_rows(self, frame: pd.DataFrame) -> int:
        """Rows [0, n_train) form the training part (``train_until``, else ``train_fraction``)."""
        cfg = self.config
        if cfg.train_until is None:
            return int(math.floor(cfg.train_fraction * len(frame)))
        return row_of(frame, cfg.train_until, "train_until")

    def check_input(self, data) -> None:
        self.parts(self.read(data))

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
        scaler = StandardScaler.from_dict(self.state.scaler)
        return scaler.transform(self._transform(values))

    def warmup_steps(self) -> int:
        """The first rows of a series (or stream) left unscored."""
        cfg = self.config
        if cfg.method == "reconstruction":
            return cfg.warmup
        return max(cfg.warmup, 1)  # row 0 is never predicted

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "AnomalyDetector":
        """Fit the preprocessing and the model on the training part of ``data`` and calibrate the
        thresholds on its calibration part. ``run_dir`` receives the Trainer's checkpoints and history
        (``resume``: continue an interrupted run there)."""
        cfg = self.config
        frame = self.read(data)
        n_fit, n_train = self.parts(frame)
        values = frame[cfg.columns].to_numpy(dtype=float)
        scaler = StandardScaler().fit(self._transform(values[:n_fit]))
        self.state = AnomalyState(
            scaler=scaler.to_dict(), time_column=frame.attrs.get("time_column"),
            split={"rows": len(frame), "fit": [0, n_fit], "calibration": [n_fit, n_train],
                   "train_end": _label(frame.index, n_train - 1)},
        )
        z = self._prepare(values[:n_train])  # (n_train, F)
        seed_everything(cfg.seed)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                                   weight_decay=1e-4, clip_grad_norm=cfg.clip_grad_norm, patience=cfg.patience,
                                   restore_best=True, seed=cfg.seed, device="cpu", progress=False,
                                   shuffle=cfg.method == "reconstruction",
                                   carry_state=cfg.method == "prediction")
        cells = {"cell": cfg.cell, **layer_options(cfg)}
        if cfg.method == "prediction":
            model = NextStepNet(len(cfg.columns), cfg.hidden_size, cfg.num_layers, residual=cfg.transform == "none",
                                **cells)
            train_data, val_data = stream_loaders(z, n_fit, segment=cfg.segment, batch_size=cfg.batch_size,
                                                  warmup=self.warmup_steps())
            loss = masked_mse
        else:
            model = SequenceAutoencoder(len(cfg.columns), cfg.window, cfg.hidden_size, cfg.num_layers,
                                        cfg.latent_size, **cells)
            train_data, val_data = window_sets(z, n_fit, cfg.window)
            train_config = dataclasses.replace(train_config, batch_size=4 * cfg.batch_size)
            loss = torch.nn.functional.mse_loss
        self.train_model(model, loss, train_config, train_data, val_data, run_dir=run_dir, resume=resume)
        self._infer = None
        self._streamer = None
        self.batch_model = None  # a graph of the weights this fit replaced
        # Calibrate on errors the model was not fitted to.
        errors = self.errors(values[:n_train])
        self.state.threshold = calibrate(ewma(errors, cfg.smoothing_span)[n_fit:], span=cfg.smoothing_span,
                                         min_decrease=cfg.min_decrease).to_dict()
        z_scores = rolling_zscore(values[:n_train], cfg.zscore_window)
        self.state.baseline_threshold = calibrate(ewma(z_scores, cfg.smoothing_span)[n_fit:],
                                                  span=cfg.smoothing_span, min_decrease=cfg.min_decrease).to_dict()
        kept = [r for r in self.state.threshold["calibration_runs"] if r[3]]
        if kept:
            logger.info("the calibration part (rows %d-%d) holds %d run(s) that stand out (the first at rows %d-%d); "
                        "they count as normal, as the training part is assumed normal", n_fit, n_train - 1, len(kept),
                        n_fit + kept[0][0], n_fit + kept[0][1] - 1)
        if run_dir is not None:
            self.write_config(run_dir, train_config)
        return self

    def parts(self, frame: pd.DataFrame) -> tuple[int, int]:
        """(end of the fit part, end of the training part), checked to be long enough."""
        cfg = self.config
        n_train = self.train_rows(frame)
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

    # ---- the run's numbers -----------------------------------------------------------------------
    def evaluate(self, data=None) -> dict:
        """What ``lstmkit anomaly train`` reports (``metrics.json``): the calibrated threshold of the
        model and of the rolling z-score baseline, each with the calibration scores it was learned from
        (their mean, standard deviation and ``reference`` maximum), and the split. No labels are used:
        event metrics come from ``detect --labels``."""
        self.require_fitted()
        return {"model": self.calibration.summary(),
                "baselines": {"rolling_zscore": Calibration.from_dict(self.state.baseline_threshold).summary()},
                "split": dict(self.state.split)}

    @classmethod
    def load_state(cls, data: dict, directory: str | Path) -> AnomalyState:
        state = super().load_state(data, directory)
        if state.threshold is None or state.baseline_threshold is None:
            raise ModelFileError(f"{directory} holds an anomaly run that was not calibrated (interrupted?): "
                                 f"finish it with `{cls.train_command} ... --resume --out {directory}`")
        return state

    # ---- scoring ---------------------------------------------------------------------------------
    def inference_model(self) -> torch.nn.Module:
        """The float64 copy of the trained model every score is computed with (made once)."""
        self.require_fitted()
        if self._infer is None:
            self._infer = copy.deepcopy(self.model).double().eval()
        return self._infer

    @torch.no_grad()
    def errors(self, values: np.ndarray) -> np.ndarray:
        """(n,) raw per-point errors of (n, F) raw values, NaN where not scored (the warm-up)."""
        self.require_fitted()
        z = self._prepare(np.asarray(values, dtype=float))
        n = len(z)
        err = np.full(n, np.nan)
        model = self.batch_model if self.batch_model is not None else self.inference_model()
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
        err[: self.warmup_steps()] = np.nan
        return err

    def score(self, data) -> pd.DataFrame:
        """One row per point: time, the columns, error, score (smoothed error), is_anomaly."""
        self.require_fitted()
        return self._score_frame(self.read(data))

    def _score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        cfg = self.config
        values = frame[cfg.columns].to_numpy(dtype=float)
        err = self.errors(values)
        scores, flags = OnlineThreshold(self.calibration).apply(err)
        out = pd.DataFrame({"time": _labels(frame.index)})
        for k, column in enumerate(cfg.columns):
            out[column] = values[:, k]
        out["error"], out["score"], out["is_anomaly"] = err, scores, flags
        return out

    @property
    def calibration(self) -> Calibration:
        return Calibration.from_dict(self.state.threshold)

    def baseline_flags(self, values: np.ndarray) -> dict[str, np.ndarray]:
        """Flags of the rolling z-score baseline: calibrated like the model, and the textbook |z| > 3."""
        z = rolling_zscore(values, self.config.zscore_window)
        calibrated = OnlineThreshold(Calibration.from_dict(self.state.baseline_threshold)).apply(z)[1]
        return {"rolling_zscore": calibrated, "rolling_zscore_3sigma": np.nan_to_num(z, nan=0.0) > 3.0}

    def detect(self, data, *, labels: str | None = None, eval_from: int | str | None = None) -> dict:
        """Scores, anomalous intervals and (with a ``labels`` column) event metrics for the model and
        the rolling z-score baselines on rows from ``eval_from`` (default: every row).

        Returns ``{"scores": DataFrame, "anomalies": DataFrame, "metrics": dict | None, "labels": array | None}``.
        """
        self.require_fitted()
        frame = self.read(data, extra=[labels] if labels else [])
        truth = _check_labels(frame[labels], labels) if labels else None
        start = 0 if eval_from is None else row_of(frame, eval_from, "eval_from")
        scores = self._score_frame(frame)
        anomalies = intervals(scores)
        metrics = None
        if truth is not None:
            flags = scores["is_anomaly"].to_numpy()
            baselines = self.baseline_flags(frame[self.config.columns].to_numpy(dtype=float))
            metrics = {
                "model": event_metrics(truth[start:], flags[start:]),
                "baselines": {name: event_metrics(truth[start:], f[start:]) for name, f in baselines.items()},
                "split": {"evaluated_rows": [start, len(frame)], "rows": len(frame),
                          "train_end": self.state.split["train_end"]},
                "threshold": self.calibration.summary(),
            }
        return {"scores": scores, "anomalies": anomalies, "metrics": metrics, "labels": truth}

    def streamer(self):
        """A batch-1 streamer of the float64 inference model's recurrent layer at state zero (an
        :class:`~lstmkit.nn.LSTMStreamer` for the plain LSTM, a :class:`~lstmkit.nn.RecurrentStreamer` for
        any other cell or with zoneout);
        every one after the first is a fork of it, so a thousand streams hold one copy of the weights."""
        if self._streamer is None:
            self._streamer = self.inference_model().lstm.streamer(1)
        return self._streamer.fork()

    def stream(self):
        """A fresh per-step scorer (state zero, like the first row of a batch): an
        :class:`~lstmkit.tasks.anomaly.stream.AnomalyStream`."""
        from lstmkit.tasks.anomaly.stream import AnomalyStream

        self.require_fitted()
        return AnomalyStream(self)


# --------------------------------------------------------------------------------------- helpers
def intervals(scores: pd.DataFrame) -> pd.DataFrame:
    """anomalies.csv: one row per maximal run of flagged points."""
    flags = scores["is_anomaly"].to_numpy()
    rows = []
    for a, b in runs(flags):
        part = scores["score"].to_numpy()[a:b]
        peak = int(np.nanargmax(part))
        rows.append({"start": scores["time"].iloc[a], "end": scores["time"].iloc[b - 1], "peak_score": part[peak],
                     "peak_time": scores["time"].iloc[a + peak], "points": b - a})
    return pd.DataFrame(rows, columns=["start", "end", "peak_score", "peak_time", "points"])


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
