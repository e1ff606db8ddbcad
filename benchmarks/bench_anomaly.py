"""Anomaly detection on real series: event precision, recall and F1 of both detectors against a rolling
z-score baseline, and the streaming engine's throughput.

Data (offline, shipped inside packages; `lstmkit datasets list` names each source):
* labelled real series: MIT-BIH ECG excerpt and the Yahoo S5 excerpt (sktime's data files);
* real series with injected, labelled anomalies (2 each of spike, level shift, flat line, noise burst,
  placed at random in the part not trained on, fixed seed): Seattle daily temp_max and GOOG daily close.

Every detector trains on the first part of its series (assumed normal), calibrates its threshold
without labels on the end of that part, and is scored on the rest only (``eval_from``), with event
scoring: an event is found if a flagged point falls inside it; each flagged interval touching no event
is one false positive. Baselines, same rows and same scoring: the rolling z-score (window 30) with its
threshold calibrated exactly like the LSTM's, and the textbook |z| > 3.

The transform is chosen from what is known about each series before looking at labels: differences
for trending series (Yahoo: level and amplitude grow), log returns for a price, none otherwise.

    python benchmarks/bench_anomaly.py [--quick] [--methods prediction reconstruction] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import numpy as np
import pandas as pd
import torch

from lstmkit.data import load_dataset
from lstmkit.metrics.events import runs
from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector, inject_anomalies, parse_line


def data_sets():
    """name -> (frame with columns value and label, training rows, transform)."""
    sets = {}
    mitdb = load_dataset("mitdb")
    sets["mitdb (ECG)"] = (mitdb[["value", "label"]], len(mitdb) // 2, "none")
    yahoo = load_dataset("yahoo")
    sets["yahoo S5"] = (yahoo[["value", "label"]], 400, "diff")
    weather = load_dataset("seattle_weather")
    n = len(weather)
    values, labels = inject_anomalies(weather["temp_max"].to_numpy(), n // 2, n, seed=0)
    sets["seattle temp_max + injected"] = (pd.DataFrame({"value": values, "label": labels}), n // 2, "none")
    goog = load_dataset("stocks", symbol="GOOG")
    n = len(goog)
    values, labels = inject_anomalies(goog["close"].to_numpy(), n // 2, n, seed=0)
    sets["GOOG close + injected"] = (pd.DataFrame({"value": values, "label": labels}), n // 2, "logdiff")
    return sets


def evaluate(frame, n_train, transform, method, seed, epochs):
    cfg = AnomalyConfig(columns=["value"], method=method, train_until=n_train, transform=transform, seed=seed,
                        **({"epochs": epochs} if epochs else {}))
    t0 = time.perf_counter()
    det = AnomalyDetector(cfg).fit(frame)
    fit_s = time.perf_counter() - t0
    result = det.detect(frame, labels="label", eval_from=n_train)
    return result["metrics"], fit_s, len(det.history)


def fmt(m):
    cell = lambda v: "  -  " if v is None else f"{v:.2f}"
    scores = f"{cell(m['precision']):>5} {cell(m['recall']):>5} {cell(m['f1']):>5}"
    return f"{scores} ({m['found']}/{m['events']}, {m['false_positives']} FP)"


def accuracy_table(methods, seeds, epochs):
    sets = data_sets()
    print(f"{'data set':30} {'detector':26} {'prec':>5} {'rec':>5} {'F1':>5}  found/events, false positives")
    for name, (frame, n_train, transform) in sets.items():
        events = len(runs(frame["label"].to_numpy()[n_train:]))
        print(f"--- {name}: {len(frame)} rows, trained on rows < {n_train}, {events} labelled events after; "
              f"transform {transform}")
        baseline = None
        for method in methods:
            f1s = []
            for seed in seeds:
                metrics, fit_s, ep = evaluate(frame, n_train, transform, method, seed, epochs)
                f1s.append(metrics["model"]["f1"] or 0.0)
                print(f"{'':30} {'LSTM ' + method + f' (seed {seed})':26} {fmt(metrics['model'])}   "
                      f"[{ep} epochs, {fit_s:.0f} s]", flush=True)
                baseline = metrics["baselines"]
            if len(seeds) > 1:
                print(f"{'':30} {'  mean F1 over seeds':26} {statistics.mean(f1s):>17.2f}")
        print(f"{'':30} {'rolling z-score (calib.)':26} {fmt(baseline['rolling_zscore'])}")
        print(f"{'':30} {'rolling z-score |z|>3':26} {fmt(baseline['rolling_zscore_3sigma'])}")


def streaming_table(reps: int):
    """One watch step of the prediction detector against torch.nn.LSTM called on a length-1 sequence."""
    torch.set_num_threads(1)
    weather = load_dataset("seattle_weather")
    det = AnomalyDetector(AnomalyConfig(columns=["temp_max"], epochs=3)).fit(weather[["temp_max"]])
    values = weather["temp_max"].to_numpy()
    lines = [f"{v}\n" for v in values]
    H = det.config.hidden_size
    lstm = torch.nn.LSTM(1, H, batch_first=True).eval()
    head = torch.nn.Linear(H, 1)
    xs = [torch.tensor([[[float(v)]]]) for v in values]

    def ours_update():
        stream = det.stream()
        for v in values:
            stream.update((v,))

    def ours_line():
        stream = det.stream()
        for line in lines:
            json.dumps(stream.update(parse_line(line, 1)))

    def torch_loop():
        state = None
        with torch.no_grad():
            for x in xs:
                out, state = lstm(x, state)
                head(out)

    streamer = det.model.lstm.streamer(1)
    rows = [np.array([[float(v)]], dtype=np.float32) for v in values]

    def streamer_only():
        streamer.reset()
        for x in rows:
            streamer.step(x)

    fns = {"torch.nn.LSTM seq-len-1 + Linear": torch_loop, "LSTM.streamer step alone": streamer_only,
           "lstmkit watch step (update)": ours_update, "lstmkit watch step (parse+update+json)": ours_line}
    samples = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(reps):  # A, B, C, A, B, C, ...
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - t0) / len(values))
    base = statistics.median(samples["torch.nn.LSTM seq-len-1 + Linear"])
    print(f"\nstreaming, batch 1, H = {H}, one thread, {len(values)} steps per run, median of {reps} runs (alternated)")
    for name, times in samples.items():
        t = statistics.median(times)
        print(f"  {name:42} {t * 1e6:7.1f} us/step  {1 / t:9.0f} steps/s  ({base / t:.1f}x torch)")
    print("  (the watch step includes scaling, the LSTM (float64), the head, the error, smoothing and the\n"
          "   threshold; the torch loop is the LSTM and the head alone, float32)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="prediction only, one seed, 30 epochs")
    parser.add_argument("--methods", nargs="+", default=["prediction", "reconstruction"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.quick:
        args.methods, args.seeds, args.epochs = ["prediction"], [0], 30
    if not args.no_accuracy:
        accuracy_table(args.methods, args.seeds, args.epochs)
    streaming_table(args.reps)


if __name__ == "__main__":
    sys.exit(main())
