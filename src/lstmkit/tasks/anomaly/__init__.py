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
thresholding with pruning (:mod:`lstmkit.tasks.anomaly.thresholds`), learned once on a held-out
*calibration* part at the end of the training part, stored in ``config.json`` and applied point by
point at ``detect``/``watch`` time.

Modules: :mod:`~lstmkit.tasks.anomaly.config` (``AnomalyConfig``, ``AnomalyState``),
:mod:`~lstmkit.tasks.anomaly.model` (the two registered models), :mod:`~lstmkit.tasks.anomaly.detector`
(``AnomalyDetector``: fit, score, detect; the parts of a series), :mod:`~lstmkit.tasks.anomaly.stream`
(``AnomalyStream``), :mod:`~lstmkit.tasks.anomaly.thresholds` (the thresholding),
:mod:`~lstmkit.tasks.anomaly.baselines` (rolling z-score), :mod:`~lstmkit.tasks.anomaly.inject`
(labelled anomalies for evaluation), :mod:`~lstmkit.tasks.anomaly.run` (``detect_run``, ``watch``),
:mod:`~lstmkit.tasks.anomaly.plots`, :mod:`~lstmkit.tasks.anomaly.cli`. Event-level precision, recall
and F1 are :func:`lstmkit.metrics.events.event_metrics`.

    from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector, train_run, detect_run, watch

The names are imported on first use: the command line imports this package's ``cli`` for every
``lstmkit`` call, and ``lstmkit --help`` should not wait for torch and pandas.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.anomaly.baselines import rolling_zscore
    from lstmkit.tasks.anomaly.config import METHODS, TRANSFORMS, AnomalyConfig, AnomalyState
    from lstmkit.tasks.anomaly.detector import AnomalyDetector
    from lstmkit.tasks.anomaly.inject import inject_anomalies
    from lstmkit.tasks.anomaly.model import NextStepNet, SequenceAutoencoder
    from lstmkit.tasks.anomaly.plots import anomalies_plot
    from lstmkit.tasks.anomaly.run import detect_run, parse_line, watch
    from lstmkit.tasks.anomaly.stream import AnomalyStream
    from lstmkit.tasks.anomaly.thresholds import (
        Calibration, OnlineThreshold, calibrate, dynamic_threshold, ewma, prune_runs,
    )
    from lstmkit.tasks.base import train_run

_WHERE = {
    "rolling_zscore": "lstmkit.tasks.anomaly.baselines",
    "AnomalyConfig": "lstmkit.tasks.anomaly.config",
    "AnomalyState": "lstmkit.tasks.anomaly.config",
    "METHODS": "lstmkit.tasks.anomaly.config",
    "TRANSFORMS": "lstmkit.tasks.anomaly.config",
    "AnomalyDetector": "lstmkit.tasks.anomaly.detector",
    "inject_anomalies": "lstmkit.tasks.anomaly.inject",
    "NextStepNet": "lstmkit.tasks.anomaly.model",
    "SequenceAutoencoder": "lstmkit.tasks.anomaly.model",
    "anomalies_plot": "lstmkit.tasks.anomaly.plots",
    "detect_run": "lstmkit.tasks.anomaly.run",
    "parse_line": "lstmkit.tasks.anomaly.run",
    "watch": "lstmkit.tasks.anomaly.run",
    "AnomalyStream": "lstmkit.tasks.anomaly.stream",
    "Calibration": "lstmkit.tasks.anomaly.thresholds",
    "OnlineThreshold": "lstmkit.tasks.anomaly.thresholds",
    "calibrate": "lstmkit.tasks.anomaly.thresholds",
    "dynamic_threshold": "lstmkit.tasks.anomaly.thresholds",
    "ewma": "lstmkit.tasks.anomaly.thresholds",
    "prune_runs": "lstmkit.tasks.anomaly.thresholds",
    "train_run": "lstmkit.tasks.base",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
