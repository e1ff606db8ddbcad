"""``lstmkit anomaly train|detect|watch``: parse arguments into an AnomalyConfig and call the task."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from lstmkit.cli import UsageError, add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("anomaly", help="anomaly detection in sequences, batch and streaming")
    verbs = parser.add_subparsers(dest="verb", metavar="<verb>")

    train = verbs.add_parser("train", help="learn what normal looks like from the first part of a CSV")
    train.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    train.add_argument("--columns", nargs="+", required=True, metavar="COL", help="the column(s) to watch")
    train.add_argument("--time-column", metavar="COL", help="timestamp column (default: none; rows are numbered)")
    train.add_argument("--method", choices=["prediction", "reconstruction"], default="prediction",
                       help="prediction: next-step forecast errors (default, streams in O(1) per step); "
                            "reconstruction: LSTM autoencoder over windows")
    part = train.add_mutually_exclusive_group()
    part.add_argument("--train-fraction", type=float, default=0.5, metavar="F",
                      help="leading share of the rows assumed normal and trained on (default 0.5)")
    part.add_argument("--train-until", metavar="ROW_OR_TIME",
                      help="train on the rows before this row number (or time, with --time-column)")
    train.add_argument("--transform", choices=["none", "diff", "logdiff"], default="none",
                       help="model first differences (trending series) or log returns (prices)")
    train.add_argument("--window", type=int, default=32, help="reconstruction window width (default 32)")
    train.add_argument("--hidden-size", type=int, default=32)
    train.add_argument("--smoothing-span", type=float, default=5.0, help="EWMA span of the error smoothing (default 5)")
    train.add_argument("--min-decrease", type=float, default=0.13,
                       help="pruning: minimum relative drop between anomaly peaks (Hundman's p, default 0.13)")
    train.add_argument("--fill", choices=["ffill", "interpolate"], help="fill missing values and time gaps")
    train.add_argument("--sort", action="store_true", help="sort rows by time instead of refusing")
    add_common_options(train)
    train.set_defaults(run=run_train)

    detect = verbs.add_parser("detect", help="score a CSV with a trained detector: scores, intervals, metrics")
    detect.add_argument("data", metavar="DATA.csv")
    detect.add_argument("--model", required=True, metavar="DIR", help="run directory of `anomaly train`")
    detect.add_argument("--labels", metavar="COL", help="0/1 column of known anomalies: writes event metrics")
    detect.add_argument("--eval-from", metavar="ROW_OR_TIME",
                        help="compute metrics on rows from here on (e.g. after the training part); default all")
    add_common_options(detect, seed=False, epochs=False)
    detect.set_defaults(run=run_detect)

    watch = verbs.add_parser("watch", help="score a live feed: one line of values per step on standard input")
    watch.add_argument("--model", required=True, metavar="DIR", help="run directory of `anomaly train`")
    watch.set_defaults(run=run_watch)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _out(args, task: str) -> Path:
    return Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def _threads(args, hidden_size: int = 32) -> None:
    from lstmkit.runtime import set_num_threads

    threads = getattr(args, "threads", "auto")
    set_num_threads(int(threads) if str(threads).isdigit() else "auto", hidden_size=hidden_size)


def _require_file(path: str) -> None:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no such file")


def run_train(args) -> int:
    from lstmkit.tasks.anomaly import AnomalyConfig, train_run

    _require_file(args.data)
    values = dict(columns=args.columns, time_column=args.time_column, method=args.method,
                  train_fraction=args.train_fraction, train_until=args.train_until, transform=args.transform,
                  window=args.window, hidden_size=args.hidden_size, smoothing_span=args.smoothing_span,
                  min_decrease=args.min_decrease, fill=args.fill, sort=args.sort, seed=args.seed)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    config = AnomalyConfig(**values)
    _threads(args, config.hidden_size)
    out = _out(args, "anomaly")
    result = train_run(config, args.data, out)
    split, threshold = result["split"], result["threshold"]
    print(f"trained on rows {split['fit'][0]}-{split['fit'][1] - 1}, calibrated on rows {split['calibration'][0]}-"
          f"{split['calibration'][1] - 1} ({result['epochs']} epochs)")
    print(f"threshold: epsilon {threshold['epsilon']:.4g} (mean + {threshold['z']:g} sd), trigger "
          f"{threshold['trigger']:.4g}")
    print(f"run directory: {out}  (config.json, model.safetensors, history.csv)")
    return 0


def run_detect(args) -> int:
    from lstmkit.tasks.anomaly import detect_run

    _threads(args)
    _require_file(args.data)
    out = _out(args, "anomaly-detect")
    result = detect_run(args.model, args.data, out, labels=args.labels, eval_from=args.eval_from)
    scores = result["scores"]
    flagged = int(scores["is_anomaly"].sum())
    print(f"{flagged} of {len(scores)} points flagged, in {len(result['anomalies'])} interval(s)")
    metrics = result["metrics"]
    if metrics is not None:
        print(f"{'':24}{'precision':>10}{'recall':>10}{'F1':>10}{'events':>8}{'false +':>9}")
        rows = [("LSTM (lstmkit)", metrics["model"])] + list(metrics["baselines"].items())
        for name, m in rows:
            cells = "".join(f"{m[k]:>10.3f}" if m[k] is not None else f"{'-':>10}"
                            for k in ("precision", "recall", "f1"))
            print(f"{name:24}{cells}{m['events']:>8}{m['false_positives']:>9}")
    print(f"output: {out}  (scores.csv, anomalies.csv, anomalies.png" + (", metrics.json)" if metrics else ")"))
    return 0


def run_watch(args) -> int:
    from lstmkit.runtime import set_num_threads
    from lstmkit.tasks.anomaly import AnomalyDetector, watch

    set_num_threads(1)  # one step at a time: a second thread only adds synchronisation
    detector = AnomalyDetector.load(args.model)
    if sys.stdin is None:
        raise UsageError("watch reads standard input, but there is none")
    watch(detector, sys.stdin, sys.stdout, sys.stderr)
    return 0
