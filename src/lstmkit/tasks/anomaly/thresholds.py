r"""Anomaly scores to decisions: thresholds learned without labels, applied point by point. Pure NumPy, no model.

Thresholds without labels (Hundman et al., KDD 2018, "Detecting spacecraft anomalies using LSTMs and
nonparametric dynamic thresholding")
---------------------------------------------------------------------------------------------------
1. **Smooth.** Errors :math:`e_t` become :math:`e_s` by an exponentially weighted moving average,
   :math:`s_t = \alpha e_t + (1 - \alpha) s_{t-1}`, :math:`\alpha = 2 / (\text{span} + 1)`. It is
   causal, so a stream computes exactly what a batch does.
2. **Threshold.** Candidates :math:`\epsilon = \mu(e_s) + z\,\sigma(e_s)` for z on a grid; the chosen
   one maximises

   .. math:: \frac{\Delta\mu / \mu + \Delta\sigma / \sigma}{|e_a| + |E_{seq}|^2}

   where :math:`\Delta\mu, \Delta\sigma` are the drops in mean and standard deviation when the points
   above :math:`\epsilon` (:math:`e_a`) are removed and :math:`E_{seq}` are their continuous runs: the
   threshold that removes the most spread with the fewest, most compact anomalies. As in the authors'
   code (telemanom) a candidate flagging nothing or half the points or more is skipped, ties go to
   the larger z, and with no valid candidate the largest z is used.
3. **Prune.** The runs' peaks, sorted in decreasing order and followed by the largest error outside
   every run, are walked from the top; a run is kept only if somewhere below it in that list the peak
   drops by at least the fraction ``p`` (``min_decrease``) from one entry to the next. Weak runs that
   merely continue the normal errors' tail are dropped.

Applying a threshold learned on a calibration part
--------------------------------------------------
Hundman et al. threshold each window of test errors by itself. lstmkit learns the threshold once, on
a held-out part of the training data (:func:`calibrate`), stores it, and applies it to new data, one
point at a time (:class:`OnlineThreshold`), so ``detect`` and ``watch`` decide identically. Pruning
against the stored errors becomes a second, higher level: a new run is kept when its peak is at least
``p`` above the largest calibration error counted as normal (``reference``; the calibration part is
assumed normal, so by default every calibration error counts), i.e. when it reaches
``trigger = max(epsilon, reference / (1 - p))``. A point is flagged when its smoothed score is above
``epsilon`` and the run it belongs to has reached ``trigger`` by then (hysteresis: ``trigger`` starts
an anomaly, ``epsilon`` ends it). This is causal: the flag at t uses nothing after t.

Event-level precision, recall and F1 are in :mod:`lstmkit.metrics.events`; the rolling z-score
baseline is in :mod:`lstmkit.tasks.anomaly.baselines`.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from lstmkit.metrics.events import runs

__all__ = ["Calibration", "OnlineThreshold", "Z_GRID", "calibrate", "dynamic_threshold", "ewma", "prune_runs"]

Z_GRID = tuple(float(z) for z in np.arange(2.5, 12.01, 0.5))  # telemanom's grid: 2.5, 3.0, ..., 12.0


# -------------------------------------------------------------------------------------- helpers
def ewma(errors, span: float) -> np.ndarray:
    """Causal exponentially weighted moving average; NaN entries (unscored points) stay NaN and are skipped."""
    errors = np.asarray(errors, dtype=float)
    out = np.full_like(errors, np.nan)
    alpha = 2.0 / (float(span) + 1.0)
    s = None
    for t, e in enumerate(errors):  # a plain loop: identical arithmetic to the streaming update
        if e != e:
            continue
        s = e if s is None else alpha * e + (1.0 - alpha) * s
        out[t] = s
    return out


# ------------------------------------------------------------------------------ Hundman et al.
def dynamic_threshold(e_s, z_values=Z_GRID) -> tuple[float, float]:
    """(epsilon, z): the threshold :math:`\\mu + z\\sigma` that best separates the smoothed errors ``e_s``."""
    e_s = np.asarray(e_s, dtype=float)
    e_s = e_s[np.isfinite(e_s)]
    if e_s.size == 0:
        raise ValueError("dynamic_threshold: no finite errors to threshold")
    mu, sd = float(e_s.mean()), float(e_s.std())
    if sd == 0.0 or mu == 0.0:
        return mu, float(z_values[-1])  # constant errors: nothing stands out
    best_score, best_z = -np.inf, None
    for z in z_values:
        eps = mu + z * sd
        above = e_s > eps
        n_above = int(above.sum())
        if n_above == 0 or n_above >= 0.5 * e_s.size:
            continue
        below = e_s[~above]
        n_runs = len(runs(above))
        score = ((mu - below.mean()) / mu + (sd - below.std()) / sd) / (n_above + n_runs ** 2)
        if score >= best_score:
            best_score, best_z = score, float(z)
    z = float(z_values[-1]) if best_z is None else best_z
    return mu + z * sd, z


def prune_runs(e_s, spans: list[tuple[int, int]], min_decrease: float) -> list[bool]:
    """Which runs ``spans`` of ``e_s`` survive pruning with minimum percent decrease ``min_decrease``."""
    e_s = np.asarray(e_s, dtype=float)
    if not spans:
        return []
    peaks = np.array([np.nanmax(e_s[a:b]) for a, b in spans])
    outside = np.ones(e_s.size, dtype=bool)
    for a, b in spans:
        outside[a:b] = False
    rest = e_s[outside & np.isfinite(e_s)]
    order = np.argsort(-peaks, kind="stable")
    chain = np.append(peaks[order], rest.max() if rest.size else 0.0)
    keep = np.zeros(len(spans), dtype=bool)
    for i in range(len(spans) - 1, -1, -1):  # from the bottom: a big drop below i keeps i and all above
        if chain[i] > 0 and (chain[i] - chain[i + 1]) / chain[i] >= min_decrease:
            keep[order[: i + 1]] = True
            break
    return keep.tolist()


@dataclass
class Calibration:
    """A threshold learned without labels, and what it was learned from (JSON-able via ``to_dict``)."""

    span: float  # EWMA span of the smoothing
    epsilon: float  # lower level: a run lasts while the smoothed score is above it
    trigger: float  # upper level: a run becomes an anomaly once its peak reaches it
    z: float
    mean: float
    std: float
    reference: float  # largest calibration score counted as normal
    min_decrease: float
    calibration_runs: list  # [start, stop, peak, kept] of the runs above epsilon in the calibration part

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> dict:
        """The threshold and the calibration scores it was learned from, without the list of runs
        (what ``metrics.json`` reports)."""
        return {k: v for k, v in self.to_dict().items() if k != "calibration_runs"}

    @classmethod
    def from_dict(cls, values: dict) -> "Calibration":
        return cls(**values)


def calibrate(e_s, *, span: float, min_decrease: float = 0.13, z_values=Z_GRID,
              assume_normal: bool = True) -> Calibration:
    """Learn (epsilon, trigger) from smoothed errors ``e_s`` of a calibration part.

    ``epsilon`` is Hundman's threshold of ``e_s``. The runs above it that pruning keeps are recorded
    in ``calibration_runs``; with ``assume_normal`` (the contract of training on a normal part) they
    still count as normal, so ``reference`` is the largest calibration score and a new run must beat
    every calibration error by the fraction ``min_decrease``. With ``assume_normal=False`` (a
    calibration part that may hold anomalies) the kept runs are left out of ``reference``.
    """
    e_s = np.asarray(e_s, dtype=float)
    finite = e_s[np.isfinite(e_s)]
    if finite.size < 10:
        raise ValueError(f"calibrate: {finite.size} scored points are too few to choose a threshold (need 10)")
    epsilon, z = dynamic_threshold(finite, z_values)
    spans = runs(np.nan_to_num(e_s, nan=-np.inf) > epsilon)
    keep = prune_runs(e_s, spans, min_decrease)
    normal = np.isfinite(e_s)
    if not assume_normal:
        for (a, b), kept in zip(spans, keep):
            if kept:
                normal[a:b] = False
    reference = float(e_s[normal].max()) if normal.any() else float(epsilon)
    trigger = max(float(epsilon), reference / (1.0 - min_decrease))
    described = [[a, b, float(np.nanmax(e_s[a:b])), bool(k)] for (a, b), k in zip(spans, keep)]
    return Calibration(span=float(span), epsilon=float(epsilon), trigger=float(trigger), z=z,
                       mean=float(finite.mean()), std=float(finite.std()), reference=reference,
                       min_decrease=float(min_decrease), calibration_runs=described)


class OnlineThreshold:
    """Smooth one error at a time and decide, with the hysteresis described in the module docstring.

    ``update(e)`` returns ``(score, is_anomaly)``; a NaN error (a point not scored yet) returns
    ``(nan, False)`` and leaves the state alone. :meth:`apply` runs a whole array through a fresh copy.
    """

    def __init__(self, calibration: Calibration):
        self.calibration = calibration
        self._alpha = 2.0 / (calibration.span + 1.0)
        self.reset()

    def reset(self) -> None:
        self._s = None  # last smoothed score
        self._peak = -np.inf  # peak of the current run above epsilon (-inf: not in a run)

    def update(self, e: float) -> tuple[float, bool]:
        if e != e:
            return float("nan"), False
        s = e if self._s is None else self._alpha * e + (1.0 - self._alpha) * self._s
        self._s = s
        cal = self.calibration
        if s > cal.epsilon:
            self._peak = max(self._peak, s)
            return s, bool(self._peak >= cal.trigger)
        self._peak = -np.inf
        return s, False

    def apply(self, errors) -> tuple[np.ndarray, np.ndarray]:
        """(scores, flags) for an array of errors, from a fresh state."""
        online = OnlineThreshold(self.calibration)
        out = [online.update(float(e)) for e in np.asarray(errors, dtype=float)]
        if not out:
            return np.zeros(0), np.zeros(0, dtype=bool)
        scores, flags = zip(*out)
        return np.asarray(scores, dtype=float), np.asarray(flags, dtype=bool)
