"""Time-series forecasting: an LSTM ensemble that forecasts the next K steps, next to its baselines.

    from lstmkit.tasks.forecast import ForecastConfig, Forecaster, train_run, backtest_run

``Forecaster`` (fit, evaluate, predict, save/load; see :mod:`lstmkit.tasks.forecast.forecaster` for
how a forecast is made), ``GlobalForecaster`` (one network across many series, long-format input:
:mod:`lstmkit.tasks.forecast.global_model`), ``train_run`` / ``backtest_run`` for a whole run directory. The metrics are
in :mod:`lstmkit.metrics.forecast`, the baselines in :mod:`lstmkit.tasks.forecast.baselines`.

The names are imported on first use: the command line imports this package's ``cli`` for every
``lstmkit`` call, and ``lstmkit --help`` should not wait for torch and pandas.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.base import train_run
    from lstmkit.tasks.forecast.config import ForecastConfig, ForecastState
    from lstmkit.tasks.forecast.forecaster import Forecaster
    from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster
    from lstmkit.tasks.forecast.global_net import GlobalForecastNet
    from lstmkit.tasks.forecast.model import ForecastNet, pinball_loss
    from lstmkit.tasks.forecast.run import backtest_run
    from lstmkit.tasks.forecast.windows import WindowInputs

_WHERE = {
    "ForecastConfig": "lstmkit.tasks.forecast.config",
    "ForecastState": "lstmkit.tasks.forecast.config",
    "Forecaster": "lstmkit.tasks.forecast.forecaster",
    "GlobalConfig": "lstmkit.tasks.forecast.global_model",
    "GlobalForecaster": "lstmkit.tasks.forecast.global_model",
    "ForecastNet": "lstmkit.tasks.forecast.model",
    "GlobalForecastNet": "lstmkit.tasks.forecast.global_net",
    "pinball_loss": "lstmkit.tasks.forecast.model",
    "backtest_run": "lstmkit.tasks.forecast.run",
    "train_run": "lstmkit.tasks.base",
    "WindowInputs": "lstmkit.tasks.forecast.windows",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
