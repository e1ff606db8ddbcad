"""``lstmkit forecast train|predict|backtest``: parse arguments into a ForecastConfig and call the task."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from lstmkit.cli import UsageError, add_common_options

TIME_COLUMN_NAMES = ("date", "time", "timestamp", "datetime", "ds", "month", "day", "week", "period")


def add_parser(sub) -> None:
    parser = sub.add_parser("forecast", help="time-series forecasting with an LSTM")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")

    train = verbs.add_parser("train", help="fit on a CSV, evaluate on its last part, write a run directory")
    _add_data_options(train)
    train.add_argument("--resume", action="store_true", help="continue the interrupted run in --out")
    add_common_options(train)
    train.set_defaults(run=run_train)

    backtest = verbs.add_parser("backtest", help="walk-forward folds: refit before each fold, score it")
    _add_data_options(backtest)
    backtest.add_argument("--folds", type=int, default=3, help="number of folds (default 3)")
    backtest.add_argument("--fold-size", type=int, default=None, help="rows per fold (default: 15%% of the data)")
    add_common_options(backtest)
    backtest.set_defaults(run=run_backtest)

    predict = verbs.add_parser("predict", help="forecast the horizon after the end of a CSV with a saved model")
    predict.add_argument("data", metavar="DATA.csv")
    predict.add_argument("--model", required=True, metavar="DIR", help="run directory of `forecast train`")
    predict.add_argument("--out", metavar="FILE.csv", help="write the forecast here (default: print it)")
    predict.add_argument("--threads", default="auto")
    predict.set_defaults(run=run_predict)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _add_data_options(parser) -> None:
    parser.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    parser.add_argument("--target", action="append", required=True, metavar="COL",
                        help="column to forecast (repeat for several)")
    parser.add_argument("--time-column", metavar="COL",
                        help=f"timestamp column (default: the first column named one of {', '.join(TIME_COLUMN_NAMES)})")
    parser.add_argument("--features", nargs="+", default=[], metavar="COL", help="extra input columns")
    parser.add_argument("--input-width", type=int, help="steps of history per window (default: from the season)")
    parser.add_argument("--horizon", type=int, help="steps to forecast (default: 7 daily, 12 monthly, ...)")
    parser.add_argument("--season", type=int, help="seasonal period in steps (default: from the frequency)")
    parser.add_argument("--quantiles", nargs="+", type=float, default=[0.5], metavar="Q",
                        help="quantiles to forecast, e.g. 0.1 0.5 0.9 (pinball loss; drawn as a band)")
    parser.add_argument("--transform", choices=["auto", "log", "none"], default="auto")
    parser.add_argument("--hidden-size", type=int, default=32)
    parser.add_argument("--ensemble", type=int, default=3, help="LSTMs averaged (default 3)")
    parser.add_argument("--fill", choices=["ffill", "interpolate"], help="fill missing values and gaps")
    parser.add_argument("--sort", action="store_true", help="sort rows by time instead of refusing")


def _config(args):
    from lstmkit.tasks.forecasting import ForecastConfig

    time_column = args.time_column or _guess_time_column(args.data, args.target)
    values = dict(targets=args.target, time_column=time_column, features=args.features,
                  input_width=args.input_width, horizon=args.horizon, season=args.season,
                  quantiles=args.quantiles, transform=args.transform, hidden_size=args.hidden_size,
                  ensemble=args.ensemble, fill=args.fill, sort=args.sort, seed=args.seed)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    return ForecastConfig(**values)


def _guess_time_column(path: str, targets: list[str]) -> str | None:
    import pandas as pd

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        header = pd.read_csv(path, nrows=0).columns
    except pd.errors.EmptyDataError:
        raise UsageError(f"{path}: the file is empty") from None
    for name in header:
        if str(name).strip().lower() in TIME_COLUMN_NAMES and name not in targets:
            return name
    return None


def _threads(args, hidden_size: int = 32) -> None:
    from lstmkit.runtime import set_num_threads

    set_num_threads(int(args.threads) if str(args.threads).isdigit() else "auto", hidden_size=hidden_size)


def _out(args, task: str) -> Path:
    return Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def print_metrics(result: dict, file=None) -> None:
    """The model and the baselines side by side, one row each."""
    file = file or sys.stdout
    names = [k for k in ("mae", "rmse", "smape", "mase") if k in result["model"]]
    print(f"{'':16}" + "".join(f"{n:>10}" for n in names), file=file)
    rows = [("LSTM (lstmkit)", result["model"])] + list(result["baselines"].items())
    for name, metrics in rows:
        print(f"{name:16}" + "".join(f"{metrics[n]:>10.3f}" for n in names), file=file)


def run_train(args) -> int:
    from lstmkit.tasks.forecasting import train_run

    config = _config(args)
    _threads(args, config.hidden_size)
    out = _out(args, "forecast")
    result = train_run(config, args.data, out, resume=args.resume)
    split = result["split"]
    print(f"test part: rows {split['test'][0]}-{split['test'][1] - 1}, {split['test_windows']} windows, "
          f"horizon {split['horizon']}, season {split['season']}")
    print_metrics(result)
    print(f"run directory: {out}  (forecast.png, forecast.csv, metrics.json, model.safetensors)")
    return 0


def run_backtest(args) -> int:
    from lstmkit.tasks.forecasting import backtest_run

    config = _config(args)
    _threads(args, config.hidden_size)
    out = _out(args, "backtest")
    result = backtest_run(config, args.data, out, folds=args.folds, fold_size=args.fold_size)
    for fold in result["folds"]:
        print(f"fold {fold['fold']}: rows {fold['test_rows'][0]}-{fold['test_rows'][1] - 1}: model MASE "
              f"{fold['model']['mase']:.3f}, seasonal naive {fold['baselines']['seasonal_naive']['mase']:.3f}")
    print("mean over folds:")
    print_metrics(result)
    print(f"run directory: {out}  (metrics.json, backtest.csv)")
    return 0


def run_predict(args) -> int:
    from lstmkit.tasks.forecasting import Forecaster

    _threads(args)
    if not Path(args.model).is_dir():
        raise FileNotFoundError(f"--model {args.model}: no such directory")
    forecaster = Forecaster.load(args.model)
    frame = forecaster.predict(args.data)
    if args.out:
        from lstmkit.train.checkpoint import atomic_write_text

        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"wrote {len(frame)} forecast rows to {args.out}")
    else:
        print(frame.to_csv(index=False), end="")
    return 0
