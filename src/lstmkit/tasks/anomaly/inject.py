"""Labelled anomalies put into a real series, for evaluating a detector where no labels exist."""
from __future__ import annotations

import numpy as np

__all__ = ["KINDS", "inject_anomalies"]

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
