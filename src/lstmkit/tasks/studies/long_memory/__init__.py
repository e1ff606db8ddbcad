"""The long-memory study: vanilla RNN against LSTM on the adding and temporal-order problems.

* :mod:`.problems`: the two long-time-lag problems of Hochreiter & Schmidhuber (1997);
* :mod:`.config`: :class:`LongMemoryConfig` and the learning rates;
* :mod:`.model`: :class:`LongMemoryNet` (registered as ``long_memory_net``), the parameter-matched
  RNN, and the gradient-flow measurement;
* :mod:`.study`: :func:`train_model` (one run) and :func:`run_study` (the whole study and its files);
* :mod:`.report`: the summary rows and ``results.md``; :mod:`.plots`: its figures.

Names are imported on first use (:mod:`lstmkit.lazy`): the command line imports this package for
every call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.studies.long_memory.config import PROBLEM_NAMES, DEFAULT_LR, INPUT_COLUMNS, MODELS, LongMemoryConfig
    from lstmkit.tasks.studies.long_memory.model import (
        LongMemoryNet,
        build_model,
        gradient_summary,
        hidden_gradient_norms,
        matched_rnn_hidden_size,
        parameter_count,
    )
    from lstmkit.tasks.studies.long_memory.problems import (
        ORDER_CLASSES,
        PROBLEMS,
        Problem,
        adding_problem,
        temporal_order_problem,
    )
    from lstmkit.tasks.studies.long_memory.report import markdown_report, summarize
    from lstmkit.tasks.studies.long_memory.study import StudyData, baseline_metrics, make_data, run_study, train_model

_WHERE = {
    "DEFAULT_LR": "lstmkit.tasks.studies.long_memory.config",
    "INPUT_COLUMNS": "lstmkit.tasks.studies.long_memory.config",
    "LongMemoryConfig": "lstmkit.tasks.studies.long_memory.config",
    "LongMemoryNet": "lstmkit.tasks.studies.long_memory.model",
    "MODELS": "lstmkit.tasks.studies.long_memory.config",
    "ORDER_CLASSES": "lstmkit.tasks.studies.long_memory.problems",
    "PROBLEMS": "lstmkit.tasks.studies.long_memory.problems",
    "PROBLEM_NAMES": "lstmkit.tasks.studies.long_memory.config",
    "Problem": "lstmkit.tasks.studies.long_memory.problems",
    "StudyData": "lstmkit.tasks.studies.long_memory.study",
    "adding_problem": "lstmkit.tasks.studies.long_memory.problems",
    "baseline_metrics": "lstmkit.tasks.studies.long_memory.study",
    "build_model": "lstmkit.tasks.studies.long_memory.model",
    "gradient_summary": "lstmkit.tasks.studies.long_memory.model",
    "hidden_gradient_norms": "lstmkit.tasks.studies.long_memory.model",
    "make_data": "lstmkit.tasks.studies.long_memory.study",
    "markdown_report": "lstmkit.tasks.studies.long_memory.report",
    "matched_rnn_hidden_size": "lstmkit.tasks.studies.long_memory.model",
    "parameter_count": "lstmkit.tasks.studies.long_memory.model",
    "run_study": "lstmkit.tasks.studies.long_memory.study",
    "summarize": "lstmkit.tasks.studies.long_memory.report",
    "temporal_order_problem": "lstmkit.tasks.studies.long_memory.problems",
    "train_model": "lstmkit.tasks.studies.long_memory.study",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
