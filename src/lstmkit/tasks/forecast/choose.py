r"""Choose or combine a network's forecast and the baselines on held-out windows (``combine="auto"``).

A forecaster should never lose to the model a statistician tries first. So, on windows the network
did not train on (the validation part), three candidates are scored with the same measure:

* ``lstm``: the network alone;
* the best baseline :math:`b^*`, the one with the lowest score among all baselines reported;
* ``mean of lstm and b*``: :math:`\tfrac12 (f_{\mathrm{net}} + f_{b^*})`. Two forecasts whose errors are
  not perfectly correlated average to a smaller error than the worse one, often than both
  (the forecast-combination puzzle: equal weights are hard to beat; Bates & Granger 1969).

With ``means="each"`` the mean of the network and *every* baseline is a candidate (the global
forecaster, whose few baselines are all fitted anyway: a baseline that is second best alone can still
make the best mean, because its errors cancel the network's better).

The lowest score wins; ties go to the network, then to the baseline alone (the simpler forecast).
So the forecast is never worse on these windows than the best baseline. Early stopping watched the
same windows, which makes the network's score slightly optimistic: the choice leans towards the
network, never away from it.

Plain functions over arrays, so any forecaster (one series or many) can use them with its own score.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["COMBINE_CHOICES", "KINDS", "choose", "combine", "forecast_label", "label_parts"]

COMBINE_CHOICES = ("auto", "lstm")  # "auto": choose on validation; "lstm": the network alone
KINDS = ("lstm", "baseline", "mean")  # what the forecast is: the network, the best baseline, their mean


def forecast_label(kind: str, baseline: str | None) -> str:
    """What a forecast of ``kind`` is, in words: ``lstm``, ``ar``, ``mean of lstm and ar``."""
    if kind == "lstm":
        return "lstm"
    return baseline if kind == "baseline" else f"mean of lstm and {baseline}"


def label_parts(label: str) -> tuple[str, str | None]:
    """``(kind, baseline)`` of a forecast named by :func:`forecast_label`: its inverse
    (``"mean of lstm and ets"`` -> ``("mean", "ets")``, ``"theta"`` -> ``("baseline", "theta")``)."""
    if label == "lstm":
        return "lstm", None
    prefix = forecast_label("mean", "")
    if label.startswith(prefix):
        return "mean", label[len(prefix):]
    return "baseline", label


def combine(kind: str, network: np.ndarray, baseline: np.ndarray | None) -> np.ndarray:
    """The forecast of ``kind`` (one of :data:`KINDS`) from the network's and the baseline's (same shapes)."""
    if kind == "lstm":
        return network
    if kind == "baseline":
        return baseline
    if kind == "mean":
        return (network + baseline) / 2
    raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")


def choose(network: np.ndarray, baselines: dict[str, np.ndarray], score: Callable[[np.ndarray], float], *,
           means: str = "best") -> dict:
    """Score the network, every baseline and the mean of the network and the best baseline with ``score``
    (lower is better) and pick the lowest of the network, the best baseline and that mean. With
    ``means="each"``, the mean of the network and each baseline is scored and a candidate (the best
    baseline alone still is, the other baselines alone are not: they lost to it).

    Returns ``{"kind", "baseline", "best_baseline", "forecast", "scores", "gain_vs_lstm",
    "gain_vs_best_baseline"}``: ``kind`` one of :data:`KINDS`, ``baseline`` the baseline the forecast uses
    (the best baseline unless a mean with another one won), ``best_baseline`` the one with the lowest
    score alone, ``forecast`` the winner in words (:func:`forecast_label`), ``scores`` every candidate's
    score (the network as ``lstm``, a mean as its label), and the gains,
    :math:`1 - s_{\\mathrm{winner}} / s_{\\mathrm{other}}` (0.1: a 10% lower score).
    """
    if not baselines:
        raise ValueError("choose needs at least one baseline")
    if means not in ("best", "each"):
        raise ValueError(f"means must be 'best' or 'each', got {means!r}")

    def finite(forecast: np.ndarray) -> float:  # a forecast that blew up (NaN, inf) never wins
        value = float(score(forecast))
        return value if np.isfinite(value) else float("inf")

    scores = {"lstm": finite(network)}
    scores.update({name: finite(forecast) for name, forecast in baselines.items()})
    best = min(baselines, key=lambda name: scores[name])
    partners = [best] + [name for name in baselines if name != best] if means == "each" else [best]
    for name in partners:
        scores[forecast_label("mean", name)] = finite(combine("mean", network, baselines[name]))
    candidates = [("lstm", best), ("baseline", best)] + [("mean", name) for name in partners]
    kind, chosen = min(candidates, key=lambda c: scores[forecast_label(*c)])  # ties: lstm, baseline, means
    winner = scores[forecast_label(kind, chosen)]

    def gain(other: float) -> float:
        return float(1 - winner / other) if 0 < other < float("inf") else 0.0

    return {"kind": kind, "baseline": chosen, "best_baseline": best, "forecast": forecast_label(kind, chosen),
            "scores": scores,
            "gain_vs_lstm": gain(scores["lstm"]), "gain_vs_best_baseline": gain(scores[best])}
