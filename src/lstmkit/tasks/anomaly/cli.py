"""``lstmkit anomaly train|detect|watch``: parse arguments into an AnomalyConfig and call the task."""
from __future__ import annotations

import argparse
import sys

from lstmkit.cli.common import (
    add_config_options, add_model_option, add_quantize_option, add_run_options, add_task, add_verb, run_values,
    existing_file, model_dir, run_dir, use_threads,
)
from lstmkit.errors import UsageError
from lstmkit.tasks.anomaly.config import METHODS, TRANSFORMS, AnomalyConfig
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP

TRAIN_COMMAND = "lstmkit anomaly train"

# The AnomalyConfig fields `train` takes as options, and what each means.
HELP = {
    "columns": "the column(s) to watch",
    "time_column": "timestamp column (default: none; rows are numbered)",
    "method": "prediction: next-step forecast errors (streams in O(1) per step); "
              "reconstruction: LSTM autoencoder over windows",
    "train_fraction": "leading share of the rows assumed normal and trained on",
    "train_until": "train on the rows before this row number (or time, with --time-column)",
    "transform": "model first differences (diff: trending series) or log returns (logdiff: prices)",
    "window": "reconstruction window width",
    "hidden_size": "LSTM hidden units",
    "smoothing_span": "EWMA span of the error smoothing",
    "min_decrease": "pruning: minimum relative drop between anomaly peaks (Hundman's p)",
    "fill": "fill missing values and time gaps (default: refuse them)",
    "sort": "sort rows by time instead of refusing",
    **CELL_HELP,
}
FIELDS = ["columns", "time_column", "method", "transform", "window", "hidden_size", *CELL_FIELDS, "smoothing_span",
          "min_decrease", "fill", "sort"]
PART_FIELDS = ["train_fraction", "train_until"]  # one or the other
CHOICES = {"method": METHODS, "transform": TRANSFORMS, "fill": ("ffill", "interpolate"), **CELL_CHOICES}
FLAGS = {"columns": "--columns"}

WATCH_EPILOG = """\
Input: one line of comma-separated values per time step, in the order of the trained --columns (a
first line naming them, a CSV header, is ignored). Output: one flushed JSON line per step,
{"step": i, "score": s, "is_anomaly": b}, the same numbers `anomaly detect` computes on the same data.

The first steps print "score": null: that is the warm-up (10 steps by default). The LSTM state
starts at zero and needs a few steps to settle (and the first point has no forecast to compare
with), so those points are left unscored, as `detect` leaves them. The reconstruction detector
scores a point once every window holding it has been seen: its first W - 1 lines (W = --window at
training, 32 by default) print "step": null, and each later line scores the point W - 1 steps back.

A malformed line is reported on standard error with its line number and skipped; an empty input ends
the watch with a line on standard error saying that no values were read (exit code 0)."""


def add_parser(sub) -> None:
    verbs = add_task(sub, "anomaly", help="anomaly detection in sequences, batch and streaming")

    train = add_verb(verbs, "train", help="learn what normal looks like from the first part of a CSV")
    train.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    add_config_options(train, AnomalyConfig, FIELDS[:3], help=HELP, flags=FLAGS, choices=CHOICES,
                       required=["columns"])
    add_config_options(train.add_mutually_exclusive_group(), AnomalyConfig, PART_FIELDS, help=HELP)
    add_config_options(train, AnomalyConfig, FIELDS[3:], help=HELP, choices=CHOICES)
    add_run_options(train, resume=True)
    train.set_defaults(run=run_train)

    detect = add_verb(verbs, "detect", help="score a CSV with a trained detector: scores, intervals, metrics")
    detect.add_argument("data", metavar="DATA.csv", help="a CSV file with the trained columns")
    add_model_option(detect, TRAIN_COMMAND)
    detect.add_argument("--labels", metavar="COL", help="0/1 column of known anomalies: writes event metrics")
    detect.add_argument("--eval-from", metavar="ROW_OR_TIME",
                        help="compute metrics on rows from here on (e.g. after the training part); default all")
    add_run_options(detect, seed=False, epochs=False)
    add_quantize_option(detect)
    detect.set_defaults(run=run_detect)

    watch = add_verb(verbs, "watch", help="score a live feed: one line of values per step on standard input",
                     epilog=WATCH_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_model_option(watch, TRAIN_COMMAND)
    watch.set_defaults(run=run_watch)


def run_train(args) -> int:
    from lstmkit.tasks.anomaly.detector import AnomalyDetector
    from lstmkit.tasks.base import train_run

    existing_file(args.data)
    if args.resume and not args.out:
        raise UsageError("--resume needs --out DIR: the directory of the interrupted run")
    config = AnomalyConfig(**run_values(args, FIELDS + PART_FIELDS))
    use_threads(args, config.hidden_size)
    out = run_dir(args, "anomaly")
    result = train_run(AnomalyDetector(config), args.data, out, resume=args.resume, progress=True)
    split, threshold = result["split"], result["model"]
    print(f"trained on rows {split['fit'][0]}-{split['fit'][1] - 1}, calibrated on rows {split['calibration'][0]}-"
          f"{split['calibration'][1] - 1} ({result['epochs']} epochs)")
    print(f"threshold: epsilon {threshold['epsilon']:.4g} (mean + {threshold['z']:g} sd), trigger "
          f"{threshold['trigger']:.4g}")
    print(f"run directory: {out}  (config.json, model.safetensors, history.csv)")
    return 0


def run_detect(args) -> int:
    from lstmkit.tasks.anomaly.run import detect_run

    use_threads(args)
    existing_file(args.data)
    model = model_dir(args.model)
    out = run_dir(args, "anomaly-detect")
    result = detect_run(model, args.data, out, labels=args.labels, eval_from=args.eval_from, quantize=args.quantize)
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
    """See ``WATCH_EPILOG`` (``lstmkit anomaly watch --help``): the first steps print ``"score": null``."""
    from lstmkit.runtime import set_num_threads
    from lstmkit.tasks.anomaly.detector import AnomalyDetector
    from lstmkit.tasks.anomaly.run import watch

    set_num_threads(1)  # one step at a time: a second thread only adds synchronisation
    detector = AnomalyDetector.load(model_dir(args.model))
    if sys.stdin is None:
        raise UsageError("watch reads standard input, but there is none")
    watch(detector, sys.stdin, sys.stdout, sys.stderr)
    return 0
