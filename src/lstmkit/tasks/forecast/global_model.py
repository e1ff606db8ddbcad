r"""One LSTM forecaster trained across many series (M3, Tourism, a retailer's products): a *global* model.

Input is a long table: one row per series and time step (``id_column``, ``target``, optionally a
time column), series of any lengths and start dates. Each series keeps its own level and scale
exactly as in the single-series :class:`~lstmkit.tasks.forecast.forecaster.Forecaster`:

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
MASE scaled on the training part, OWA against Naive2), next to naive, seasonal naive, Naive2 and
Theta on the same split. A series needs ``min_history + 2h`` training values (one training and one
validation window; M3 monthly's shortest series, 48 + 18 values, just fits).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from lstmkit.config import DictConfig
from lstmkit.data import DataError
from lstmkit.errors import ConfigError
from lstmkit.files import atomic_write_text
from lstmkit.metrics.forecast import naive2_forecast, score_collection, smape_m3
from lstmkit.runtime import seed_everything
from lstmkit.tasks.base import Application
from lstmkit.tasks.cells import check_cell_options
from lstmkit.tasks.forecast import baselines, windows
from lstmkit.tasks.forecast.baselines import seasonal_naive, theta_forecast
from lstmkit.tasks.forecast.config import ForecastState, check_positive_ints
from lstmkit.tasks.forecast.model import ForecastNet, pinball_loss
from lstmkit.tasks.forecast.windows import Prepared, window_tensors
from lstmkit.train import TrainConfig

logger = logging.getLogger(__name__)

__all__ = ["GlobalConfig", "GlobalForecaster", "GlobalState", "Series", "theta_forecast"]


COMBINE_CHOICES = ("auto", "lstm")
#: What a global forecast can be: the network's median, Theta, or the mean of the two.
COMBINATIONS = ("lstm", "theta", "mean of lstm and theta")


@dataclass
class GlobalConfig(DictConfig):
    """A global forecasting run. ``None`` means "choose from the data"."""

    id_column: str
    target: str
    time_column: str | None = None  # optional: rows are ordered by it within a series; else file order
    horizon: int | None = None  # default: test_last, else the table's attrs["horizon"] (load_dataset)
    test_last: int | None = None  # the last h values of each series are its test part; default: horizon
    season: int | None = None  # default: the table's attrs["season"], else the time column's frequency
    input_width: int | None = None  # default: max(3 seasons, 2h) (24 or 2h without a season)
    seasons_averaged: int | None = None  # J; default: what the shortest training part holds, at most 3
    skip_short: bool = False  # skip (and name) series too short for one window, instead of refusing
    transform: str = "auto"  # per series: "auto" (log when all training values > 0), "log" or "none"
    quantiles: list[float] = field(default_factory=lambda: [0.5])
    hidden_size: int = 64
    num_layers: int = 1
    dropout: float = 0.0
    cell: str = "lstm"
    recurrent_dropout: float = 0.0
    zoneout: float = 0.0
    ensemble: int = 2
    windows_per_series: int = 8  # an epoch draws this many windows per series (on average) from the pool
    # "auto": after training, forecast every series' validation window with the network, with Theta and
    # with their mean, and keep whichever has the lowest mean sMAPE there (never worse on validation than
    # Theta); "lstm": the network alone. Only the median is combined, so with other quantiles: "lstm".
    combine: str = "auto"
    epochs: int = 60
    patience: int = 10
    lr: float = 3e-3
    # "plateau": halve the learning rate after 3 epochs without a better validation loss; None: constant
    lr_schedule: str | None = "plateau"
    weight_decay: float = 1e-4
    batch_size: int = 256
    clip_grad_norm: float = 1.0
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        if not self.id_column or not self.target:
            raise ConfigError("GlobalConfig: id_column and target are needed")
        if self.id_column == self.target:
            raise ConfigError(f"the id column and the target are the same column {self.target!r}")
        if self.lr_schedule not in (None, "plateau", "cosine"):
            raise ConfigError(f"lr_schedule must be 'plateau', 'cosine' or None, got {self.lr_schedule!r}")
        if self.transform not in ("auto", "log", "none"):
            raise ConfigError(f"transform must be 'auto', 'log' or 'none', got {self.transform!r}")
        if self.combine not in COMBINE_CHOICES:
            raise ConfigError(f"combine must be one of {', '.join(COMBINE_CHOICES)}, got {self.combine!r}")
        for name in ("input_width", "horizon", "season", "seasons_averaged", "test_last"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.horizon and self.test_last and self.horizon != self.test_last:
            raise ConfigError(f"horizon {self.horizon} and test_last {self.test_last} differ: the competition "
                              "protocol forecasts the whole test part at once; give one of them")
        qs = sorted(set(float(q) for q in self.quantiles) | {0.5})
        if not all(0 < q < 1 for q in qs):
            raise ConfigError(f"quantiles must lie strictly between 0 and 1, got {self.quantiles}")
        self.quantiles = qs
        check_positive_ints(self, ("ensemble", "hidden_size", "num_layers", "epochs", "patience", "batch_size",
                                   "windows_per_series"))
        check_cell_options(self)


@dataclass
class GlobalState(DictConfig):
    """What fitting chose; ``config.json["data"]``. Per-series log decisions and scales are recomputed
    from whatever history a forecast starts from (they are properties of the window, not learned)."""

    season: int
    horizon: int
    input_width: int
    seasons_averaged: int
    lag: int
    baseline_residual: bool
    min_history: int
    series: int  # how many series trained the model
    skipped: list[str] = field(default_factory=list)
    reasons: dict = field(default_factory=dict)
    # What the forecast is (chosen on the validation windows, config "combine"): one of COMBINATIONS,
    # and the mean validation sMAPE of each candidate.
    combination: str = "lstm"
    validation_smape: dict = field(default_factory=dict)


@dataclass(eq=False)
class Series:
    """One series of the table: ``train`` (history), ``test`` (empty outside evaluation), ``season``."""

    id: str
    train: np.ndarray
    test: np.ndarray
    season: int
    rows: np.ndarray  # row numbers in the table, for messages


class GlobalForecaster(Application):
    """Fit one forecaster over every series of a long table; evaluate with the competition protocol.

    >>> gf = GlobalForecaster(GlobalConfig(id_column="series", target="value", season=12, test_last=18))
    >>> gf.fit(table); gf.evaluate(table)["model"]["smape"]; gf.predict(table, ids=["N1402"])
    """

    name = "forecast-global"
    config_class = GlobalConfig
    state_class = GlobalState
    description = "a global (many-series) forecasting model"
    train_command = "lstmkit forecast train --id-column COL"

    config: GlobalConfig
    state: GlobalState | None
    model: ForecastNet | None

    # ---- reading -----------------------------------------------------------------------------
    def read(self, data) -> tuple[list[Series], dict]:
        """The series of ``data`` (a CSV path or a long DataFrame), in order of first appearance, and the
        table's ``attrs`` (season/horizon from :func:`lstmkit.data.load_dataset`). DataError for a
        missing column, a missing or non-numeric value (naming series, column and row)."""
        cfg = self.config
        if isinstance(data, pd.DataFrame):
            frame = data
        else:
            path = Path(data)
            if not path.is_file():
                raise DataError(f"{path}: no such file")
            frame = pd.read_csv(path)
        columns = [cfg.id_column, cfg.target] + ([cfg.time_column] if cfg.time_column else [])
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise DataError(f"column {missing[0]!r} is not in the table (columns: {', '.join(map(str, frame.columns))})")
        ids = frame[cfg.id_column]
        if ids.isna().any():
            row = int(np.flatnonzero(ids.isna().to_numpy())[0])
            raise DataError(f"column {cfg.id_column!r} (the series id) is empty at row {row}")
        values = pd.to_numeric(frame[cfg.target], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raw = frame[cfg.target].iloc[row]
            what = "a missing value" if pd.isna(raw) else f"the non-numeric or infinite value {raw!r}"
            raise DataError(f"series {str(ids.iloc[row])!r}: column {cfg.target!r} has {what} at row {row} "
                            f"(data row {row + 1}, counting the header as row 0 of the file)")
        key = ids.astype(str).to_numpy()
        codes, _ = pd.factorize(key)  # series numbered in order of first appearance
        if cfg.time_column:
            time = frame[cfg.time_column]
            if not pd.api.types.is_numeric_dtype(time):
                time = pd.to_datetime(time, errors="coerce")
                if time.isna().any():
                    row = int(np.flatnonzero(time.isna().to_numpy())[0])
                    raise DataError(f"series {key[row]!r}: column {cfg.time_column!r} has no readable time at "
                                    f"row {row}: {frame[cfg.time_column].iloc[row]!r}")
            dup = pd.DataFrame({"k": key, "t": time.to_numpy()}).duplicated()
            if dup.any():
                row = int(np.flatnonzero(dup.to_numpy())[0])
                raise DataError(f"series {key[row]!r}: time {time.iloc[row]} appears twice (row {row})")
            order = np.lexsort((time.to_numpy(), codes))
        else:  # file order within each series
            order = np.argsort(codes, kind="stable")
        groups = np.split(order, np.flatnonzero(np.diff(codes[order])) + 1) if len(order) else []
        series = [Series(id=str(key[g[0]]), train=values[g], test=np.empty(0), season=1, rows=g) for g in groups]
        attrs = dict(frame.attrs)
        attrs.update(_layout_hints(frame, key, cfg))
        if cfg.time_column and not pd.api.types.is_numeric_dtype(frame[cfg.time_column]) and series:
            longest = max(series, key=lambda s: len(s.rows))
            times = pd.to_datetime(frame[cfg.time_column].iloc[np.sort(longest.rows)])
            try:
                attrs.setdefault("freq", pd.infer_freq(pd.DatetimeIndex(times)))
            except (TypeError, ValueError):
                pass
        return series, attrs

    def check_input(self, data) -> None:
        series, attrs = self.read(data)
        self._choose(series, attrs)

    # ---- choices -----------------------------------------------------------------------------
    def _choose(self, series: list[Series], attrs: dict) -> tuple[GlobalState, list[Series]]:
        """Season, horizon, width, J; the test split of each series; the short series refused or skipped."""
        from lstmkit.data import infer_season

        cfg = self.config
        if not series:
            raise DataError("the table has no rows")
        if cfg.season is not None:
            season, season_why = cfg.season, "given"
        elif attrs.get("season"):
            season, season_why = int(attrs["season"]), attrs.get("season_why", "from the data set's metadata")
        else:
            season, season_why = infer_season(attrs.get("freq"), n=max(len(s.train) for s in series))
        horizon = cfg.horizon or cfg.test_last or attrs.get("horizon")
        if not horizon:
            raise DataError("give --horizon or --test-last: the number of values to forecast per series")
        horizon_why = ("given" if (cfg.horizon or cfg.test_last)
                       else attrs.get("horizon_why", "from the data set's metadata"))
        horizon = int(horizon)
        test_last = cfg.test_last or horizon
        min_history = max(season, 2)
        needed = min_history + 2 * horizon + test_last
        short = [s for s in series if len(s.train) < needed]
        if short:
            names = ", ".join(f"{s.id!r} ({len(s.train)} values)" for s in short[:5])
            more = f" and {len(short) - 5} more" if len(short) > 5 else ""
            message = (f"{len(short)} series too short for one window: {names}{more}; each needs {needed} values "
                       f"(one season of history {min_history}, a training and a validation window of {horizon}, "
                       f"the test part {test_last})")
            if not cfg.skip_short:
                raise DataError(message + "; pass --skip-short to skip them")
            logger.warning("skipping %s", message)
            if len(short) == len(series):
                raise DataError(message + ": no series left")
        kept = [Series(s.id, s.train[: len(s.train) - test_last], s.train[len(s.train) - test_last:], season, s.rows)
                for s in series if len(s.train) >= needed]
        if cfg.input_width is not None:
            width, width_why = cfg.input_width, "given"
        elif 2 <= season <= 24:
            width, width_why = max(3 * season, 2 * horizon), "three seasons or twice the horizon"
        else:
            width, width_why = max(24, 2 * horizon), "24 steps or twice the horizon"
        lag = baselines.seasonal_lag(season, horizon)
        if cfg.seasons_averaged is not None:
            j = cfg.seasons_averaged
        elif season > 1:
            shortest = min(len(s.train) for s in kept) - horizon  # the validation window's origin
            j = int(min(3, max(1, (shortest - min(width, season)) // lag)))
        else:
            j = 1
        state = GlobalState(season=season, horizon=horizon, input_width=width, seasons_averaged=j, lag=lag,
                            baseline_residual=season <= 24, min_history=min_history, series=len(kept),
                            skipped=[s.id for s in short],
                            reasons={"season": season_why, "horizon": horizon_why, "input_width": width_why})
        return state, kept

    # ---- per-series arrays -------------------------------------------------------------------
    def _window_state(self) -> ForecastState:
        s = self.state
        return ForecastState(season=s.season, horizon=s.horizon, input_width=s.input_width,
                             seasons_averaged=s.seasons_averaged, lag=s.lag, freq=None,
                             baseline_residual=s.baseline_residual, log_targets=[False], target_scale=[1.0],
                             feature_scaler=None, time_column=None, split={})

    def _pad(self) -> int:
        return windows.first_origin(self._window_state())

    def _series_inputs(self, history: np.ndarray, origins: np.ndarray, series_id: str, horizon_values=None):
        """Window tensors of one series for origins (counted in ``history``): x (N, W, 2), base (N, K, 1),
        level (N,), scale, log flag; and y (N, K, 1) when ``horizon_values`` (the full value array) is given."""
        cfg = self.config
        m = max(self.state.season, 1)
        seen = history if horizon_values is None else horizon_values
        use_log = cfg.transform == "log" or (cfg.transform == "auto" and bool((seen > 0).all()))
        if use_log and not (seen > 0).all():
            raise DataError(f"series {series_id!r}: transform='log' needs positive values")
        z = np.log(history) if use_log else history.astype(float)
        step = float(np.abs(np.diff(z)).mean()) if len(z) > 1 else 0.0
        scale = step if step > 0 else (float(np.abs(z).mean()) or 1.0)
        P = self._pad()
        if len(z) < m:
            raise DataError(f"series {series_id!r} has {len(z)} values, fewer than one season ({m})")
        full = z
        if horizon_values is not None:
            full = np.log(horizon_values) if use_log else horizon_values.astype(float)
        padded = np.concatenate([z[(np.arange(P) - P) % m], full])
        mask = np.concatenate([np.zeros(P), np.ones(len(full))])
        ws = self._window_state()
        ws.target_scale = [scale]
        prepared = Prepared(None, padded[:, None], mask[:, None])
        (x, base), level = window_tensors(ws, prepared, origins + P)
        y = None
        if horizon_values is not None:
            rows = origins[:, None] + P + np.arange(self.state.horizon)[None, :]
            y = torch.tensor((padded[rows][..., None] - level[:, None, :]) / scale, dtype=torch.float32)
        return x, base, level[:, 0], scale, use_log, y

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
            history = item.train[:n_fit]
            origins = np.arange(s.min_history, n_fit - K + 1)
            x, base, _, _, _, y = self._series_inputs(history, origins, item.id, horizon_values=item.train)
            train_parts.append((x, base, y))
            x, base, _, _, _, y = self._series_inputs(history, np.array([n_fit]), item.id, horizon_values=item.train)
            val_parts.append((x, base, y))
        train_set = _Stacked(train_parts)
        val_set = _Stacked(val_parts)
        logger.info("global model: %d series, %d training windows, %d validation windows", len(kept),
                    len(train_set), len(val_set))
        seed_everything(cfg.seed)
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
        """Forecast each series' validation window (its last h training values, from what precedes
        them) with every candidate of :data:`COMBINATIONS`; keep the lowest mean sMAPE (config
        ``combine="auto"``). The network's early stopping watched these windows too, so its score here
        is slightly optimistic: the choice leans towards the network, never away from it."""
        s, cfg = self.state, self.config
        if cfg.combine != "auto" or len(cfg.quantiles) > 1:
            s.combination, s.validation_smape = "lstm", {}
            return
        K = s.horizon
        histories = [(item.id, item.train[: len(item.train) - K]) for item in kept]
        truth = [item.train[len(item.train) - K:] for item in kept]
        network = self._forecast_histories(histories)[:, :, self._median()]
        theta = np.stack([theta_forecast(history, K, s.season) for _, history in histories])
        candidates = {"lstm": network, "theta": theta, "mean of lstm and theta": (network + theta) / 2}
        s.validation_smape = {name: float(np.mean([smape_m3(y, f) for y, f in zip(truth, forecasts)]))
                              for name, forecasts in candidates.items()}
        s.combination = min(COMBINATIONS, key=lambda name: s.validation_smape[name])
        logger.info("validation sMAPE: %s; the forecast is %s", s.validation_smape, s.combination)

    def _combined(self, network: np.ndarray, histories: list[np.ndarray]) -> np.ndarray:
        """(series, K) forecasts as the state's combination makes them from the network's medians."""
        combination, K, m = self.state.combination, self.state.horizon, self.state.season
        if combination == "lstm":
            return network
        theta = np.stack([theta_forecast(history, K, m) for history in histories])
        return theta if combination == "theta" else (network + theta) / 2

    # ---- forecasts ---------------------------------------------------------------------------
    @torch.no_grad()
    def _forecast_histories(self, histories: list[tuple[str, np.ndarray]]) -> np.ndarray:
        """(series, K, Q) forecasts on the original scale, one window at the end of each history."""
        xs, bases, levels, scales, logs = [], [], [], [], []
        for series_id, history in histories:
            x, base, level, scale, use_log, _ = self._series_inputs(history, np.array([len(history)]), series_id)
            xs.append(x)
            bases.append(base)
            levels.append(level[0])
            scales.append(scale)
            logs.append(use_log)
        device = next(self.model.parameters()).device
        out = []
        x_all, base_all = torch.cat(xs), torch.cat(bases)
        for start in range(0, len(x_all), 1024):
            inputs = (x_all[start:start + 1024].to(device), base_all[start:start + 1024].to(device))
            out.append(self.model.eval()(inputs).cpu().numpy().astype(float))
        rel = np.sort(np.concatenate(out)[:, :, 0, :], axis=-1)  # (S, K, Q)
        z = np.asarray(levels)[:, None, None] + rel * np.asarray(scales)[:, None, None]
        return np.where(np.asarray(logs)[:, None, None], np.exp(np.minimum(z, 700)), z)

    def _median(self) -> int:
        return self.config.quantiles.index(0.5)

    def evaluate(self, data) -> dict:
        """The competition protocol: each series' last ``test_last`` values forecast from the rest.

        ``{"model": summary, "baselines": {name: summary}, "split": {...}, "by_series": DataFrame,
        "forecasts": DataFrame}`` with the summaries of :func:`score_collection` (sMAPE, MASE, OWA ...).
        """
        self.require_fitted()
        cfg, s = self.config, self.state
        series, attrs = self.read(data)
        skip = cfg.skip_short
        self.config.skip_short = True  # evaluate the series that fit, as in training
        try:
            _, kept = self._choose(series, attrs)
        finally:
            self.config.skip_short = skip
        K = s.horizon
        pred_q = self._forecast_histories([(item.id, item.train) for item in kept])
        network = pred_q[:, :, self._median()]
        combined = self._combined(network, [item.train for item in kept])
        model_f = {item.id: combined[i] for i, item in enumerate(kept)}
        predictions = {
            "naive": {item.id: np.full(K, item.train[-1]) for item in kept},
            "seasonal_naive": {item.id: seasonal_naive(item.train, K, s.season) for item in kept},
            "naive2": {item.id: naive2_forecast(item.train, K, s.season) for item in kept},
            "theta": {item.id: theta_forecast(item.train, K, s.season) for item in kept},
        }
        if s.combination != "lstm":  # what the network alone would have scored
            predictions["lstm_alone"] = {item.id: network[i] for i, item in enumerate(kept)}
        table, summary = score_collection(kept, model_f)
        result = {"model": summary, "baselines": {}}
        for name, forecasts in predictions.items():
            base_table, base_summary = score_collection(kept, forecasts)
            result["baselines"][name] = base_summary
            table[f"smape_{name}"] = base_table["smape"].to_numpy()
            table[f"mase_{name}"] = base_table["mase"].to_numpy()
        table = table.loc[:, ~table.columns.duplicated()]
        table.insert(2, "n_train", [len(item.train) for item in kept])
        result["split"] = {"protocol": f"the last {K} values of every series are its test part",
                           "series": len(kept), "skipped": [x.id for x in series if x.id not in set(table["series"])],
                           "horizon": K, "season": s.season, "input_width": s.input_width,
                           "seasons_averaged": s.seasons_averaged, "why": dict(s.reasons),
                           "combination": s.combination, "validation_smape": dict(s.validation_smape)}
        rows = {"series": np.repeat([item.id for item in kept], K), "step": np.tile(np.arange(1, K + 1), len(kept)),
                "actual": np.concatenate([item.test for item in kept]),
                "forecast": np.concatenate([model_f[item.id] for item in kept])}
        for qi, q in enumerate(cfg.quantiles):
            if q != 0.5:
                rows[f"q{q:g}"] = pred_q[:, :, qi].reshape(-1)
        for name, forecasts in predictions.items():
            rows[name] = np.concatenate([forecasts[item.id] for item in kept])
        result["by_series"] = table
        result["forecasts"] = pd.DataFrame(rows)
        result["histories"] = {item.id: item.train for item in kept}
        return result

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
        pred_q = self._forecast_histories([(x.id, x.train) for x in series])
        K = self.state.horizon
        forecast = self._combined(pred_q[:, :, self._median()], [x.train for x in series])
        rows = {"series": np.repeat([x.id for x in series], K), "step": np.tile(np.arange(1, K + 1), len(series)),
                "forecast": forecast.reshape(-1)}
        for qi, q in enumerate(self.config.quantiles):
            if q != 0.5:
                rows[f"q{q:g}"] = pred_q[:, :, qi].reshape(-1)
        return pd.DataFrame(rows)

    # ---- run directory -----------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``metrics_by_series.csv``, ``forecasts.csv`` (every series' test part: actual, forecast,
        baselines) and ``forecast.png`` (a few series)."""
        table = result.pop("by_series")
        forecasts = result.pop("forecasts")
        histories = result.pop("histories")
        atomic_write_text(out / "metrics_by_series.csv", table.to_csv(index=False))
        atomic_write_text(out / "forecasts.csv", forecasts.to_csv(index=False))
        try:
            _plot(out / "forecast.png", histories, forecasts, result)
        except Exception as error:  # a plot is never worth a failed run
            logger.warning("no forecast.png: %s", error)


_FREQUENCY_SEASONS = {"yearly": 1, "annual": 1, "quarterly": 4, "monthly": 12, "other": 1}


def _layout_hints(frame: pd.DataFrame, key: np.ndarray, cfg: GlobalConfig) -> dict:
    """Season and horizon from the competition layout (:func:`lstmkit.data.load_dataset` written to CSV):
    a ``frequency`` column with one value (monthly: 12, ...) and a ``split`` column whose ``"test"``
    rows number the same in every series."""
    hints = {}
    used = {cfg.id_column, cfg.target, cfg.time_column}
    if "frequency" in frame.columns and "frequency" not in used:
        values = frame["frequency"].dropna().astype(str).str.lower().unique()
        if len(values) == 1 and values[0] in _FREQUENCY_SEASONS:
            hints["season"] = _FREQUENCY_SEASONS[values[0]]
            hints["season_why"] = f"the table's frequency column says {values[0]}"
    if "split" in frame.columns and "split" not in used:
        counts = pd.Series((frame["split"].astype(str) == "test").to_numpy()).groupby(key).sum()
        if len(counts) and counts.nunique() == 1 and int(counts.iloc[0]) > 0:
            hints["horizon"] = int(counts.iloc[0])
            hints["horizon_why"] = f"the table's split column has {hints['horizon']} test rows per series"
    return hints


def _plot(path: Path, histories: dict, forecasts: pd.DataFrame, result: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids = list(histories)[:: max(1, len(histories) // 4)][:4]
    fig, axes = plt.subplots(len(ids), 1, figsize=(9, 2.4 * len(ids)), squeeze=False)
    for ax, sid in zip(axes[:, 0], ids):
        hist = histories[sid]
        part = forecasts[forecasts["series"] == sid]
        t = len(hist) + part["step"].to_numpy() - 1
        ax.plot(np.arange(len(hist)), hist, color="0.3", lw=1, label="history")
        ax.plot(t, part["actual"], color="k", lw=1.5, label="actual")
        ax.plot(t, part["forecast"], color="C0", lw=1.5, label="LSTM (global)")
        ax.plot(t, part["naive2"], color="C1", lw=1, ls="--", label="Naive2")
        ax.set_title(f"series {sid}", fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="upper left")
    fig.suptitle(f"global LSTM: sMAPE {result['model']['smape']:.2f}, OWA {result['model']['owa']:.3f} "
                 f"(Naive2 sMAPE {result['model']['smape_naive2']:.2f})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


class _Stacked(torch.utils.data.Dataset):
    """Per-series (x, base, y) tensors concatenated, served as the Trainer's ((x, base), y) pairs."""

    def __init__(self, parts: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]):
        parts = [p for p in parts if len(p[0])]
        self.x = torch.cat([p[0] for p in parts])
        self.base = torch.cat([p[1] for p in parts])
        self.y = torch.cat([p[2] for p in parts])

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        return (self.x[i], self.base[i]), self.y[i]


# ------------------------------------------------------------------------------------------- baselines
