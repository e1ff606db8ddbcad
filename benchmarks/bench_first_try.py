"""Issue 14's "never lose to the obvious baseline" series: lstmkit's forecaster with its defaults next
to the model a statistician would try first, on two real series it was never tuned on.

* ``sunspots`` (statsmodels' yearly sunspot numbers, 1700-2008): a long, irregular ~11-year cycle and
  no calendar season; one step ahead, every year of the last 67 is a test window; MSE.
* ``taylor`` (pmdarima's ``load_taylor``: 12 weeks of half-hourly electricity demand, 4,032 values,
  daily and weekly cycles): a day ahead (48 steps), season 336 (a week), split 70/15/15, every test
  window; MASE scaled by the weekly seasonal naive error of the training part.

For each seed the forecaster is fitted with its defaults (3 LSTMs, early stopping, the forecast chosen
on validation among the LSTM, the baselines and their mean); the baselines (AR(p) by AIC, seasonal
naive per season, MSTL, ETS) come out of the same evaluation, on the same windows, and do not depend on
the seed. Prints the mean over seeds and the range, and the fit's CPU seconds.

    python benchmarks/bench_first_try.py [--sets sunspots taylor] [--seeds 0 1 2]
"""
from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pandas as pd
import torch

from lstmkit.tasks.forecast import ForecastConfig, Forecaster


def sunspots():
    import statsmodels.api as sm

    data = sm.datasets.sunspots.load_pandas().data
    frame = pd.DataFrame({"year": pd.to_datetime(data["YEAR"].astype(int).astype(str)),
                          "sunspots": data["SUNACTIVITY"].to_numpy()})
    n, test = len(frame), 67
    val = round(0.15 * n)
    config = ForecastConfig(targets=["sunspots"], time_column="year", horizon=1,
                            train_fraction=(n - test - val) / n, val_fraction=val / n, test_fraction=test / n)
    return frame, config, "mse"


def taylor():
    import pmdarima.datasets

    demand = pmdarima.datasets.load_taylor(as_series=True).to_numpy(dtype=float)
    times = pd.date_range("2000-06-05", periods=len(demand), freq="30min")
    frame = pd.DataFrame({"time": times, "demand": demand})
    config = ForecastConfig(targets=["demand"], time_column="time", horizon=48, season=336)
    return frame, config, "mase"


SETS = {"sunspots": sunspots, "taylor": taylor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--config", type=json.loads, default={}, metavar="JSON",
                        help='ForecastConfig fields to change, e.g. \'{"patience": 20}\' (default: the defaults)')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.sets:
        frame, config, metric = SETS[name]()

        def score(metrics):
            return metrics["rmse"] ** 2 if metric == "mse" else metrics["mase"]

        runs = []
        for seed in args.seeds:
            config.seed = seed
            for key, value in args.config.items():
                setattr(config, key, value)
            start = time.process_time()
            forecaster = Forecaster(config).fit(frame)
            fit_cpu = time.process_time() - start
            result = forecaster.evaluate(frame)
            runs.append({"forecast": score(result["model"]), "choice": result["choice"]["forecast"],
                         "epochs": len(forecaster.history), "fit_cpu": fit_cpu,
                         **{k: score(v) for k, v in result["baselines"].items()}})
            print(f"{name} seed {seed}: forecast ({runs[-1]['choice']}) {metric} {runs[-1]['forecast']:.4g}, "
                  f"LSTM alone {runs[-1]['lstm_alone']:.4g}, {runs[-1]['epochs']} epochs, fit {fit_cpu:.1f} s of CPU",
                  flush=True)
        split = result["split"]
        print(f"\n{name}: {metric} on {split['test_windows']} test windows, horizon {split['horizon']}, season "
              f"{split['season']} (AR order {split.get('ar_order')}), mean over seeds {args.seeds} (min-max)")
        for key in ["forecast", *[k for k in runs[0] if k not in ("forecast", "choice", "epochs", "fit_cpu")]]:
            values = [r[key] for r in runs]
            spread = f" ({min(values):.4g}-{max(values):.4g})" if max(values) > min(values) else ""
            print(f"  {key:24}{statistics.mean(values):10.4g}{spread}")
        print(f"  chosen: {', '.join(r['choice'] for r in runs)}; epochs {[r['epochs'] for r in runs]}; fit CPU s "
              f"{np.round([r['fit_cpu'] for r in runs], 1).tolist()}\n")


if __name__ == "__main__":
    main()
