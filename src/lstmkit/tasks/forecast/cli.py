"""``lstmkit forecast train|predict|backtest``: parse arguments into a ForecastConfig and call the task."""
from __future__ import annotations

import argparse
import dataclasses

from lstmkit.cli.common import (add_config_options, add_model_option, add_quantize_option, add_run_options, add_task,
                                add_threads_option, add_verb, config_values, run_values, existing_file, model_dir,
                                positive_int, run_dir, use_threads)
from lstmkit.errors import UsageError
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP
from lstmkit.tasks.forecast.config import ForecastConfig
from lstmkit.tasks.forecast.report import print_choices, print_metrics, print_result

TIME_COLUMN_NAMES = ("date", "time", "timestamp", "datetime", "ds", "month", "day", "week", "period")
TRAIN_COMMAND = "lstmkit forecast train"

# ForecastConfig fields given as options one to one (``--hidden-size`` for hidden_size, ...).
CONFIG_OPTIONS = ["time_column", "features", "input_width", "horizon", "season", "quantiles", "transform",
                  "hidden_size", "ensemble", *CELL_FIELDS, "fill", "sort"]
HELP = {
    "time_column": f"timestamp column (default: the first column named one of {', '.join(TIME_COLUMN_NAMES)})",
    "features": "extra input columns",
    "input_width": "steps of history per window (default: from the season)",
    "horizon": "steps to forecast (default: 7 daily, 12 monthly, ...)",
    "season": "seasonal period in steps (default: from the frequency)",
    "quantiles": "quantiles to forecast, e.g. 0.1 0.5 0.9 (pinball loss; drawn as a band)",
    "transform": "'auto': log scale for a target whose training values are all positive; 'log' or 'none' force it",
    "hidden_size": "LSTM units per ensemble member",
    "ensemble": "LSTMs averaged",
    "fill": "fill missing values and gaps",
    "sort": "sort rows by time instead of refusing",
    **CELL_HELP,
}
CHOICES = {"transform": ["auto", "log", "none"], "fill": ["ffill", "interpolate"], **CELL_CHOICES}


def add_parser(sub) -> None:
    verbs = add_task(sub, "forecast", help="time-series forecasting with an LSTM")

    train = add_verb(verbs, "train", help="fit on a CSV, evaluate on its last part, write a run directory")
    _add_data_options(train)
    _add_global_options(train)
    add_run_options(train, resume=True)
    train.set_defaults(run=run_train)

    backtest = add_verb(verbs, "backtest", help="walk-forward folds: refit before each fold, score it")
    _add_data_options(backtest)
    backtest.add_argument("--folds", type=positive_int, default=3, help="number of folds (default 3)")
    backtest.add_argument("--fold-size", type=positive_int, default=None,
                          help="rows per fold (default: 15%% of the data)")
    add_run_options(backtest)
    backtest.set_defaults(run=run_backtest)

    predict = add_verb(verbs, "predict", help="forecast the horizon after the end of a CSV with a saved model")
    predict.add_argument("data", metavar="DATA.csv", help="a CSV with the columns the model was trained on")
    add_model_option(predict, TRAIN_COMMAND)
    predict.add_argument("--out", metavar="FILE.csv", help="write the forecast here (default: print it)")
    add_config_options(predict, ForecastConfig, ["fill", "sort"], choices=CHOICES,
                       help={"fill": "fill missing values and gaps (default: as in training)",
                             "sort": "sort rows by time instead of refusing (default: as in training)"})
    predict.add_argument("--ids", nargs="+", metavar="ID", default=None,
                         help="a model trained with --id-column: forecast only these series (default: every one)")
    predict.add_argument("--skip-short", action="store_true", default=None,
                         help="a model trained with --id-column: skip (and name) series shorter than one season")
    add_threads_option(predict)
    add_quantize_option(predict)
    predict.set_defaults(run=run_predict)


def _add_global_options(parser) -> None:
    """Options of the global (many-series) model: given --id-column, one model learns every series."""
    parser.add_argument("--id-column", metavar="COL", default=None,
                        help="long table: the column naming each series; one model is trained across all series")
    parser.add_argument("--test-last", type=positive_int, metavar="H", default=None,
                        help="the last H values (of every series, with --id-column) are the test part and the H "
                             "before them the validation part (competition protocol; with --id-column the default is "
                             "the horizon; one series: instead of the 70/15/15 split)")
    parser.add_argument("--skip-short", action="store_true", default=False,
                        help="with --id-column: skip (and name) series too short for one window instead of refusing")
    parser.add_argument("--combine", choices=["auto", "lstm"], default=None,
                        help="'auto' (default): the forecast is the network, the best baseline or their mean, "
                             "whichever scores lowest on the validation windows (one series: MASE over every "
                             "baseline; --id-column: sMAPE against Theta); 'lstm': the network alone")
    parser.add_argument("--windows-per-series", type=positive_int, metavar="N", default=None,
                        help="with --id-column: windows drawn per series and epoch (default 8)")
    parser.add_argument("--wide", action="store_true", default=False,
                        help="a wide table: a time column and one column per series (Darts' "
                             "TimeSeries.from_dataframe layout); --target picks the series columns (default: every "
                             "column but the time column and --future-features); one model learns every series")
    parser.add_argument("--future-features", action="extend", nargs="+", metavar="COL", default=None,
                        help="with --id-column or --wide: columns known in advance (holidays, planned promotions), "
                             "read over the input window and for the horizon; predict needs them for the horizon: "
                             "rows after each series' last value with the target empty (COL,COL or COL COL)")
    parser.add_argument("--calendar", action="store_true", default=False,
                        help="with --id-column or --wide: add the calendar (month, day of week, hour ... as sin/cos, "
                             "as the time column's step calls for) to the future-known features")
    parser.add_argument("--static-features", action="extend", nargs="+", metavar="COL", default=None,
                        help="with --id-column: categorical columns constant within each series (a product's "
                             "category), embedded")
    parser.add_argument("--ets-baseline", action=argparse.BooleanOptionalAction, default=None,
                        help="with --id-column or --wide: fit ETS (statsmodels' damped Holt-Winters) to every series "
                             "as a baseline and a candidate of the forecast (default); 0.1-0.2 s of CPU a series and "
                             "fit, twice (about 160 s a fit for M3's 1,428 monthly series): --no-ets-baseline "
                             "leaves it out; AR(p) is always computed")
    parser.add_argument("--per-series-baseline", action="store_true", default=False,
                        help="with --id-column or --wide: also train the single-series forecaster on every series "
                             "alone (its defaults, same split) as a baseline, to see what one global model adds; "
                             "1-3 s of CPU a series")


def _add_data_options(parser) -> None:
    parser.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    parser.add_argument("--target", action="extend", nargs="+", default=None, metavar="COL",
                        help="column(s) to forecast: --target a b, or --target a --target b (required, except "
                             "with --wide: the series columns)")
    add_config_options(parser, ForecastConfig, CONFIG_OPTIONS, help=HELP, choices=CHOICES)


def _config(args):
    if not args.target:
        raise UsageError("the following arguments are required: --target")
    values = run_values(args, CONFIG_OPTIONS)
    values["time_column"] = args.time_column or _guess_time_column(args.data, args.target)
    for name in ("combine", "test_last"):  # train has these (shared with --id-column); backtest does not
        if getattr(args, name, None):
            values[name] = getattr(args, name)
    return ForecastConfig(targets=args.target, **values)


def _guess_time_column(path: str, targets: list[str]) -> str | None:
    import pandas as pd

    existing_file(path)
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: the file is empty") from None
    for name in header:
        if str(name).strip().lower() in TIME_COLUMN_NAMES and name not in targets:
            return name
    return None


# Options of the global model only (a table of many series), refused for one series.
GLOBAL_ONLY = ("windows_per_series", "skip_short", "future_features", "calendar",
               "static_features", "ets_baseline", "per_series_baseline")


def run_train(args) -> int:
    from lstmkit.tasks.forecast import Forecaster, train_run

    if getattr(args, "id_column", None) or getattr(args, "wide", False):
        return run_train_global(args)
    given = {name: getattr(args, name, None) for name in GLOBAL_ONLY}
    # a flag's False is its default, except --no-ets-baseline's (its default is None)
    only_global = [("--no-" if value is False else "--") + name.replace("_", "-") for name, value in given.items()
                   if value not in (None, False, []) or (name == "ets_baseline" and value is False)]
    if only_global:
        raise UsageError(f"{only_global[0]} applies to many series with --id-column or --wide; "
                         "this table is one series")
    config = _config(args)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "forecast")
    result = train_run(Forecaster(config), args.data, out, resume=args.resume, progress=True)
    print_result(result)
    print(f"run directory: {out}  (forecast.png, forecast.csv, metrics.json, model.safetensors)")
    return 0


def run_backtest(args) -> int:
    from lstmkit.tasks.forecast import backtest_run

    config = _config(args)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "backtest")
    result = backtest_run(config, args.data, out, folds=args.folds, fold_size=args.fold_size)
    for fold in result["folds"]:
        chosen = fold.get("choice", {}).get("forecast", "lstm")
        print(f"fold {fold['fold']}: rows {fold['test_rows'][0]}-{fold['test_rows'][1] - 1}: forecast ({chosen}) "
              f"MASE {fold['model']['mase']:.3f}, seasonal naive {fold['baselines']['seasonal_naive']['mase']:.3f}")
    print("mean over folds (each fold chooses its forecast on its own validation part):")
    print_metrics(result, label="forecast (lstmkit)")
    print(f"run directory: {out}  (metrics.json, backtest.csv)")
    return 0


def _global_config(args):
    from lstmkit.tasks.forecast.global_model import GlobalConfig

    if args.wide and args.id_column:
        raise UsageError("--wide and --id-column exclude each other: a wide table has one column per series, a "
                         "long one an id column")
    if not args.wide and (not args.target or len(args.target) != 1):
        raise UsageError(f"--id-column takes one --target (the value column of the long table), got {args.target}")
    if args.features:
        raise UsageError("--features is not supported with --id-column or --wide; columns known for the horizon "
                         "go in --future-features")
    unsupported = [f"--{name.replace('_', '-')}" for name in ("fill", "sort") if getattr(args, name, None)]
    if unsupported:
        raise UsageError(f"{unsupported[0]} is not supported with --id-column or --wide")
    names = ["input_width", "horizon", "season", "quantiles", "transform", "hidden_size", "ensemble", *CELL_FIELDS,
             "test_last", "windows_per_series", "combine"]
    values = run_values(args, names)
    future = [c for text in args.future_features or [] for c in text.split(",") if c]
    static = [c for text in args.static_features or [] for c in text.split(",") if c]
    if args.wide:  # converted to a long table with these two columns (panel.wide_to_long)
        layout = dict(id_column="series", target="value", wide=True, series_columns=list(args.target or []))
    else:
        layout = dict(id_column=args.id_column, target=args.target[0])
    time_column = args.time_column or _guess_time_column(args.data, [*(args.target or []), args.id_column, *future])
    return GlobalConfig(**layout, time_column=time_column, skip_short=bool(args.skip_short),
                        future_features=future, calendar=bool(args.calendar), static_features=static,
                        per_series_baseline=bool(args.per_series_baseline),
                        **({} if args.ets_baseline is None else {"ets_baseline": args.ets_baseline}), **values)


def run_train_global(args) -> int:
    from lstmkit.tasks.forecast import train_run
    from lstmkit.tasks.forecast.global_model import GlobalForecaster

    config = _global_config(args)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "forecast")
    result = train_run(GlobalForecaster(config), existing_file(args.data), out, resume=args.resume, progress=True)
    print_choices(result["split"])
    split = result["split"]
    print(f"{split['series']} series, one model; test part: the last {split['horizon']} values of each"
          + (f"; skipped {len(split['skipped'])} short series: {', '.join(split['skipped'][:5])}"
             if split["skipped"] else ""))
    if split.get("covariates") or split.get("static_features"):
        print("the network reads " + "; ".join(
            f"{what}: {', '.join(split[key])}" for key, what in (("covariates", "future-known features"),
                                                                 ("static_features", "static features"))
            if split.get(key)))
    chosen = split.get("combination", "lstm")
    scores = split.get("validation_smape") or {}
    if scores:
        print("forecast: " + chosen + ", the lowest validation sMAPE of "
              + ", ".join(f"{name} {value:.2f}" for name, value in scores.items()))
    print(f"{'':32}{'sMAPE':>10}{'MASE':>10}{'OWA':>10}")
    label = "LSTM (global)" if chosen == "lstm" else f"forecast ({chosen})"
    for name, metrics in [(label, result["model"]), *result["baselines"].items()]:
        print(f"{name:32}{metrics['smape']:>10.3f}{metrics['mase']:>10.3f}{metrics['owa']:>10.3f}")
    if not split.get("ets_baseline"):
        print("no ETS baseline: " + ("statsmodels is not installed (pip install 'lstmkit[data]')"
                                     if config.ets_baseline else "--no-ets-baseline"))
    if split.get("per_series"):
        short = split["per_series"]["too_short (seasonal naive instead)"]
        print("per_series: the single-series forecaster trained on each series alone (per_series_lstm: its LSTM "
              "alone)" + (f"; {short} series were too short for its windows and got seasonal naive" if short else ""))
    print(f"run directory: {out}  (metrics.json, metrics_by_series.csv, forecasts.csv, forecast.png, "
          "model.safetensors)")
    return 0


def _is_global(directory) -> bool:
    import json
    from pathlib import Path

    try:
        saved = json.loads((Path(directory) / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return (saved.get("task") or {}).get("name") == "forecast-global"


def run_predict_global(args) -> int:
    from lstmkit.tasks.forecast.global_model import GlobalForecaster

    if getattr(args, "fill", None) or getattr(args, "sort", None):
        raise UsageError(f"--{'fill' if args.fill else 'sort'} is not supported for a model trained with --id-column "
                         "(its rows are ordered by the time column within each series)")
    forecaster = GlobalForecaster.load(model_dir(args.model))
    if getattr(args, "quantize", None):  # the network as an int8 ONNX graph, as for one series
        if forecaster.state.conditioned:
            raise UsageError("--quantize int8 runs the network as an ONNX graph, and a model trained with covariates "
                             "or static features (--future-features, --calendar, --static-features) has no ONNX "
                             "export yet; predict without --quantize")
        from lstmkit.export.runtime import use_int8

        use_int8(forecaster, model_dir(args.model))
    if args.skip_short:
        forecaster.config = dataclasses.replace(forecaster.config, skip_short=True)
    frame = forecaster.predict(existing_file(args.data), ids=args.ids)
    return _write_forecasts(frame, args.out, f" ({frame['series'].nunique()} series)")


def run_predict(args) -> int:
    from lstmkit.tasks.forecast import Forecaster

    use_threads(args)
    if _is_global(model_dir(args.model)):
        return run_predict_global(args)
    if getattr(args, "ids", None) or getattr(args, "skip_short", None):
        raise UsageError("--ids and --skip-short apply to a model trained with --id-column")
    forecaster = Forecaster.load(model_dir(args.model))
    if args.quantize:  # the network as an int8 ONNX graph; windows, scaling and quantiles stay the same code
        from lstmkit.export.runtime import use_int8

        use_int8(forecaster, model_dir(args.model))
    reading = config_values(args, ["fill", "sort"])
    if reading:  # this table's gaps or order, handled as asked now rather than as in training
        forecaster.config = dataclasses.replace(forecaster.config, **reading)
    frame = forecaster.predict(existing_file(args.data))
    return _write_forecasts(frame, args.out)


def _write_forecasts(frame, out, what: str = "") -> int:
    """The forecast table as CSV to ``out`` (atomically) or to standard output.

    Six significant digits: the model computes in float32, so further digits are noise; times print as
    dates when they fall on midnight (pandas does that for a datetime column)."""
    from lstmkit.files import atomic_write_text

    text = frame.to_csv(index=False, float_format="%.6g")
    if out:
        atomic_write_text(out, text)
        print(f"wrote {len(frame)} forecast rows{what} to {out}")
    else:
        print(text, end="")
    return 0
