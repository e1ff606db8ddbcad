"""Global LSTM (one model over every series) on the M3/Tourism competitions, next to the benchmarks.

    python benchmarks/bench_global.py                       # M3 monthly, Tourism monthly and quarterly
    python benchmarks/bench_global.py --sets m3-monthly --epochs 8
    python benchmarks/bench_global.py --no-ets             # without the ETS baseline (0.3 s of CPU a series)
    python benchmarks/bench_global.py --no-per-series      # without the single-series forecaster (1-3 s a series)

Protocol: each series' last h values are its test part (the competition's split, ``--test-last h``);
sMAPE (M3's), MASE (scaled on the training part) and OWA against Naive2 per series, averaged over
series (:func:`lstmkit.metrics.forecast.score_collection`). Published anchors, M3 monthly (Makridakis &
Hibon 2000): Theta 13.85, Naive2 16.91 (this repository's Naive2 gives 16.76 on the same data; its
Theta, a numpy re-implementation of R's ``thetaf``, 13.93). The statistical baselines are fitted to
each series alone on the same split (:func:`lstmkit.tasks.forecast.global_eval.statistical_baselines`):
AR(p) with p by AIC, and ETS (statsmodels' damped Holt-Winters, on the log scale of positive series)
unless ``--no-ets``; and the single-series forecaster (``lstmkit forecast train`` on one series, its
defaults) trained on each series alone on the same split, unless ``--no-per-series``
(:mod:`lstmkit.tasks.forecast.per_series`); their CPU seconds are printed. The forecast is chosen on the validation windows
among the network, Theta, AR, ETS and the mean of the network and each (``combine="auto"``); each
candidate's validation sMAPE is printed. Prints a table and writes JSON lines with ``--json``.
"""
from __future__ import annotations

import argparse
import json
import time

import torch

from lstmkit.data import load_dataset
from lstmkit.tasks.forecast.global_model import GlobalConfig, GlobalForecaster

LABELS = {"ar": "AR baseline", "ets": "ETS baseline", "per_series": "per-series forecasters"}
PUBLISHED = {"m3-monthly": {"theta": 13.85, "naive2": 16.91}}


def run(name: str, args) -> dict:
    frame = load_dataset(name)
    h, m = int(frame.attrs["horizon"]), int(frame.attrs["season"])
    config = GlobalConfig(id_column="series", target="value", time_column="time", season=m, test_last=h,
                          epochs=args.epochs, patience=args.patience, hidden_size=args.hidden_size,
                          ensemble=args.ensemble, windows_per_series=args.windows_per_series, seed=args.seed,
                          device="cpu", input_width=args.input_width, ets_baseline=not args.no_ets,
                          per_series_baseline=not args.no_per_series,
                          lr_schedule=None if args.schedule == "none" else args.schedule)
    gf = GlobalForecaster(config)
    start = time.perf_counter()
    gf.fit(frame)
    train_s = time.perf_counter() - start
    start = time.perf_counter()
    result = gf.evaluate(frame)  # forecasts every series plus the baselines
    eval_s = time.perf_counter() - start
    start = time.perf_counter()
    gf.predict(frame)
    predict_s = time.perf_counter() - start
    chosen = result["split"]["combination"]
    baseline_s = result.pop("baseline_cpu_seconds")
    rows = {f"forecast ({chosen})": result["model"], **result["baselines"]}
    print(f"\n{name}: {int(result['model']['series'])} series, h={h}, m={m}, input width {gf.state.input_width}, "
          f"{len(gf.history)} epochs; train {train_s:.0f} s, evaluate (model + baselines) {eval_s:.1f} s, "
          f"predict every series {predict_s:.2f} s, {torch.get_num_threads()} threads; CPU seconds of the "
          + ", ".join(f"{LABELS.get(k, k)} {v:.1f}" for k, v in baseline_s.items()))
    print("validation sMAPE: " + ", ".join(f"{k} {v:.2f}" for k, v in result["split"]["validation_smape"].items())
          + f" -> the forecast is {chosen}")
    print(f"{'':32}{'sMAPE':>8}{'MASE':>8}{'OWA':>8}{'published sMAPE':>17}")
    for label, s in rows.items():
        pub = PUBLISHED.get(name, {}).get(label, "")
        print(f"{label:32}{s['smape']:8.2f}{s['mase']:8.3f}{s['owa']:8.3f}{pub!s:>17}")
    return {"dataset": name, "combination": chosen, "validation_smape": result["split"]["validation_smape"],
            "train_s": train_s, "evaluate_s": eval_s, "predict_s": predict_s,
            "baseline_cpu_s": baseline_s,
            "epochs": len(gf.history), "results": {k: {m_: v[m_] for m_ in ("smape", "mase", "owa")}
                                                   for k, v in rows.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["m3-monthly", "tourism-monthly", "tourism-quarterly"])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--schedule", default="plateau", help="plateau, cosine or none")
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--ensemble", type=int, default=2)
    parser.add_argument("--windows-per-series", type=int, default=8)
    parser.add_argument("--input-width", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ets", action="store_true", help="leave the ETS baseline out (0.1-0.2 s of CPU a series and fit)")
    parser.add_argument("--no-per-series", action="store_true",
                        help="leave out the single-series forecaster trained on every series alone (1-3 s of CPU a "
                             "series: 26 minutes on M3 monthly)")
    # 1 by default: with another job on one of 2 cores, 2 threads ran an epoch >40x slower (spinning)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", metavar="FILE", help="append one JSON line per data set")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")  # one line per epoch
    torch.set_num_threads(args.threads)
    for name in args.sets:
        record = run(name, args)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main()
