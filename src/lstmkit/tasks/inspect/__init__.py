"""``lstmkit inspect``: what a saved LSTM keeps and forgets, as gate pictures and per-unit statistics.

* :mod:`.subjects`: :func:`load_subject` turns a model directory (a forecasting run, a saved
  :class:`lstmkit.nn.LSTM`, or a model with an LSTM as its ``rnn``) and a table into a :class:`Subject`;
* :mod:`.statistics`: :func:`gate_statistics` and :func:`summarize_statistics` of a recorded trace;
* :mod:`.run`: :func:`inspect_model` writes ``gates.png``, ``gate_stats.csv`` and ``gate_stats.json``.

Names are imported on first use (:mod:`lstmkit.lazy`): the command line imports this package for
every call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.inspect.run import inspect_model
    from lstmkit.tasks.inspect.statistics import SATURATION, gate_statistics, summarize_statistics
    from lstmkit.tasks.inspect.subjects import MAX_SEQUENCES, Subject, load_subject

_WHERE = {
    "MAX_SEQUENCES": "lstmkit.tasks.inspect.subjects",
    "SATURATION": "lstmkit.tasks.inspect.statistics",
    "Subject": "lstmkit.tasks.inspect.subjects",
    "gate_statistics": "lstmkit.tasks.inspect.statistics",
    "inspect_model": "lstmkit.tasks.inspect.run",
    "load_subject": "lstmkit.tasks.inspect.subjects",
    "summarize_statistics": "lstmkit.tasks.inspect.statistics",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
