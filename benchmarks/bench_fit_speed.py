"""How long a single-series fit takes: lstmkit's forecaster with its defaults next to Darts' RNNModel
(an LSTM) with its defaults, on the same split, one thread each, measured in this run.

* ``weather``: what ``make demo`` fits (Seattle's daily temp_max, horizon 7, split 70/15/15);
* ``taylor``: pmdarima's 12 weeks of half-hourly electricity demand (4,032 values), a day ahead
  (horizon 48), season 336 (a week), input width 96.

lstmkit: ``Forecaster(ForecastConfig(...)).fit`` then ``evaluate`` (3 LSTMs, early stopping on the
validation part, the forecast chosen among the LSTM and the baselines). Darts: ``RNNModel(model="LSTM",
input_chunk_length=W, training_length=W + K)`` with the rest of its defaults (100 epochs, hidden size
25, batch 32, Adam 1e-3, no early stopping), trained on everything before the test part after Darts'
own ``Scaler`` (min-max, fitted on that part), then ``historical_forecasts`` over the test part with
``retrain=False``. Both are scored on the same windows (every window whose horizon lies in the test
part), MASE scaled by the training part's seasonal naive error (season 365 for the weather, 336 for
the demand). Times are CPU seconds (``time.process_time``, this process, one thread) and wall seconds;
imports are timed apart. Darts is not a dependency of lstmkit: install it (``pip install darts``)
into the environment that runs this script, or only lstmkit is measured.

    python benchmarks/bench_fit_speed.py [--sets weather taylor] [--seeds 0 1 2] [--no-darts]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

t_import = time.process_time()
import numpy as np  # noqa: E402

from lstmkit.data.datasets import load_dataset  # noqa: E402
from lstmkit.metrics.forecast import forecast_metrics, mase_scale  # noqa: E402
from lstmkit.runtime import set_num_threads  # noqa: E402
from lstmkit.tasks.forecast import ForecastConfig, Forecaster  # noqa: E402

IMPORT_SECONDS = time.process_time() - t_import
sys.path.insert(0, str(Path(__file__).parent))  # the sibling benchmark's data, also under run_all.py's runpy
import bench_first_try  # noqa: E402


def weather():
    return load_dataset("seattle_weather"), ForecastConfig(targets=["temp_max"], time_column="date")


def taylor():
    frame, config, _ = bench_first_try.taylor()  # horizon 48, season 336
    return frame, config


SETS = {"weather": weather, "taylor": taylor}


def clock():
    return time.process_time(), time.perf_counter()


def since(start) -> tuple[float, float]:
    cpu, wall = clock()
    return cpu - start[0], wall - start[1]


def run_lstmkit(frame, config, seed):
    start = clock()
    forecaster = Forecaster(ForecastConfig(**{**config.to_dict(), "seed": seed})).fit(frame)
    fit = since(start)
    start = clock()
    result = forecaster.evaluate(frame)
    evaluate = since(start)
    state = forecaster.state
    return {"fit": fit, "evaluate": evaluate, "mase": result["model"]["mase"], "windows": result["split"]["test_windows"],
            "epochs": len(forecaster.history), "W": state.input_width, "K": state.horizon, "season": state.season}


def run_darts(frame, config, seed, width, horizon, season, windows):
    """Darts' RNNModel on the same split; ``windows``: how many test windows lstmkit scored (checked)."""
    from darts import TimeSeries
    from darts.dataprocessing.transformers import Scaler
    from darts.models import RNNModel

    values = frame[config.targets[0]].to_numpy(dtype=float)
    split = config.split(len(values))
    test_start = split.test.start
    series = TimeSeries.from_values(values.astype(np.float32))
    scaler = Scaler()
    start = clock()
    scaler.fit(series[:test_start])
    model = RNNModel(model="LSTM", input_chunk_length=width, training_length=width + horizon, random_state=seed,
                     pl_trainer_kwargs={"accelerator": "cpu", "enable_progress_bar": False,
                                        "enable_model_summary": False, "logger": False})
    model.fit(scaler.transform(series[:test_start]), verbose=False)
    fit = since(start)
    start = clock()
    forecasts = model.historical_forecasts(scaler.transform(series), start=test_start, forecast_horizon=horizon,
                                           stride=1, retrain=False, last_points_only=False, overlap_end=False,
                                           verbose=False)
    pred = np.stack([scaler.inverse_transform(f).values()[:, 0] for f in forecasts])  # (windows, K)
    evaluate = since(start)
    # The first forecast starts at test_start and the last ends at the last row: lstmkit's test windows.
    if len(pred) != windows or forecasts[0].start_time() != test_start:
        raise RuntimeError(f"Darts forecast {len(pred)} windows from row {forecasts[0].start_time()}, lstmkit "
                           f"{windows} from row {test_start}: not the same windows")
    origins = test_start + np.arange(len(pred))
    truth = values[origins[:, None] + np.arange(horizon)[None, :]]
    scale = mase_scale(values[:split.train.stop, None], season)
    mase = forecast_metrics(truth[..., None], pred[..., None], scale)["mase"]
    return {"fit": fit, "evaluate": evaluate, "mase": mase, "windows": len(pred), "epochs": 100}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--no-darts", action="store_true", help="measure lstmkit alone")
    args = parser.parse_args(argv)
    set_num_threads(1)  # torch's threads and NumPy's BLAS threads
    use_darts = not args.no_darts
    if use_darts:
        start = clock()
        try:
            import darts.models  # noqa: F401
        except Exception as error:  # not installed, or an install that does not import: measure lstmkit alone
            print(f"Darts does not import here ({type(error).__name__}: {error}; pip install darts): lstmkit alone")
            use_darts = False
        else:
            print(f"imports: torch, NumPy and lstmkit {IMPORT_SECONDS:.1f} s CPU, then Darts {since(start)[0]:.1f} s CPU")
        set_num_threads(1)  # in case an import changed it
    print(f"{'set':8} {'seed':>4} {'who':8} {'fit cpu':>8} {'fit wall':>8} {'eval cpu':>8} {'epochs':>6} {'windows':>7} {'MASE':>7}")
    summary = {}
    for name in args.sets:
        frame, config = SETS[name]()
        for seed in args.seeds:
            ours = run_lstmkit(frame, config, seed)
            rows = {"lstmkit": ours}
            if use_darts:
                rows["Darts"] = run_darts(frame, config, seed, ours["W"], ours["K"], ours["season"], ours["windows"])
            for who, r in rows.items():
                summary.setdefault((name, who), []).append(r)
                print(f"{name:8} {seed:>4} {who:8} {r['fit'][0]:8.1f} {r['fit'][1]:8.1f} {r['evaluate'][0]:8.1f} "
                      f"{r['epochs']:>6} {r['windows']:>7} {r['mase']:7.3f}", flush=True)
    print("\nmean over seeds: fit CPU s, fit + forecasting the test part CPU s, test MASE")
    for name in args.sets:
        ours = summary[(name, "lstmkit")]
        line = (f"  {name:8} lstmkit fit {statistics.mean(r['fit'][0] for r in ours):6.1f}, with test "
                f"{statistics.mean(r['fit'][0] + r['evaluate'][0] for r in ours):6.1f}, MASE "
                f"{statistics.mean(r['mase'] for r in ours):.3f}")
        if (name, "Darts") in summary:
            peer = summary[(name, "Darts")]
            ratio = statistics.mean(r["fit"][0] for r in peer) / statistics.mean(r["fit"][0] for r in ours)
            line += (f" | Darts RNNModel fit {statistics.mean(r['fit'][0] for r in peer):6.1f}, with test "
                     f"{statistics.mean(r['fit'][0] + r['evaluate'][0] for r in peer):6.1f}, MASE "
                     f"{statistics.mean(r['mase'] for r in peer):.3f} | Darts fit / lstmkit fit {ratio:.2f}")
        print(line)


if __name__ == "__main__":
    main()
