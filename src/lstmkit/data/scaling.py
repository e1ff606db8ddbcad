r"""Per-feature scalers with scikit-learn's conventions, serialisable to JSON.

The constructor stores its arguments unchanged; ``fit`` learns state (names ending in ``_``) and
returns ``self``; ``transform``/``inverse_transform`` apply it. Fit on the training split only:
statistics taken from validation or test rows leak the future into the model.

Inputs are numpy arrays or torch tensors (the output is the same kind, dtype and device). Features
are on the last axis: a 1-D input ``(T,)`` is one feature, a 2-D input ``(T, F)`` is ``F`` features,
and any leading axes (e.g. windows ``(N, T, F)``) are treated as more rows. State is kept in float64
and computed in float64 whatever the input dtype.

``to_dict()`` returns plain JSON-able data (``{"type": ..., "params": ..., "state": ...}``);
``scaler_from_dict`` rebuilds the right class from it, so a saved model carries its scaling in
``config.json``.
"""
from __future__ import annotations

import logging
from typing import Any, ClassVar

import numpy as np
import torch

from lstmkit.data.errors import DataError, NotFittedError

__all__ = ["MinMaxScaler", "StandardScaler", "scaler_from_dict"]

logger = logging.getLogger(__name__)

_EPS = np.finfo(np.float64).eps


def _rows_as_float64(x: Any, who: str) -> np.ndarray:
    """``x`` as a float64 ``(rows, F)`` array for fitting (a copy only where conversion needs one)."""
    if isinstance(x, torch.Tensor):
        if x.dtype.is_complex:
            raise TypeError(f"{who}: complex input is not supported")
        x = x.detach().cpu().numpy() if x.dtype != torch.bfloat16 else x.detach().float().cpu().numpy()
    elif not isinstance(x, np.ndarray):
        raise TypeError(f"{who} expects a numpy array or torch tensor, got {type(x).__name__}")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"{who} expects real numbers, got dtype {x.dtype}")
    if x.ndim == 0:
        raise DataError(f"{who} expects an array of shape (T,) or (T, F), got a scalar")
    rows = x.reshape(-1, 1) if x.ndim == 1 else x.reshape(-1, x.shape[-1])
    return rows.astype(np.float64, copy=False)


def _check_finite(rows: np.ndarray, who: str) -> None:
    bad = ~np.isfinite(rows)
    if bad.any():
        # Name the first offending value in row order, then column order (what a user reads first).
        row, col = map(int, np.argwhere(bad)[0])
        kind = "NaN" if np.isnan(rows[row, col]) else "inf"
        raise DataError(
            f"{who}: column {col} has {kind} at row {row} ({int(bad.sum())} non-finite values in all); "
            "fill or drop missing values before fitting (see lstmkit.data.read_table(fill=...))"
        )


class _Scaler:
    """Shared plumbing: input checks, kind/dtype-preserving application, JSON state."""

    _state_names: ClassVar[tuple[str, ...]] = ()
    _registry: ClassVar[dict[str, type[_Scaler]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _Scaler._registry[cls.__name__] = cls

    # -- subclass hooks -------------------------------------------------------------------------
    def _fit_rows(self, rows: np.ndarray) -> None:  # rows: (R, F) float64, finite
        raise NotImplementedError

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """``(a, b)`` with ``transform(x) = x * a + b`` per feature."""
        raise NotImplementedError

    def get_params(self) -> dict[str, Any]:
        raise NotImplementedError

    # -- public API ----------------------------------------------------------------------------
    def fit(self, x: Any) -> _Scaler:
        """Learn the per-feature statistics of ``x`` (``(T,)`` or ``(T, F)``); return ``self``."""
        who = f"{type(self).__name__}.fit"
        rows = _rows_as_float64(x, who)
        if rows.shape[0] == 0:
            raise DataError(f"{who}: got 0 rows; need at least one")
        _check_finite(rows, who)
        self._fit_rows(rows)
        self.n_features_in_ = rows.shape[1]
        self.n_samples_seen_ = rows.shape[0]
        return self

    def transform(self, x: Any) -> Any:
        """Scale ``x`` with the fitted statistics; same kind, shape, dtype and device as ``x``."""
        a, b = self._coefficients()
        return self._apply(x, lambda v, a_, b_: v * a_ + b_, a, b, "transform")

    def inverse_transform(self, x: Any) -> Any:
        """Undo :meth:`transform`: ``(x - b) / a``; same kind, shape, dtype and device as ``x``."""
        a, b = self._coefficients()
        return self._apply(x, lambda v, a_, b_: (v - b_) / a_, a, b, "inverse_transform")

    def fit_transform(self, x: Any) -> Any:
        return self.fit(x).transform(x)

    def is_fitted(self) -> bool:
        return all(hasattr(self, name) for name in self._state_names)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data: ``{"type", "params", "state"}`` (``state`` is None before fit)."""
        state = None
        if self.is_fitted():
            state = {name: _to_json(getattr(self, name)) for name in self._state_names}
        return {"type": type(self).__name__, "params": self.get_params(), "state": state}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Scaler:
        """Rebuild a scaler saved by :meth:`to_dict` (fitted or not)."""
        if data.get("type") != cls.__name__:
            raise DataError(f"{cls.__name__}.from_dict got a dict of type {data.get('type')!r}")
        scaler = cls(**data.get("params", {}))
        state = data.get("state")
        if state is not None:
            missing = [name for name in cls._state_names if name not in state]
            if missing:
                raise DataError(f"{cls.__name__}.from_dict: state lacks {', '.join(missing)}")
            for name in cls._state_names:
                value = state[name]
                setattr(scaler, name, np.asarray(value, dtype=np.float64) if isinstance(value, list) else value)
        return scaler

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.to_dict() == other.to_dict()  # type: ignore[union-attr]

    __hash__ = None  # type: ignore[assignment]  # mutable (fit), like other estimators

    # -- helpers -------------------------------------------------------------------------------
    def _apply(self, x: Any, op: Any, a: np.ndarray, b: np.ndarray, what: str) -> Any:
        who = f"{type(self).__name__}.{what}"
        if isinstance(x, torch.Tensor):
            if not x.dtype.is_floating_point:
                raise TypeError(f"{who} needs a floating-point tensor, got {x.dtype}; convert with x.float() first")
        elif isinstance(x, np.ndarray):
            if not np.issubdtype(x.dtype, np.floating):
                raise TypeError(
                    f"{who} needs a floating-point array, got {x.dtype}; convert with x.astype(np.float64) first"
                )
        else:
            raise TypeError(f"{who} expects a numpy array or torch tensor, got {type(x).__name__}")
        if x.ndim == 0:
            raise DataError(f"{who} expects an array of shape (T,) or (T, F), got a scalar")
        features = 1 if x.ndim == 1 else x.shape[-1]
        if features != self.n_features_in_:
            raise DataError(
                f"{who}: input has {features} feature(s) on its last axis (shape {tuple(x.shape)}) "
                f"but the scaler was fitted on {self.n_features_in_}"
            )
        if x.ndim == 1:
            a, b = a[0], b[0]
        if isinstance(x, torch.Tensor):
            a_t = torch.as_tensor(a, dtype=x.dtype, device=x.device)
            b_t = torch.as_tensor(b, dtype=x.dtype, device=x.device)
            return op(x, a_t, b_t)
        return op(x, a.astype(x.dtype), b.astype(x.dtype)) if np.ndim(a) else op(x, x.dtype.type(a), x.dtype.type(b))

    def _require_fitted(self) -> None:
        if not self.is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit() on the training split first"
            )


def _to_json(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()  # Python floats: json writes repr(), which round-trips exactly
    if isinstance(value, np.generic):
        return value.item()
    return value


class StandardScaler(_Scaler):
    r"""Zero mean, unit variance per feature.

    .. math::
        \mu_j = \frac{1}{R}\sum_r x_{rj}, \qquad
        \sigma_j = \sqrt{\frac{1}{R}\sum_r (x_{rj} - \mu_j)^2}, \qquad
        z_{rj} = \frac{x_{rj} - \mu_j}{s_j}

    with :math:`s_j = \sigma_j`, except :math:`s_j = 1` for a constant feature
    (:math:`\sigma_j \le 10\,\epsilon\,|\mu_j|`, which also catches round-off in the mean), so
    constant features map to 0 instead of dividing by zero (as scikit-learn).

    Learned state: ``mean_`` and ``scale_`` (float64, ``(F,)``), ``var_``, ``n_features_in_``,
    ``n_samples_seen_``.
    """

    _state_names = ("mean_", "var_", "scale_", "n_features_in_", "n_samples_seen_")

    def get_params(self) -> dict[str, Any]:
        return {}

    def _fit_rows(self, rows: np.ndarray) -> None:
        mean = rows.mean(axis=0)
        var = rows.var(axis=0)
        std = np.sqrt(var)
        constant = std <= 10 * _EPS * np.abs(mean)
        if constant.any():
            logger.info("StandardScaler: constant feature(s) %s get scale 1", np.flatnonzero(constant).tolist())
        self.mean_ = mean
        self.var_ = var
        self.scale_ = np.where(constant, 1.0, std)

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        return 1.0 / self.scale_, -self.mean_ / self.scale_

    # Exact form (x - mean) / scale rather than x * (1/scale) - mean/scale: the round trip is then
    # exact up to one rounding per operation.
    def transform(self, x: Any) -> Any:
        self._require_fitted()
        return self._apply(x, lambda v, m, s: (v - m) / s, self.mean_, self.scale_, "transform")

    def inverse_transform(self, x: Any) -> Any:
        self._require_fitted()
        return self._apply(x, lambda v, m, s: v * s + m, self.mean_, self.scale_, "inverse_transform")


class MinMaxScaler(_Scaler):
    r"""Rescale each feature linearly so its training range maps onto ``feature_range = (lo, hi)``.

    .. math::
        a_j = \frac{hi - lo}{r_j}, \qquad b_j = lo - a_j \min_r x_{rj}, \qquad y_{rj} = a_j x_{rj} + b_j

    with :math:`r_j = \max_r x_{rj} - \min_r x_{rj}`, except :math:`r_j = 1` for a constant feature
    (:math:`r_j \le 10\,\epsilon \max(|\min_r x_{rj}|, |\max_r x_{rj}|)`, so round-off is not blown
    up to the full range), which then maps to ``lo``; nothing divides by zero. Values outside the
    training range map outside ``feature_range``; they are not clipped.

    Learned state: ``data_min_``, ``data_max_``, ``data_range_``, ``scale_`` (:math:`a`), ``min_``
    (:math:`b`), all float64 ``(F,)``; ``n_features_in_``, ``n_samples_seen_``.
    """

    _state_names = ("data_min_", "data_max_", "data_range_", "scale_", "min_", "n_features_in_", "n_samples_seen_")

    def __init__(self, feature_range: tuple[float, float] = (0.0, 1.0)) -> None:
        lo, hi = (float(v) for v in feature_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise ValueError(f"feature_range must be (min, max) with min < max, got {feature_range!r}")
        self.feature_range = feature_range

    def get_params(self) -> dict[str, Any]:
        return {"feature_range": [float(v) for v in self.feature_range]}

    def _fit_rows(self, rows: np.ndarray) -> None:
        lo, hi = (float(v) for v in self.feature_range)
        data_min = rows.min(axis=0)
        data_max = rows.max(axis=0)
        data_range = data_max - data_min
        constant = data_range <= 10 * _EPS * np.maximum(np.abs(data_min), np.abs(data_max))
        if constant.any():
            logger.info("MinMaxScaler: constant feature(s) %s map to %s", np.flatnonzero(constant).tolist(), lo)
        self.data_min_ = data_min
        self.data_max_ = data_max
        self.data_range_ = data_range
        self.scale_ = (hi - lo) / np.where(constant, 1.0, data_range)
        self.min_ = lo - data_min * self.scale_

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        self._require_fitted()
        return self.scale_, self.min_


def scaler_from_dict(data: dict[str, Any]) -> StandardScaler | MinMaxScaler:
    """Rebuild any scaler from :meth:`to_dict` output, dispatching on its ``"type"`` key."""
    if not isinstance(data, dict) or "type" not in data:
        raise DataError("scaler_from_dict needs a dict with a 'type' key, as written by scaler.to_dict()")
    cls = _Scaler._registry.get(data["type"])
    if cls is None:
        known = ", ".join(sorted(_Scaler._registry))
        raise DataError(f"unknown scaler type {data['type']!r}; known types: {known}")
    return cls.from_dict(data)  # type: ignore[return-value]
