"""Anomaly thresholds without labels (Hundman et al.): the objective, pruning, calibration, the online
hysteresis; and the injection of labelled anomalies."""
import math

import numpy as np
import pytest

from lstmkit.metrics.events import runs
from lstmkit.tasks.anomaly import OnlineThreshold, calibrate, dynamic_threshold, ewma, inject_anomalies, prune_runs
from lstmkit.tasks.anomaly.thresholds import Z_GRID


# ------------------------------------------------------------------------------- thresholding
def test_dynamic_threshold_isolates_the_anomaly_and_pruning_drops_the_weak_one():
    rng = np.random.default_rng(0)
    e_s = 1.0 + 0.05 * np.abs(rng.normal(size=1000))
    normal_max = e_s.max()
    e_s[300:306] = 2.0  # the injected anomaly
    e_s[700:704] = normal_max * 1.05  # a weak bump: 5% above the normal errors' tail
    epsilon, z = dynamic_threshold(e_s)
    assert normal_max * 1.05 < epsilon < 2.0 and 2.5 <= z <= 12
    assert runs(e_s > epsilon) == [(300, 306)]
    # A lower threshold also catches the weak bump: pruning (p = 0.13) drops it, keeps the anomaly.
    spans = runs(e_s > normal_max * 1.01)
    assert spans == [(300, 306), (700, 704)]
    assert prune_runs(e_s, spans, 0.13) == [True, False]
    # Two strong peaks 3% apart are both kept: the big drop below the lower one keeps everything above.
    two = e_s.copy()
    two[500:503] = 1.94
    spans = runs(two > 1.5)
    assert prune_runs(two, spans, 0.13) == [True, True]


def _objective_by_hand(e_s, z):
    """Hundman et al.'s objective at mu + z sd, in plain float64 Python (None: candidate skipped)."""
    values = [float(v) for v in e_s]
    n = len(values)
    mu = math.fsum(values) / n
    sd = math.sqrt(math.fsum((v - mu) ** 2 for v in values) / n)
    eps = mu + z * sd
    below = [v for v in values if v <= eps]
    n_above = n - len(below)
    if n_above == 0 or n_above >= n / 2:
        return None
    n_runs = sum(1 for i, v in enumerate(values) if v > eps and (i == 0 or values[i - 1] <= eps))
    mu_b = math.fsum(below) / len(below)
    sd_b = math.sqrt(math.fsum((v - mu_b) ** 2 for v in below) / len(below))
    return ((mu - mu_b) / mu + (sd - sd_b) / sd) / (n_above + n_runs ** 2), mu, sd


@pytest.mark.parametrize("e_s, z_values", [
    # Hand-made, with grids of small z for short series: in each the argmax differs from what a slip
    # in the objective would pick (|E_seq| for |E_seq|^2, dsigma / mu for dsigma / sigma, a term
    # dropped, ties to the smaller z, candidates flagging half the points or more kept).
    ([2.9, 2.8, 2.4, 8.1, 9.3, 8.8, 2.8, 1.2, 8.4, 2.0, 1.8, 6.6], tuple(k / 4 for k in range(1, 13))),
    ([1.2, 1.3, 1.9, 3.8, 1.8, 1.4, 4.7, 3.7, 2.3, 4.9, 2.3, 1.4], (0.5, 1.0, 1.5, 2.0, 2.5, 3.0)),
    ([9.8, 9.2, 7.2, 5.6, 9.3, 9.5, 9.1, 9.8, 8.0, 9.9, 9.1, 3.3], tuple(k / 4 for k in range(0, 13))),
    (None, Z_GRID),  # the default grid on 1,000 noisy errors with three anomalies
])
def test_dynamic_threshold_maximises_the_objective_computed_by_hand(e_s, z_values):
    if e_s is None:
        rng = np.random.default_rng(0)
        e_s = 1.0 + 0.05 * np.abs(rng.normal(size=1000))
        e_s[300:306] = 2.0
        e_s[700:704] = 1.5
        e_s[850] = 1.6
    scored = {z: _objective_by_hand(e_s, z) for z in z_values}
    valid = {z: value[0] for z, value in scored.items() if value is not None}
    assert len(set(valid.values())) >= 2  # the objective tells candidates apart: its argmax is a real choice
    best = max(valid.values())
    z_by_hand = max(z for z, value in valid.items() if value == best)  # ties: the larger z, as telemanom
    _, mu, sd = scored[z_by_hand]
    epsilon, z = dynamic_threshold(np.array(e_s), z_values)
    assert z == z_by_hand
    assert epsilon == pytest.approx(mu + z_by_hand * sd, rel=1e-12)


def test_calibration_and_the_online_hysteresis():
    rng = np.random.default_rng(1)
    e_s = 1.0 + 0.05 * np.abs(rng.normal(size=500))
    cal = calibrate(e_s, span=1.0, min_decrease=0.13)
    assert cal.reference == pytest.approx(e_s.max())  # the calibration part counts as normal
    assert cal.trigger == pytest.approx(max(cal.epsilon, e_s.max() / 0.87))
    level = cal.trigger
    errors = np.array([np.nan, 1.0, cal.epsilon * 1.01, level * 1.1, cal.epsilon * 1.01, 1.0, cal.epsilon * 1.01])
    scores, flags = OnlineThreshold(cal).apply(errors)
    # above epsilon alone is not enough; once the run reaches the trigger it is flagged until it drops
    assert flags.tolist() == [False, False, False, True, True, False, False]
    assert np.isnan(scores[0]) and scores[1] == 1.0
    smoothed = ewma([1.0, np.nan, 4.0], span=3)  # alpha = 0.5; NaN skipped
    assert smoothed[0] == 1.0 and np.isnan(smoothed[1]) and smoothed[2] == 2.5


# ------------------------------------------------------------------------------------ injection
def test_injected_anomalies_stay_in_their_rows():
    base = np.sin(np.arange(1000) / 10)
    values, labels = inject_anomalies(base, 500, 1000, per_kind=2, length=20, seed=3)
    assert labels[:500].sum() == 0 and np.array_equal(values[:500], base[:500])
    events = runs(labels)
    assert len(events) == 8 and sorted(b - a for a, b in events) == [1, 1] + [20] * 6
    assert not np.array_equal(values, base)
    again, _ = inject_anomalies(base, 500, 1000, per_kind=2, length=20, seed=3)
    assert np.array_equal(values, again)  # fixed seed, same anomalies
