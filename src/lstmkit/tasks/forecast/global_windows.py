"""The global forecaster's windows: one series' history, padded in front and scaled on its own, cut
into the (x, base) inputs and y targets of :class:`~lstmkit.tasks.forecast.model.ForecastNet`.

A series keeps its own level and scale: the log scale when all its values are positive
(``transform="auto"``), a scale :math:`s_i`, the mean absolute one-step change of its history
(transformed), and every window relative to its own level and divided by :math:`s_i`
(:func:`lstmkit.tasks.forecast.windows.window_tensors`). A short history is padded in front with
copies of its first season (same phase: :math:`z_{-t} = z_{(-t) \bmod m}`); a second input channel
says which steps are padding (0) or data (1).

Covariates (:mod:`lstmkit.tasks.forecast.covariates`), when the model has them, follow as further input
channels over the window, padded the same way, and as two (N, K, C) tensors for the decoder: their values
at the horizon's steps (``known``) and at the rows the seasonal baseline copies (``known_base``: the J
seasons back it averages, or the last row when there is no season).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lstmkit.data import DataError
from lstmkit.tasks.forecast import windows
from lstmkit.tasks.forecast.config import ForecastState
from lstmkit.tasks.forecast.global_config import GlobalState
from lstmkit.tasks.forecast.windows import Prepared, window_tensors


def window_state(state: GlobalState) -> ForecastState:
    """The single-series state :mod:`~lstmkit.tasks.forecast.windows` reads, for one series of unit scale."""
    return ForecastState(season=state.season, horizon=state.horizon, input_width=state.input_width,
                         seasons_averaged=state.seasons_averaged, lag=state.lag, freq=None,
                         baseline_residual=state.baseline_residual, log_targets=[False], target_scale=[1.0],
                         feature_scaler=None, time_column=None, split={})


def padding(state: GlobalState) -> int:
    """Steps of padding in front of every series: the first origin of a window with all its inputs."""
    return windows.first_origin(window_state(state))


@dataclass
class SeriesWindows:
    """One series' windows: what :func:`series_inputs` returns."""

    x: torch.Tensor  # (N, W, 2 + C) relative target, data mask, covariates
    base: torch.Tensor  # (N, K, 1) relative seasonal baseline
    level: np.ndarray  # (N,) each window's level (transformed scale)
    scale: float  # the series' scale s_i (transformed)
    use_log: bool  # whether the series is modelled on the log scale
    y: torch.Tensor | None = None  # (N, K, 1) relative targets, when the horizon's values are given
    known: torch.Tensor | None = None  # (N, K, C) covariates of the horizon's steps
    known_base: torch.Tensor | None = None  # (N, K, C) covariates of the rows the baseline copies

    def inputs(self, static: np.ndarray | None) -> tuple:
        """The network's inputs: (x, base) for ForecastNet; with ``static`` codes (S,) (GlobalForecastNet)
        (x, base, known, known_base, static (N, S))."""
        if static is None:
            return self.x, self.base
        codes = torch.as_tensor(static, dtype=torch.long).expand(len(self.x), -1)
        return self.x, self.base, self.known, self.known_base, codes


def series_inputs(state: GlobalState, transform: str, history: np.ndarray, origins: np.ndarray, series_id: str,
                  horizon_values=None, covariates: np.ndarray | None = None) -> SeriesWindows:
    """Windows of one series for origins (counted in ``history``); y when ``horizon_values`` (the full value
    array, history first) is given. ``covariates`` (n, C): the series' standardised covariates from its first
    row to at least the last origin plus K (:func:`~lstmkit.tasks.forecast.covariates.series_covariates`)."""
    m = max(state.season, 1)
    K = state.horizon
    seen = history if horizon_values is None else horizon_values
    use_log = transform == "log" or (transform == "auto" and bool((seen > 0).all()))
    if use_log and not (seen > 0).all():
        raise DataError(f"series {series_id!r}: transform='log' needs positive values")
    z = np.log(history) if use_log else history.astype(float)
    step = float(np.abs(np.diff(z)).mean()) if len(z) > 1 else 0.0
    scale = step if step > 0 else (float(np.abs(z).mean()) or 1.0)
    P = padding(state)
    if len(z) < m:
        raise DataError(f"series {series_id!r} has {len(z)} values, fewer than one season ({m})")
    full = z
    if horizon_values is not None:
        full = np.log(horizon_values) if use_log else horizon_values.astype(float)
    front = (np.arange(P) - P) % m  # the first season's rows, repeated back in time (same phase)
    padded = np.concatenate([z[front], full])
    features = np.concatenate([np.zeros(P), np.ones(len(full))])[:, None]  # (P + n, 1) the data mask
    cov = None
    if covariates is not None:
        cov = np.concatenate([covariates[front], covariates])  # (P + n_cov, C)
        features = np.concatenate([features, cov[: len(padded)]], axis=1)
    ws = window_state(state)
    ws.target_scale = [scale]
    (x, base), level = window_tensors(ws, Prepared(None, padded[:, None], features), origins + P)
    rows = origins[:, None] + P + np.arange(K)[None, :]  # (N, K) the horizon's rows in padded
    out = SeriesWindows(x, base, level[:, 0], scale, use_log)
    if horizon_values is not None:
        out.y = torch.tensor((padded[rows][..., None] - level[:, None, :]) / scale, dtype=torch.float32)
    if cov is not None:
        if state.season > 1:  # the rows the seasonal baseline averages (windows.window_tensors)
            copied = np.mean([cov[rows - j * state.lag] for j in range(1, state.seasons_averaged + 1)], axis=0)
        else:  # the naive baseline copies the last value
            copied = np.repeat(cov[origins + P - 1][:, None, :], K, axis=1)
        out.known = torch.tensor(cov[rows], dtype=torch.float32)
        out.known_base = torch.tensor(copied, dtype=torch.float32)
    return out


def stack_inputs(parts: list[SeriesWindows], statics: list[np.ndarray] | None = None) -> list[torch.Tensor]:
    """The network's inputs of every part, concatenated along the window axis (:meth:`SeriesWindows.inputs`)."""
    columns = zip(*(part.inputs(None if statics is None else statics[i]) for i, part in enumerate(parts)))
    return [torch.cat(column) for column in columns]


class StackedWindows(torch.utils.data.Dataset):
    """Every series' windows concatenated, served as the Trainer's (inputs, y) pairs; ``statics`` (one
    code array per part) for GlobalForecastNet's inputs, None for ForecastNet's (x, base)."""

    def __init__(self, parts: list[SeriesWindows], statics: list[np.ndarray] | None = None):
        self.inputs = stack_inputs(parts, statics)
        self.y = torch.cat([part.y for part in parts])

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i):
        return tuple(tensor[i] for tensor in self.inputs), self.y[i]
