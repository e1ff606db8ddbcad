"""One time step per call: the scorer behind ``lstmkit anomaly watch``."""
from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Sequence

import numpy as np
import torch

from lstmkit.data import StandardScaler
from lstmkit.tasks.anomaly.thresholds import OnlineThreshold

if TYPE_CHECKING:
    from lstmkit.tasks.anomaly.detector import AnomalyDetector

__all__ = ["AnomalyStream"]


class AnomalyStream:
    """Score one time step per call, carrying the LSTM state: what ``lstmkit anomaly watch`` runs.

    ``update(values)`` takes the raw values of the trained columns at one step and returns
    ``{"step": i, "score": float | None, "is_anomaly": bool}``: the score of point i (0-based; None
    during the warm-up). The prediction detector scores the point just given, advancing a
    :class:`~lstmkit.nn.LSTMStreamer` by one step (NumPy, float64; a
    :class:`~lstmkit.nn.RecurrentStreamer`, torch float64, for the other cells). The reconstruction detector
    re-encodes its last ``window`` steps and scores the point W - 1 steps back (step None until the
    first window is full).
    """

    def __init__(self, detector: "AnomalyDetector"):
        cfg = detector.config
        self.detector = detector
        self.n_features = len(cfg.columns)
        scaler = StandardScaler.from_dict(detector.state.scaler)
        # Plain floats: for a handful of columns Python arithmetic beats NumPy's per-call overhead.
        self._mean = np.asarray(scaler.mean_, dtype=float).tolist()
        self._scale = np.asarray(scaler.scale_, dtype=float).tolist()
        self._x = np.zeros((1, self.n_features))  # the streamer's input buffer
        self._model = detector.inference_model()
        self._warmup = detector.warmup_steps()
        self._threshold = OnlineThreshold(detector.calibration)
        self._transform = cfg.transform
        self._predict = cfg.method == "prediction"
        if self._predict:
            self._streamer = detector.streamer()  # shares the weights with the detector's other streams
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
