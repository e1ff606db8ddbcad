"""Action recognition: an LSTM labels video clips (frames -> CNN -> LSTM) or motion-sensor sequences.

* :mod:`lstmkit.tasks.action.inputs`: what the command reads (clip folders, path CSVs, long sensor
  tables, ``.ts`` files, the BasicMotions / GunPoint / JapaneseVowels sets) into arrays;
* :mod:`lstmkit.tasks.action.model`: :class:`ActionNet` and the single-frame baseline network;
* :mod:`lstmkit.tasks.action.app`: :class:`ActionRecognizer` (fit, evaluate, predict, save/load);
* :mod:`lstmkit.tasks.action.baselines` and :mod:`lstmkit.metrics.dtw`: 1-NN DTW and the
  single-frame CNN, measured on the same split;
* :mod:`lstmkit.tasks.action.synth`: generated clips of moving shapes whose classes differ in the
  order of their frames.

A run directory is written by :func:`lstmkit.tasks.base.train_run`::

    train_run(ActionRecognizer(ActionConfig()), "basic_motions", "runs/motions")  # + predictions.csv, confusion.png

Command line: ``lstmkit action train|predict|evaluate|synth``. Names are imported on first use
(:mod:`lstmkit.lazy`): the command line imports this package for every call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.action.app import ActionRecognizer
    from lstmkit.tasks.action.config import ActionConfig, ActionState
    from lstmkit.tasks.action.inputs import Examples, read_examples
    from lstmkit.tasks.action.model import ActionNet, FrameClassifier

_WHERE = {
    "ActionConfig": "lstmkit.tasks.action.config",
    "ActionNet": "lstmkit.tasks.action.model",
    "ActionRecognizer": "lstmkit.tasks.action.app",
    "ActionState": "lstmkit.tasks.action.config",
    "Examples": "lstmkit.tasks.action.inputs",
    "FrameClassifier": "lstmkit.tasks.action.model",
    "read_examples": "lstmkit.tasks.action.inputs",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
