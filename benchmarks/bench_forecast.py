"""Forecasting on real data sets, with the defaults a user gets: test MASE of lstmkit vs the baselines.

Protocol (the one the peers in issue 5 were measured on): time split 70/15/15, every test window of
the test part with stride 1, horizon 7 days for daily data and 12 months for monthly data, MASE
scaled by the training part's seasonal-naive error (season 365 for the weather, 12 for the monthly
sets, 5 for the business-daily stock). Baselines are computed on the same windows.

    python benchmarks/bench_forecast.py [--sets weather wine air aapl] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from lstmkit.data.datasets import load_dataset
from lstmkit.tasks.forecast import ForecastConfig, Forecaster

# Published peers, measured on this machine on the same protocol (issue 5): test MASE.
PEERS = {
    "weather": {"Darts RNNModel": 0.729, "Darts BlockRNN": 0.829, "NeuralForecast LSTM": 0.830},
    "wine": {"SARIMA": 1.147, "ETS": 1.015, "Darts RNNModel": 2.264, "Darts BlockRNN": 2.130,
             "NeuralForecast LSTM (tuned)": 1.057},
    "air": {"SARIMA": 0.497, "ETS": 0.841, "Darts RNNModel": 4.359, "Darts BlockRNN": 3.104,
            "NeuralForecast LSTM (tuned)": 0.765},
}


def data_sets():
    stocks = load_dataset("stocks", symbol="AAPL")[["date", "close"]]
    return {
        "weather": (load_dataset("seattle_weather"), dict(targets=["temp_max"], time_column="date")),
        "wine": (load_dataset("wineind"), dict(targets=["sales"], time_column="date")),
        "air": (load_dataset("airpassengers"), dict(targets=["passengers"], time_column="date")),
        # trading days: a business-day grid, holidays carried forward (causal)
        "aapl": (stocks, dict(targets=["close"], time_column="date", fill="ffill")),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="+", default=["weather", "wine", "air", "aapl"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--config", type=json.loads, default={}, metavar="JSON",
                        help='ForecastConfig fields to change, e.g. \'{"patience": 20}\' (default: the defaults)')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sets = data_sets()
    print(f"{'data':8} {'seed':>4} {'lstmkit':>7} {'alone':>7} {'naive':>7} {'s.naive':>7} {'ets':>7} {'ar':>7} {'windows':>7} {'epochs':>6} {'secs':>5}  chosen")
    summary = {}
    for name in args.sets:
        frame, options = sets[name]
        scores, alone = [], []
        for seed in args.seeds:
            t0 = time.perf_counter()
            forecaster = Forecaster(ForecastConfig(**options, **args.config, seed=seed)).fit(frame)
            result = forecaster.evaluate(frame)
            seconds = time.perf_counter() - t0
            b = result["baselines"]
            scores.append(result["model"]["mase"])
            alone.append(b["lstm_alone"]["mase"])
            print(f"{name:8} {seed:>4} {result['model']['mase']:7.3f} {alone[-1]:7.3f} {b['naive']['mase']:7.3f} "
                  f"{b['seasonal_naive']['mase']:7.3f} {b.get('ets', {}).get('mase', float('nan')):7.3f} "
                  f"{b['ar']['mase']:7.3f} {result['split']['test_windows']:>7} {len(forecaster.history):>6} {seconds:5.0f}  {result['choice'].get('forecast', 'lstm')}", flush=True)
        summary[name] = (statistics.mean(scores), min(scores), max(scores), {**b, "ar_order": result["split"]["ar_order"]},
                         (statistics.mean(alone), min(alone), max(alone)))
    print("\nmean test MASE over seeds (min-max), against the baselines and the peers of issue 5:")
    for name, (mean, low, high, b, lstm) in summary.items():
        peers = ", ".join(f"{k} {v:.3f}" for k, v in PEERS.get(name, {}).items())
        print(f"  {name:8} lstmkit {mean:.3f} ({low:.3f}-{high:.3f}), LSTM alone {lstm[0]:.3f} ({lstm[1]:.3f}-"
              f"{lstm[2]:.3f}); seasonal naive "
              f"{b['seasonal_naive']['mase']:.3f}, naive {b['naive']['mase']:.3f}, "
              f"AR({b['ar_order']}) {b['ar']['mase']:.3f}"
              + (f"; {peers}" if peers else ""))


if __name__ == "__main__":
    main()
