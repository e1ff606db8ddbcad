"""Metrics every application reports for its model and its baselines alike, on the same held-out part.

* :mod:`lstmkit.metrics.forecast`: MAE, RMSE, sMAPE, MASE (scaled by the training part's seasonal-naive
  error), pinball loss;
* :mod:`lstmkit.metrics.events`: event-level precision, recall and F1 for anomaly detection (an event
  is found once any point of it is flagged; each flagged interval touching no event is one false positive);
* :mod:`lstmkit.metrics.classification`: accuracy, macro-F1, confusion matrix;
* :mod:`lstmkit.metrics.language`: summed negative log-likelihood, perplexity, bits per character;
* :mod:`lstmkit.metrics.translation`: BLEU and chrF (sacrebleu, imported when a metric is computed);
* :mod:`lstmkit.metrics.speech`: edit distance, WER and CER (corpus level, as jiwer computes them),
  substitution/deletion/insertion counts;
* :mod:`lstmkit.metrics.dtw`: dynamic time warping distances and 1-NN, the non-neural baseline of
  action (motion sensors) and speech.

Applications never import each other's metrics from each other: they import them from here, where
the next ones go too.
"""
from lstmkit.metrics.classification import classification_metrics
from lstmkit.metrics.events import event_metrics, runs
from lstmkit.metrics.forecast import METRICS as FORECAST_METRICS
from lstmkit.metrics.forecast import (forecast_metrics, mase, mase_scale, naive2_forecast, owa, pinball,
                                      score_collection, seasonality_test, smape_m3)
from lstmkit.metrics.speech import ErrorCounts, cer, edit_distance, error_counts, wer
from lstmkit.metrics.translation import bleu, chrf, translation_metrics

__all__ = ["ErrorCounts", "FORECAST_METRICS", "cer", "edit_distance", "error_counts", "wer", "bleu", "chrf", "classification_metrics", "event_metrics", "forecast_metrics",
           "mase", "mase_scale", "naive2_forecast", "owa", "pinball", "runs", "score_collection",
           "seasonality_test", "smape_m3", "translation_metrics"]
