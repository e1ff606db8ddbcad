r"""One LSTM forecaster trained across many series (M3, Tourism, a retailer's products): a *global* model.

Input is a long table: one row per series and time step (``id_column``, ``target``, optionally a
time column), or a wide one (a time column, a column per series), series of any lengths and start
dates. Each series keeps its own level and scale exactly as in the single-series
:class:`~lstmkit.tasks.forecast.forecaster.Forecaster`:

* per series, the log scale when all its training values are positive (``transform="auto"``), and a
  scale :math:`s_i`, the mean absolute one-step change of its training part (transformed);
* every window relative to its own level and divided by :math:`s_i`, the seasonal baseline
  (:mod:`lstmkit.tasks.forecast.windows`) and the :class:`~lstmkit.tasks.forecast.model.ForecastNet`
  correction on top of it.

So one network sees windows of every series on a common, unit-free scale; the loss (pinball, i.e.
half the absolute error for the median) in units of :math:`s_i` weights series alike.

Short histories. Competition series are short (M3 monthly: 48 training values, h = 18), shorter than
an input window plus the baseline's seasons plus a horizon. Each series is therefore padded in front
with copies of its first season (same phase: :math:`z_{-t} = z_{(-t) \bmod m}`), and a second input
channel says which steps are padding (0) or data (1). A training window needs one season of real
history (``min_history`` = max(m, 2) values) before its origin.

Competition protocol (``test_last`` = h): the last h values of every series are its test part; the
last h values of the rest (the *training part*) are its validation window (early stopping); training
windows have their whole horizon before that. The test forecast is one window per series at the end
of its training part, scored with :func:`lstmkit.metrics.forecast.score_collection` (M3's sMAPE,
MASE scaled on the training part, OWA against Naive2), next to naive, seasonal naive, Naive2, Theta,
AR(p), (``ets_baseline``) ETS and (``per_series_baseline``) the single-series forecaster trained on
each series alone (:mod:`~lstmkit.tasks.forecast.per_series`) on the same split. A series needs
``min_history + 2h`` training values (one training and one validation window; M3 monthly's shortest
series, 48 + 18 values, just fits).

Covariates. Columns known in advance for the horizon (``future_features``, a generated ``calendar``)
and categorical ``static_features`` per series are read by
:class:`~lstmkit.tasks.forecast.global_net.GlobalForecastNet`, whose decoder sees each horizon step's
known values; without them the network is ForecastNet, as for one series.

The parts, one job each: :mod:`~lstmkit.tasks.forecast.panel` reads and checks the table (long or
wide), :mod:`~lstmkit.tasks.forecast.global_config` holds the config and chooses season, horizon and
split, :mod:`~lstmkit.tasks.forecast.covariates` fits and builds the covariates,
:mod:`~lstmkit.tasks.forecast.global_windows` cuts a series into windows,
:mod:`~lstmkit.tasks.forecast.global_net` is the network with covariates,
:mod:`~lstmkit.tasks.forecast.global_eval` scores the test parts and writes the run's files. This
module composes them: fit, the choice of forecast on validation, forecasts, predict.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.data import DataError
from lstmkit.errors import MissingDependencyError
from lstmkit.metrics.forecast import smape_m3
from lstmkit.runtime import seed_everything
from lstmkit.tasks.base import Application
from lstmkit.tasks.forecast import global_eval
from lstmkit.tasks.forecast.baselines import theta_forecast
from lstmkit.tasks.forecast.choose import choose, combine, label_parts
from lstmkit.tasks.forecast.covariates import fit_covariates, series_covariates, static_codes
from lstmkit.tasks.forecast.global_config import (CANDIDATE_BASELINES, COMBINATIONS, COMBINE_CHOICES, GlobalConfig,
                                                  GlobalState, choose_state)
from lstmkit.tasks.forecast.global_net import GlobalForecastNet
from lstmkit.tasks.forecast.global_windows import SeriesWindows, StackedWindows, series_inputs, stack_inputs
from lstmkit.tasks.forecast.model import ForecastNet, pinball_loss
from lstmkit.tasks.forecast.per_series import per_series_forecasts
from lstmkit.tasks.forecast.panel import Series, read_panel
from lstmkit.train import TrainConfig

logger = logging.getLogger(__name__)

__all__ = ["CANDIDATE_BASELINES", "COMBINATIONS", "COMBINE_CHOICES", "GlobalConfig", "GlobalForecaster", "GlobalState", "Series",
           "theta_forecast"]


class GlobalForecaster(Application):
    """Fit one forecaster over every series of a table; evaluate with the competition protocol.

    >>> gf = GlobalForecaster(GlobalConfig(id_column="series", target="value", season=12, test_last=18))
    >>> gf.fit(table); gf.evaluate(table)["model"]["smape"]; gf.predict(table, ids=["N1402"])

    With covariates (``predict`` then needs each series' rows after its last value, target empty,
    holding ``promo`` for the horizon)::

        GlobalConfig(id_column="item", target="sales", time_column="date", future_features=["promo"],
                     calendar=True, static_features=["category"])
    """

    name = "forecast-global"
    config_class = GlobalConfig
    state_class = GlobalState
    description = "a global (many-series) forecasting model"
    train_command = "lstmkit forecast train --id-column COL"

    config: GlobalConfig
    state: GlobalState | None
    model: ForecastNet | GlobalForecastNet | None

    # ---- reading -----------------------------------------------------------------------------
    def read(self, data) -> tuple[list[Series], dict]:
        """The series of ``data`` and the table's hints: :func:`lstmkit.tasks.forecast.panel.read_panel`."""
        return read_panel(data, self.config)

    def check_input(self, data) -> None:
        series, attrs = self.read(data)
        self._choose(series, attrs)

    def _choose(self, series: list[Series], attrs: dict) -> tuple[GlobalState, list[Series]]:
        """The state's choices and the series kept, split (:func:`choose_state`), with the covariates'
        scaling and categories fitted on their training parts (:func:`fit_covariates`)."""
        state, kept = choose_state(self.config, series, attrs)
        fit_covariates(self.config, state, kept)
        return state, kept

    def _windows(self, item: Series, n_history: int, origins: np.ndarray, targets: bool = False) -> SeriesWindows:
        """Windows of ``item`` forecast from its first ``n_history`` values at ``origins`` (<= n_history);
        with ``targets``, their y (the values up to n_history + K must exist)."""
        K = self.state.horizon
        values = np.concatenate([item.train, item.test])
        covariates = series_covariates(self.state, item, n_history + K) if self.state.conditioned else None
        return series_inputs(self.state, self.config.transform, values[:n_history], origins, item.id,
                             horizon_values=values[: n_history + K] if targets else None, covariates=covariates)

    def _static(self, item: Series) -> np.ndarray | None:
        """The series' static codes for GlobalForecastNet's inputs; None for ForecastNet."""
        return static_codes(self.state, item) if self.state.conditioned else None

    # ---- fit ---------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "GlobalForecaster":
        cfg = self.config
        series, attrs = self.read(data)
        self.state, kept = self._choose(series, attrs)
        s = self.state
        K = s.horizon
        train_parts, val_parts = [], []
        for item in kept:
            n_fit = len(item.train) - K  # the validation window's origin
            train_parts.append(self._windows(item, n_fit, np.arange(s.min_history, n_fit - K + 1), targets=True))
            val_parts.append(self._windows(item, n_fit, np.array([n_fit]), targets=True))
        statics = [self._static(item) for item in kept] if s.conditioned else None
        train_set = StackedWindows(train_parts, statics)
        val_set = StackedWindows(val_parts, statics)
        logger.info("global model: %d series, %d training windows, %d validation windows", len(kept),
                    len(train_set), len(val_set))
        seed_everything(cfg.seed)
        if s.conditioned:
            model = GlobalForecastNet(2 + len(s.covariates), K, len(s.covariates),
                                      [len(c) for c in s.static_categories.values()], cfg.quantiles, cfg.hidden_size,
                                      cfg.num_layers, cfg.dropout, cfg.ensemble, s.baseline_residual, cell=cfg.cell,
                                      recurrent_dropout=cfg.recurrent_dropout, zoneout=cfg.zoneout)
        else:  # no covariates: the single-series forecaster's network, as before covariates existed
            model = ForecastNet(2, 1, K, cfg.quantiles, cfg.hidden_size, cfg.num_layers, cfg.dropout, cfg.ensemble,
                                s.baseline_residual, cell=cfg.cell, recurrent_dropout=cfg.recurrent_dropout,
                                zoneout=cfg.zoneout)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adamw", lr=cfg.lr,
                                   weight_decay=cfg.weight_decay, clip_grad_norm=cfg.clip_grad_norm,
                                   patience=cfg.patience, restore_best=True, seed=cfg.seed, device=cfg.device,
                                   schedule=cfg.lr_schedule, plateau_patience=3, plateau_factor=0.5, progress=False)
        per_epoch = min(len(train_set), cfg.windows_per_series * len(kept))
        generator = torch.Generator().manual_seed(cfg.seed)
        sampler = torch.utils.data.RandomSampler(train_set, num_samples=per_epoch, generator=generator)
        loader = torch.utils.data.DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler)
        val_loader = torch.utils.data.DataLoader(val_set, batch_size=1024, shuffle=False)
        self.train_model(model, pinball_loss(cfg.quantiles), train_config, loader, val_loader,
                         run_dir=run_dir, resume=resume)
        self._choose_combination(kept)
        return self

    def _choose_combination(self, kept: list[Series]) -> None:
        r"""Forecast each series' validation window (its last h training values) with the network, with
        Theta, AR(p) and (``ets_baseline``) ETS fitted to the values before it (the rule of their test
        fit, one window earlier), and with the mean of the network and each of them; keep the lowest
        mean sMAPE (config ``combine="auto"``, :func:`lstmkit.tasks.forecast.choose.choose` with
        ``means="each"``). The network's early stopping watched these windows too, so its score here
        is slightly optimistic: the choice leans towards the network, never away from it."""
        s, cfg = self.state, self.config
        if cfg.combine != "auto" or len(cfg.quantiles) > 1:
            s.combination, s.validation_smape = "lstm", {}
            return
        K = s.horizon
        truth = np.stack([item.train[len(item.train) - K:] for item in kept])  # (S, K)
        network = self._forecast_histories([(item, len(item.train) - K) for item in kept])[:, :, self._median()]
        before = {item.id: item.train[: len(item.train) - K] for item in kept}
        candidates = self._baseline_forecasts(before, self._candidates(), what="validation")

        def mean_smape(forecast: np.ndarray) -> float:
            return float(np.mean([smape_m3(y, f) for y, f in zip(truth, forecast)]))

        picked = choose(network, candidates, mean_smape, means="each")
        s.validation_smape, s.combination = picked["scores"], picked["forecast"]
        logger.info("validation sMAPE: %s; the forecast is %s", s.validation_smape, s.combination)

    def _candidates(self) -> tuple[str, ...]:
        """The baselines :meth:`_choose_combination` scores: those of :data:`CANDIDATE_BASELINES` this run fits."""
        return tuple(name for name in CANDIDATE_BASELINES if name != "ets" or self.config.ets_baseline)

    def _baseline_forecasts(self, histories: dict[str, np.ndarray], names: tuple[str, ...], *,
                            what: str = "forecast") -> dict[str, np.ndarray]:
        """{name: (series, K)} forecasts of the K values after each history (``{id: values}``) by the
        baselines ``names``, each fitted to every history alone: Theta (:func:`theta_forecast`), AR and
        ETS (:func:`lstmkit.tasks.forecast.global_eval.fit_baselines`, the test part's baselines). ETS
        is absent without statsmodels."""
        K, m = self.state.horizon, self.state.season
        out = {}
        if "theta" in names:
            out["theta"] = np.stack([theta_forecast(history, K, m) for history in histories.values()])
        fitted, _, _ = global_eval.fit_baselines(histories, K, m, transform=self.config.transform, what=what,
                                                 names=tuple(name for name in names if name != "theta"))
        out.update({name: np.stack([forecasts[sid] for sid in histories]) for name, forecasts in fitted.items()})
        return {name: out[name] for name in names if name in out}

    def _combined(self, network: np.ndarray, histories: dict[str, np.ndarray],
                  fitted: dict[str, dict[str, np.ndarray]] | None = None) -> np.ndarray:
        """(series, K) forecasts as the state's combination makes them from the network's medians, its
        baseline refitted on each history (``{id: values}``, in the network's order), or taken from
        ``fitted`` ({name: {id: (K,)}}) when the caller has fitted it already."""
        kind, name = label_parts(self.state.combination)
        if kind == "lstm":
            return network
        if fitted and name in fitted:
            baseline = np.stack([fitted[name][sid] for sid in histories])
        else:
            found = self._baseline_forecasts(histories, (name,))
            if name not in found:
                raise MissingDependencyError(f"the model's forecast is the {self.state.combination}: {name} needs "
                                             "statsmodels (pip install 'lstmkit[data]')")
            baseline = found[name]
        return combine(kind, network, baseline)

    # ---- forecasts ---------------------------------------------------------------------------
    @torch.no_grad()
    def _forecast_histories(self, histories: list[tuple[Series, int]]) -> np.ndarray:
        """(series, K, Q) forecasts on the original scale: for each (series, n), one window forecasting
        the K steps after its first n values."""
        parts = [self._windows(item, n, np.array([n])) for item, n in histories]
        statics = [self._static(item) for item, _ in histories] if self.state.conditioned else None
        inputs = stack_inputs(parts, statics)
        device = next(self.model.parameters()).device
        out = []
        for start in range(0, len(inputs[0]), 1024):
            batch = tuple(tensor[start:start + 1024].to(device) for tensor in inputs)
            out.append(self.model.eval()(batch).cpu().numpy().astype(float))
        rel = np.sort(np.concatenate(out)[:, :, 0, :], axis=-1)  # (S, K, Q)
        levels = np.array([part.level[0] for part in parts])
        scales = np.array([part.scale for part in parts])
        z = levels[:, None, None] + rel * scales[:, None, None]
        logs = np.array([part.use_log for part in parts])
        return np.where(logs[:, None, None], np.exp(np.minimum(z, 700)), z)

    def _median(self) -> int:
        return self.config.quantiles.index(0.5)

    def evaluate(self, data) -> dict:
        """The competition protocol: each series' last ``test_last`` values forecast from the rest
        (:func:`lstmkit.tasks.forecast.global_eval.score_test_parts`)."""
        self.require_fitted()
        cfg = self.config
        series, attrs = self.read(data)
        skip = cfg.skip_short
        self.config.skip_short = True  # evaluate the series that fit, as in training
        try:
            _, kept = self._choose(series, attrs)
        finally:
            self.config.skip_short = skip
        pred_q = self._forecast_histories([(item, len(item.train)) for item in kept])
        s = self.state
        fitted = global_eval.statistical_baselines(kept, s.horizon, s.season, transform=cfg.transform,
                                                   ets=cfg.ets_baseline)  # fitted once: reported, maybe chosen
        forecast = self._combined(pred_q[:, :, self._median()], {item.id: item.train for item in kept}, fitted[0])
        per_series = None
        if cfg.per_series_baseline:  # the single-series forecaster on every series alone: what one model adds
            per_series = per_series_forecasts(kept, s.horizon, s.season, transform=cfg.transform, seed=cfg.seed,
                                              device=str(next(self.model.parameters()).device))
        used = {item.id for item in kept}
        return global_eval.score_test_parts(kept, [x.id for x in series if x.id not in used], s, cfg.quantiles,
                                            pred_q, forecast, transform=cfg.transform, ets=cfg.ets_baseline,
                                            fitted=fitted, per_series=per_series)

    def predict(self, data, ids: list[str] | None = None) -> pd.DataFrame:
        """Forecast the ``horizon`` values after the end of every series of ``data`` (or of ``ids``):
        a long table series, step, forecast (and the other quantiles). Series shorter than one season
        are refused, or skipped with ``skip_short``."""
        self.require_fitted()
        series, _ = self.read(data)
        if ids is not None:
            known = {x.id for x in series}
            unknown = [i for i in ids if str(i) not in known]
            if unknown:
                raise DataError(f"series {unknown[0]!r} is not in the table ({len(unknown)} of the --ids are not)")
            wanted = [str(i) for i in ids]
            by_id = {x.id: x for x in series}
            series = [by_id[i] for i in dict.fromkeys(wanted)]
        m = max(self.state.min_history, 1)
        short = [x for x in series if len(x.train) < m]
        if short:
            message = (f"{len(short)} series shorter than {m} values (one season): "
                       + ", ".join(repr(x.id) for x in short[:5]))
            if not self.config.skip_short:
                raise DataError(message + "; pass --skip-short to skip them")
            logger.warning("skipping %s", message)
            series = [x for x in series if len(x.train) >= m]
        if not series:
            raise DataError("no series to forecast")
        unseen = [f"{x.id!r} ({column} {x.static[column]!r})" for x in series
                  for column, categories in self.state.static_categories.items() if x.static[column] not in categories]
        if unseen:
            logger.warning("static categories not seen in training (embedded as 'unseen'): %s", ", ".join(unseen[:5]))
        pred_q = self._forecast_histories([(x, len(x.train)) for x in series])
        K = self.state.horizon
        forecast = self._combined(pred_q[:, :, self._median()], {x.id: x.train for x in series})
        rows = {"series": np.repeat([x.id for x in series], K), "step": np.tile(np.arange(1, K + 1), len(series)),
                "forecast": forecast.reshape(-1)}
        for qi, q in enumerate(self.config.quantiles):
            if q != 0.5:
                rows[f"q{q:g}"] = pred_q[:, :, qi].reshape(-1)
        return pd.DataFrame(rows)

    # ---- run directory -----------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``metrics_by_series.csv``, ``forecasts.csv`` and ``forecast.png``
        (:func:`lstmkit.tasks.forecast.global_eval.write_results`)."""
        global_eval.write_results(out, result)
