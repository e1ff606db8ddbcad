r"""Anomaly scores to decisions, and decisions to honest numbers. Pure NumPy, no model.

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

Event scoring
-------------
An *event* is a maximal run of labelled points. An event is found if any flagged point falls inside
it; every flagged interval that touches no event is one false positive. Precision = found / (found +
false positives), recall = found / events. No point-adjusted F1: it credits a whole event for one
lucky point, which lets random scores look good.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = [
    "Calibration", "OnlineThreshold", "calibrate", "dynamic_threshold", "event_metrics", "ewma",
    "inject_anomalies", "prune_runs", "rolling_zscore", "runs",
]

Z_GRID = tuple(float(z) for z in np.arange(2.5, 12.01, 0.5))  # telemanom's grid: 2.5, 3.0, ..., 12.0


# -------------------------------------------------------------------------------------- helpers
def runs(mask) -> list[tuple[int, int]]:
    """Maximal runs of True in a 1-D mask, as (start, stop) with stop exclusive."""
    mask = np.asarray(mask, dtype=bool).ravel()
    if mask.size == 0:
        return []
    edges = np.diff(np.concatenate([[0], mask.view(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


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


# ------------------------------------------------------------------------------------- baseline
def rolling_zscore(values, window: int) -> np.ndarray:
    """Causal rolling z-score: max over columns of :math:`|x_t - \\bar x| / s` over the previous
    ``window`` points (NaN for the first ``window`` points). ``values``: (n,) or (n, F)."""
    x = np.asarray(values, dtype=float)
    x = x[:, None] if x.ndim == 1 else x
    n = x.shape[0]
    out = np.full(n, np.nan)
    if n <= window:
        return out
    c1 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0)])
    c2 = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x * x, axis=0)])
    t = np.arange(window, n)
    mean = (c1[t] - c1[t - window]) / window
    var = np.maximum((c2[t] - c2[t - window]) / window - mean**2, 0.0)
    std = np.sqrt(var)
    floor = 1e-8 * max(1.0, float(np.abs(x).max()))
    z = np.abs(x[t] - mean) / np.maximum(std, floor)
    out[window:] = z.max(axis=1)
    return out


# ---------------------------------------------------------------------------------- evaluation
def event_metrics(labels, flags) -> dict:
    """Event-level precision, recall and F1 (see the module docstring); None where undefined."""
    labels = np.asarray(labels).astype(bool).ravel()
    flags = np.asarray(flags).astype(bool).ravel()
    if labels.shape != flags.shape:
        raise ValueError(f"event_metrics: labels and flags differ in length ({labels.size} vs {flags.size})")
    events, intervals = runs(labels), runs(flags)
    found = sum(bool(flags[a:b].any()) for a, b in events)
    false_positives = sum(not labels[a:b].any() for a, b in intervals)
    precision = found / (found + false_positives) if found + false_positives else None
    recall = found / len(events) if events else None
    if precision is None and recall is not None:
        precision = 0.0 if recall == 0 else None  # nothing flagged: no precision to speak of
    f1 = None
    if precision is not None and recall is not None:
        f1 = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return {"precision": precision, "recall": recall, "f1": f1, "events": len(events), "found": found,
            "false_positives": false_positives, "flagged_intervals": len(intervals)}


# ------------------------------------------------------------------------------------ injection
KINDS = ("spike", "level_shift", "flat_line", "noise_burst")


def inject_anomalies(values, start: int, stop: int, *, kinds=KINDS, per_kind: int = 2, length: int = 20,
                     magnitude: float = 6.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Copy of 1-D ``values`` with labelled anomalies placed at random in rows ``[start, stop)``.

    Sizes are in units of :math:`\\sigma_d`, a robust (MAD) standard deviation of the first differences
    in rows ``[start, stop)``, so an anomaly is sized against the normal step-to-step movement there:
    ``spike`` one point :math:`\\pm` magnitude :math:`\\sigma_d`; ``level_shift`` ``length`` points
    moved by magnitude/2 :math:`\\sigma_d`; ``flat_line`` ``length`` points stuck at the value before
    them (a frozen sensor); ``noise_burst`` ``length`` points with added Gaussian noise of standard
    deviation magnitude/3 :math:`\\sigma_d`. Anomalies never overlap and are at least ``length`` apart.
    Returns (values, labels) with labels 1 on the anomalous points.
    """
    x = np.asarray(values, dtype=float).copy()
    labels = np.zeros(x.size, dtype=int)
    rng = np.random.default_rng(seed)
    d = np.diff(x[start:stop])  # the normal movement where the anomalies go
    sigma = 1.4826 * float(np.median(np.abs(d - np.median(d)))) or float(np.std(d)) or 1.0
    plan = [kind for kind in kinds for _ in range(per_kind)]
    rng.shuffle(plan)
    slot = 2 * length  # each anomaly gets its own slot, placed at random inside it
    n_slots = (stop - start) // slot
    if n_slots < len(plan):
        raise ValueError(f"inject_anomalies: rows {start}-{stop} hold {n_slots} slots of {slot}, need {len(plan)}")
    chosen = np.sort(rng.choice(n_slots, size=len(plan), replace=False))
    for kind, k in zip(plan, chosen):
        a = start + k * slot + int(rng.integers(1, slot - length))
        sign = rng.choice([-1.0, 1.0])
        if kind == "spike":
            x[a] += sign * magnitude * sigma
            labels[a] = 1
            continue
        b = a + length
        if kind == "level_shift":
            x[a:b] += sign * magnitude / 2 * sigma
        elif kind == "flat_line":
            x[a:b] = x[a - 1]
        elif kind == "noise_burst":
            x[a:b] += rng.normal(0.0, magnitude / 3 * sigma, b - a)
        else:
            raise ValueError(f"inject_anomalies: unknown kind {kind!r}; expected one of {KINDS}")
        labels[a:b] = 1
    return x, labels
