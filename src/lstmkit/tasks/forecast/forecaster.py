r"""Time-series forecasting: an LSTM that forecasts the next K steps of one or more columns.

How a forecast is made (all of it fitted on the training part only)
-------------------------------------------------------------------
1. **Transform.** A target whose training values are all positive is modelled on the log scale
   (``transform="auto"``): trends and seasonal swings that grow with the level become additive.
2. **Window-relative scale.** An LSTM fed raw, trending levels learns badly from a hundred points, and a
   scaler fitted on the training part cannot extrapolate a trend. So each input window is expressed
   relative to its own *level* :math:`\ell_T` (the mean of its last m values, m the season; the last
   value when there is no season) and divided by a per-target scale :math:`s` (the training part's
   mean absolute one-step change):  :math:`\tilde z_t = (z_t - \ell_T) / s`.
3. **Seasonal baseline.** Before the LSTM says anything, the forecast is the level plus the average
   seasonal profile of the last J seasons, each taken relative to its own level:

   .. math:: b_{T+h} = \frac{1}{J}\sum_{j=1}^{J} \left(z_{T+h-jL} - \ell_{T-jL}\right), \quad L = m\lceil K/m\rceil

   (zero without a season, i.e. the naive forecast). This is what seasonal naive does, made robust
   to noise (J averages) and to trend (per-season levels).
4. **LSTM correction.** An :class:`lstmkit.nn.LSTM` reads the relative window; a linear head reads its
   last hidden state and the baseline and outputs a correction for every step, target and quantile:
   :math:`\hat z_{T+h} = \ell_T + s\,(b_{T+h} + \mathrm{head}([h_T, b]))`. The head starts at zero, so
   training starts from the baseline and early stopping on the validation part (restoring the best
   weights; :meth:`ForecastConfig.patience_epochs` says how long it waits) keeps only corrections that
   help. For long seasons (m > 24: daily data with a yearly cycle) the baseline is a single noisy value
   a season ago rather than an average of whole cycles; there it is only an input of the head,
   :math:`\hat z_{T+h} = \ell_T + s\,\mathrm{head}([h_T, b])` (``baseline_residual``; on the Seattle
   weather this lowered test MASE from 0.735 to 0.717, mean of three seeds).
5. **Ensemble.** ``ensemble`` independently initialised members are trained side by side (their losses
   summed, so each gets its own gradients); the forecast is their mean. On a hundred points this
   removes most of the seed-to-seed variance.
6. **Choice** (``combine="auto"``). Early stopping watches the first half of the validation part; on
   the second half the LSTM, every baseline and the mean of the LSTM and the best baseline are scored,
   and the lowest MASE is the forecast (:mod:`lstmkit.tasks.forecast.candidates`).

The loss is the pinball (quantile) loss, which for the median alone is half the absolute error, the
loss MASE measures. Windows are built so that no target lies outside its split (``lstmkit.data``).
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.data import DataError, Split, StandardScaler, infer_season, read_table
from lstmkit.files import atomic_write_text
from lstmkit.metrics.forecast import forecast_metrics, mase_scale, pinball
from lstmkit.runtime import seed_everything
from lstmkit.tasks.base import Application
from lstmkit.tasks.forecast import baselines, windows
from lstmkit.tasks.forecast import candidates
from lstmkit.tasks.forecast.config import ForecastConfig, ForecastState
from lstmkit.tasks.forecast.model import ForecastNet, pinball_loss
from lstmkit.tasks.forecast.windows import Pairs, Prepared, WindowInputs, window_tensors
from lstmkit.train import TrainConfig

logger = logging.getLogger(__name__)


class Forecaster(Application):
    """Fit, evaluate, predict, save and load an LSTM forecaster on a table.

    >>> fc = Forecaster(ForecastConfig(targets=["temp_max"], time_column="date")).fit(df)
    >>> fc.evaluate(df)["model"]["mase"]; fc.predict(df)  # next horizon after the end of df
    """

    name = "forecast"
    config_class = ForecastConfig
    state_class = ForecastState
    description = "a forecasting model"
    train_command = "lstmkit forecast train"

    config: ForecastConfig
    state: ForecastState | None
    model: ForecastNet | None

    # ---- reading -----------------------------------------------------------------------------
    def read(self, data) -> pd.DataFrame:
        """``data`` (a CSV path or a DataFrame) as a checked table indexed by time: the targets and
        features, sorted/filled as the config says; a :class:`~lstmkit.errors.DataError` for bad input."""
        cfg = self.config
        time_column = cfg.time_column
        if (isinstance(data, pd.DataFrame) and time_column and time_column not in data.columns
                and data.index.name == time_column):
            time_column = None  # already indexed by time (a table read_table returned): use the index
        return read_table(data, time_column=time_column, columns=[*cfg.targets, *cfg.features],
                          sort=cfg.sort, fill=cfg.fill)

    def check_input(self, data) -> None:
        self.read(data)

    def _split(self, n: int) -> Split:
        return self.config.split(n)

    # ---- fitting the preprocessing -------------------------------------------------------------
    def _resolve(self, frame: pd.DataFrame, n_train: int) -> dict:
        """Choose season, horizon, input width and J from the data where the config leaves them open,
        and say why each value was chosen (``reasons``: printed by the command line, kept in metrics.json)."""
        cfg = self.config
        freq = frame.attrs.get("freq")
        if cfg.season is not None:
            season, season_why = cfg.season, "given"
        else:
            season, season_why = infer_season(freq, n=len(frame))
        offset = pd.tseries.frequencies.to_offset(freq) if freq else None
        daily = isinstance(offset, (pd.offsets.Day, pd.offsets.BusinessDay)) and offset.n == 1
        if cfg.horizon:
            horizon, horizon_why = cfg.horizon, "given"
        elif daily:
            horizon, horizon_why = 7, "a week of daily data"
        elif 2 <= season <= 24:
            horizon, horizon_why = season, "one season"
        else:
            horizon, horizon_why = 1, "one step (no season of 2-24 steps to forecast a whole cycle of)"
        if cfg.input_width is not None:
            width, width_why = cfg.input_width, "given"
        else:
            if 2 <= season <= 24:
                width, width_why = 3 * season, "three seasons"
            elif season > 1:
                width, width_why = 56, "56 steps (8 weeks of daily data) for a season longer than 24 steps"
            else:
                width, width_why = 24, "24 steps (no season)"
            if 2 * horizon > width:
                width, width_why = 2 * horizon, "twice the horizon"
            cap = max(2, n_train // 3)
            if width > cap:
                width, width_why = cap, f"a third of the {n_train}-row training part (shorter than {width_why})"
        lag = baselines.seasonal_lag(season, horizon)
        j = cfg.seasons_averaged
        if season > 1:
            level_span = min(width, season)
            if j is None:
                j = min(3, (n_train - horizon - level_span) // (2 * lag))
            if j < 1:
                logger.warning("the training part (%d rows) is too short for season %d with horizon %d; "
                               "forecasting without a seasonal baseline", n_train, season, horizon)
                season_why = (f"season {season} ({season_why}) does not fit twice into the {n_train}-row training "
                              "part: no seasonal baseline; use more data or a smaller --season")
                season, j, lag = 1, 1, horizon
        j = j or 1
        residual = cfg.baseline_residual if cfg.baseline_residual is not None else season <= 24
        return {"season": season, "horizon": horizon, "input_width": width, "seasons_averaged": j, "lag": lag,
                "freq": freq, "baseline_residual": residual,
                "reasons": {"season": season_why, "horizon": horizon_why, "input_width": width_why}}

    @property
    def first_origin(self) -> int:
        """The first row the fitted model can forecast (its input window and the baseline's history exist)."""
        self.require_fitted()
        return windows.first_origin(self.state)

    def _fit_preprocessing(self, frame: pd.DataFrame) -> None:
        cfg = self.config
        split = self._split(len(frame))
        n_train = split.train.stop
        resolved = self._resolve(frame, n_train)
        values = frame[cfg.targets].to_numpy(dtype=float)
        train_values = values[:n_train]
        if cfg.transform == "log":
            bad = [c for c, ok in zip(cfg.targets, (train_values > 0).all(0)) if not ok]
            if bad:
                raise DataError(f"transform='log' needs positive values, but target {bad[0]!r} has values <= 0")
            log = [True] * len(cfg.targets)
        elif cfg.transform == "auto":
            log = [bool(ok) for ok in (train_values > 0).all(0)]
        else:
            log = [False] * len(cfg.targets)
        z = self._transform(values, log)
        step = np.abs(np.diff(z[:n_train], axis=0)).mean(0)
        scaler = None
        if cfg.features:
            scaler = StandardScaler().fit(frame[cfg.features].to_numpy(dtype=float)[:n_train]).to_dict()
        self.state = ForecastState(
            **resolved, log_targets=log, target_scale=[float(v) if v > 0 else 1.0 for v in step],
            feature_scaler=scaler, time_column=frame.attrs.get("time_column"),
            split={"rows": len(frame), "train": [0, split.train.stop], "val": [split.val.start, split.val.stop],
                   "test": [split.test.start, split.test.stop]})

    def _transform(self, values: np.ndarray, log_targets: list[bool] | None = None) -> np.ndarray:
        z = values.astype(float).copy()
        for k, use_log in enumerate(self.state.log_targets if log_targets is None else log_targets):
            if use_log:
                if (values[:, k] <= 0).any():
                    row = int(np.argmax(values[:, k] <= 0))
                    raise DataError(f"target {self.config.targets[k]!r} was log-transformed in training but has "
                                    f"value {values[row, k]} <= 0 at row {row}")
                z[:, k] = np.log(values[:, k])
        return z

    def inverse_transform(self, z: np.ndarray) -> np.ndarray:
        out = z.copy()
        for k, use_log in enumerate(self.state.log_targets):
            if use_log:
                out[..., k] = np.exp(z[..., k])
        return out

    def _prepare(self, frame: pd.DataFrame) -> Prepared:
        cfg = self.config
        z = self._transform(frame[cfg.targets].to_numpy(dtype=float))
        if cfg.features:
            scaler = StandardScaler.from_dict(self.state.feature_scaler)
            feats = scaler.transform(frame[cfg.features].to_numpy(dtype=float))
        else:
            feats = np.zeros((len(frame), 0))
        return Prepared(frame, z, feats)

    # ---- fit -----------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "Forecaster":
        """Fit the preprocessing and the model on the train part of ``data`` (a CSV path or DataFrame),
        stopping early on the validation part. With ``run_dir``, checkpoints go there (``resume=True``
        continues an interrupted run; the result equals an uninterrupted one)."""
        cfg = self.config
        frame = self.read(data)
        self._fit_preprocessing(frame)
        s = self.state
        prepared = self._prepare(frame)
        split = self._split(len(frame))
        train_set = windows.dataset(s, prepared, split.train)
        # With combine="auto" early stopping watches the first half of the validation part and the
        # forecast is chosen on the second (candidates.validation_parts).
        stopping_rows, choice_rows, holdout = candidates.validation_parts(s, split.val, cfg.combine)
        s.split["early_stopping"] = [stopping_rows.start, stopping_rows.stop]
        val_set = windows.dataset(s, prepared, stopping_rows)
        if train_set is None or len(train_set) < 2:
            raise DataError(
                f"too few rows: the training part has {split.train.stop} rows, but input width "
                f"{s.input_width} + horizon {s.horizon} (and the seasonal baseline) need more than "
                f"{windows.first_origin(s) + s.horizon}; use more data or a smaller --input-width/--horizon"
            )
        if val_set is None:
            raise DataError(
                f"too few rows: the validation part (rows {split.val.start}-{split.val.stop - 1}) is shorter than the "
                f"horizon {s.horizon}; use more data or a smaller --horizon"
            )
        s.split["early_stopping_patience"] = patience = cfg.patience_epochs(len(train_set))
        seed_everything(cfg.seed)
        model = ForecastNet(prepared.z.shape[1] + prepared.features.shape[1], len(cfg.targets), s.horizon,
                            cfg.quantiles, cfg.hidden_size, cfg.num_layers, cfg.dropout, cfg.ensemble,
                            s.baseline_residual, cell=cfg.cell, recurrent_dropout=cfg.recurrent_dropout,
                            zoneout=cfg.zoneout)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=patience, restore_best=True, seed=cfg.seed, device=cfg.device,
                                   progress=False, backward_by_member=True, schedule=cfg.lr_schedule,
                                   plateau_patience=cfg.plateau_patience, plateau_factor=0.5)
        # The Trainer feeds (x, y) pairs: pack the two model inputs into x.
        self.train_model(model, pinball_loss(cfg.quantiles), train_config, Pairs(train_set), Pairs(val_set),
                         run_dir=run_dir, resume=resume)
        candidates.choose_forecast(self, prepared, split, choice_rows, holdout)  # LSTM, a baseline or their mean
        return self

    # ---- forecasts -----------------------------------------------------------------------------
    @torch.no_grad()
    def network_forecast(self, data: Prepared, origins: np.ndarray) -> np.ndarray:
        """(N, K, T, Q) forecasts on the original scale for the given origins."""
        inputs, level = window_tensors(self.state, data, origins)
        device = next(self.model.parameters()).device
        rel = self.model.eval()(tuple(t.to(device) for t in inputs)).cpu().numpy().astype(float)  # (N, K, T, Q)
        rel = np.sort(rel, axis=-1)  # quantiles never cross
        scale = np.asarray(self.state.target_scale)
        z = level[:, None, :, None] + rel * scale[None, None, :, None]
        return np.moveaxis(self.inverse_transform(np.moveaxis(z, -1, 1)), 1, -1)  # inverse transform per target

    def median_index(self) -> int:
        return self.config.quantiles.index(0.5)

    def evaluate(self, data) -> dict:
        """Metrics on every window of the test part: the model and the baselines, same windows.

        Returns ``{"model": {...}, "baselines": {...}, "split": {...}, "forecasts": DataFrame}``.
        """
        self.require_fitted()
        frame = self.read(data)
        split = self._split(len(frame))
        result = self.evaluate_rows(frame, split.test, train_end=split.train.stop)
        result["split"] = {**self.state.split, **result["split"]}
        return result

    def evaluate_rows(self, frame: pd.DataFrame, rows: slice, *, train_end: int) -> dict:
        """Evaluate forecasts whose whole horizon lies in ``rows`` of ``frame`` (a table :meth:`read`
        returned); MASE scaled on rows [0, train_end). Same result shape as :meth:`evaluate`."""
        self.require_fitted()
        cfg, s = self.config, self.state
        prepared = self._prepare(frame)
        origins = windows.origins_in(s, rows)
        K = s.horizon
        if len(origins) == 0:
            raise DataError(f"the test part has {rows.stop - rows.start} rows, fewer than the horizon {K} "
                            "(or than the history the first window needs): no test window")
        values = frame[cfg.targets].to_numpy(dtype=float)
        truth = values[origins[:, None] + np.arange(K)[None, :]]  # (N, K, T)
        network_q = self.network_forecast(prepared, origins)  # (N, K, T, Q)
        network = network_q[..., self.median_index()]
        predictions, facts = candidates.baseline_forecasts(s, values, prepared.z, origins, rows.start, self.inverse_transform)
        pred = candidates.chosen_forecast(s, network, predictions)  # the LSTM, a baseline or their mean
        pred_q = candidates.shift_quantiles(network_q, network, pred)
        scale = mase_scale(values[:train_end], s.season)
        result = {"model": forecast_metrics(truth, pred, scale)}
        if len(cfg.quantiles) > 1:
            result["model"]["pinball"] = pinball(truth, pred_q, cfg.quantiles)
            inside = (truth >= pred_q[..., 0]) & (truth <= pred_q[..., -1])
            result["model"][f"coverage_{cfg.quantiles[0]:g}_{cfg.quantiles[-1]:g}"] = float(inside.mean())
        predictions = {"lstm_alone": network, **predictions}
        result["baselines"] = {name: forecast_metrics(truth, p, scale) for name, p in predictions.items()}
        result["choice"] = candidates.choice_report(s, result)
        result["split"] = {"test": [rows.start, rows.stop], "test_windows": int(len(origins)), "horizon": K,
                           "season": s.season, "input_width": s.input_width,
                           "seasons_averaged": s.seasons_averaged, "why": dict(s.reasons), "seasons": list(s.seasons),
                           **facts}
        result["forecasts"] = self._forecast_frame(frame, origins, truth, pred_q, predictions)
        return result

    def _forecast_frame(self, frame, origins, truth, pred_q, predictions) -> pd.DataFrame:
        cfg = self.config
        K = truth.shape[1]
        index = frame.index
        rows = []
        for i, origin in enumerate(origins):
            for h in range(K):
                for k, target in enumerate(cfg.targets):
                    row = {"origin": windows.row_label(index, origin - 1),
                           "time": windows.row_label(index, origin + h), "step": h + 1, "target": target,
                           "actual": truth[i, h, k],
                           "forecast": pred_q[i, h, k, self.median_index()]}
                    for qi, q in enumerate(cfg.quantiles):
                        if q != 0.5:
                            row[f"q{q:g}"] = pred_q[i, h, k, qi]
                    for name, p in predictions.items():
                        row[name] = p[i, h, k]
                    rows.append(row)
        return pd.DataFrame(rows)

    def predict(self, data) -> pd.DataFrame:
        """Forecast the ``horizon`` steps after the end of ``data`` (same columns as in training)."""
        self.require_fitted()
        cfg, s = self.config, self.state
        frame = self.read(data)
        n = len(frame)
        needed = candidates.history_needed(s)
        if n < needed:
            raise DataError(f"predict needs at least {needed} rows (input width {s.input_width} plus the seasonal "
                            f"baseline's history" + (f" and the {s.combination_baseline} baseline's" if
                                                     s.combination != "lstm" else "") + f"), got {n}")
        prepared = self._prepare(frame)
        pred_q = candidates.forecast_after(s, frame[cfg.targets].to_numpy(dtype=float), prepared.z,
                                           self.network_forecast(prepared, np.array([n])), self.median_index(),
                                           self.inverse_transform)[0]  # (K, T, Q): the LSTM, a baseline or their mean
        times = windows.future_index(frame, s.horizon, s.freq)
        rows = []
        for h in range(s.horizon):
            for k, target in enumerate(cfg.targets):
                row = {"time": times[h], "step": h + 1, "target": target,
                       "forecast": pred_q[h, k, self.median_index()]}
                for qi, q in enumerate(cfg.quantiles):
                    if q != 0.5:
                        row[f"q{q:g}"] = pred_q[h, k, qi]
                rows.append(row)
        return pd.DataFrame(rows)

    def window_inputs(self, data, *, max_windows: int | None = None) -> WindowInputs:
        """The latest input windows of ``data`` as the LSTMs see them: targets relative to each window's
        level and divided by the scale, features scaled. Origins run to ``len(data)`` (the window ending
        at the last row included); at most ``max_windows`` of them (default: every one)."""
        self.require_fitted()
        cfg, s = self.config, self.state
        frame = self.read(data)  # DataError for missing columns, bad timestamps, ...
        first, n = windows.first_origin(s), len(frame)
        if n < first:
            raise DataError(f"the model's windows need at least {first} rows (input width {s.input_width} and the "
                            f"seasonal baseline's history), the data has {n}")
        start = first if max_windows is None else max(first, n + 1 - max_windows)
        origins = np.arange(start, n + 1)
        (x, _base), _level = window_tensors(s, self._prepare(frame), origins)  # x (N, W, F)
        labels = [windows.time_label(t) for t in frame.index]
        W = s.input_width
        names = [f"{c} (rel.)" for c in cfg.targets] + [f"{c} (scaled)" for c in cfg.features]
        return WindowInputs(x=x, origins=origins, times=[labels[o - W:o] for o in origins], feature_names=names)

    # ---- run directory -------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``forecast.csv`` (every test window: actual, forecast, quantiles, baselines) and ``forecast.png``."""
        from lstmkit.plots import forecast_plot

        cfg = self.config
        forecasts = result.pop("forecasts")
        atomic_write_text(out / "forecast.csv", forecasts.to_csv(index=False))
        frame = self.read(data)
        target = cfg.targets[0]
        band = (f"q{cfg.quantiles[0]:g}", f"q{cfg.quantiles[-1]:g}") if len(cfg.quantiles) > 1 else None
        chosen = result["choice"].get("forecast", "lstm").replace("lstm", "LSTM")
        forecast_plot(frame[target], forecasts[forecasts["target"] == target], out / "forecast.png",
                      model_label=chosen,
                      title=f"{target}: forecasts on the test part (MASE, lower is better: {chosen} "
                            f"{result['model']['mase']:.3f}, seasonal naive "
                            f"{result['baselines']['seasonal_naive']['mase']:.3f})",
                      quantile_columns=band, target=target, time_label=frame.index.name or "row",
                      freq=self.state.freq)
