"""Where a single-series forecaster fit spends its time: wall, CPU (user + sys) and minor page faults.

Two jobs on one thread (torch's and NumPy's BLAS: ``lstmkit.runtime.set_num_threads(1)``), measured in
this process with ``resource.getrusage`` around each phase:

* ``demo``: what ``make demo`` runs (``lstmkit demo``): Seattle's daily temp_max, the forecaster's
  defaults (a 3-member ensemble, up to 300 epochs, stopping 11 epochs after the best: 200 steps'
  worth), trained into a run directory (checkpoints, history), then evaluated against the baselines;
* ``halfhourly``: issue 14's lead, a generated 4,000-row half-hourly demand series with a daily (48)
  and a weekly (336) season, input width 96, horizon 48, season 336, the defaults otherwise.

Phases (a phase's time includes the phases listed under it):

* ``fit``: reading, preprocessing, windows, training, saving; ``training`` is the Trainer alone, of
  which ``steps`` are the optimiser steps (the ensemble's forward and backward, clipping, AdamW),
  ``validation`` the per-epoch validation loss and ``checkpoints`` the run directory's files;
  ``preparation`` is the rest of fit (reading, preprocessing, windows, saving, and ``choice``:
  choosing the forecast on the validation part, which fits the baselines there);
* ``evaluate``: the test part's forecasts, the baselines, the files and plot;
* ``ets``, ``ar``, ``mstl``: the baselines, summed over both parts (``calls``: one a part), the first
  call with its import (statsmodels for ETS and MSTL).

Minor page faults count pages the kernel had to map afresh: memory the allocator had handed back to
the system and asked for again. ``--profile`` adds cProfile's top functions per job. Run it with
``PYTHONPATH=<another checkout>/src`` to measure another version on the same jobs.

    python benchmarks/profile_forecast_fit.py [--jobs demo halfhourly] [--epochs N] [--fit-only] [--profile]
                                              [--config JSON]
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def half_hourly_series(rows: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Demand-like series every 30 minutes: level + daily and weekly profiles + AR(1) noise, all > 0."""
    rng = np.random.default_rng(seed)
    t = np.arange(rows)
    daily = 10 * np.sin(2 * np.pi * t / 48) + 4 * np.sin(4 * np.pi * t / 48 + 1.0)
    weekly = 6 * np.sin(2 * np.pi * t / 336) + 8 * (((t // 48) % 7) >= 5)  # weekend step
    noise = np.zeros(rows)
    shocks = rng.normal(0, 2.0, rows)
    for i in range(1, rows):
        noise[i] = 0.7 * noise[i - 1] + shocks[i]
    demand = 100 + 0.002 * t + daily + weekly + noise
    return pd.DataFrame({"time": pd.date_range("2024-01-01", periods=rows, freq="30min"), "demand": demand})


def jobs(epochs: int | None, changes: dict | None = None):
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks.forecast import ForecastConfig

    extra = {**(changes or {}), **({} if epochs is None else {"epochs": epochs})}  # over each job's own fields
    demo = dict(targets=["temp_max"], time_column="date")
    halfhourly = dict(targets=["demand"], time_column="time", input_width=96, horizon=48, season=336)
    return {
        "demo": (load_dataset("seattle_weather"), ForecastConfig(**{**demo, **extra})),
        "halfhourly": (half_hourly_series(), ForecastConfig(**{**halfhourly, **extra})),
    }


class Meter:
    """Wall time, user and system CPU time and minor page faults of this process, summed over every
    ``with meter:`` block (a function called many times adds up)."""

    def __init__(self):
        self.wall = self.user = self.sys = 0.0
        self.faults = self.calls = 0

    def __enter__(self):
        self._start = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc):
        wall0, ru0 = self._start
        ru = resource.getrusage(resource.RUSAGE_SELF)
        self.wall += time.perf_counter() - wall0
        self.user += ru.ru_utime - ru0.ru_utime
        self.sys += ru.ru_stime - ru0.ru_stime
        self.faults += ru.ru_minflt - ru0.ru_minflt
        self.calls += 1

    def line(self, name: str) -> str:
        return (f"  {name:16} wall {self.wall:7.2f} s   user {self.user:7.2f} s   sys {self.sys:6.2f} s   "
                f"cpu {self.user + self.sys:7.2f} s   minor faults {self.faults:>10,}   calls {self.calls:>5}")


class Phases:
    """Meters around functions looked up at call time (``owner.name``), put back by :meth:`restore`."""

    def __init__(self):
        self.meters: dict[str, Meter] = {}
        self._originals = []

    def wrap(self, owner, name: str, label: str) -> None:
        original = getattr(owner, name)
        meter = self.meters.setdefault(label, Meter())

        def timed(*args, **kwargs):
            with meter:
                return original(*args, **kwargs)

        self._originals.append((owner, name, original))
        setattr(owner, name, timed)

    def restore(self) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals.clear()


def run_job(name: str, frame, config, profile: bool, fit_only: bool = False) -> None:
    import lstmkit.train.trainer as trainer_module
    from lstmkit.files import write_json
    from lstmkit.tasks.forecast import Forecaster, baselines

    phases = Phases()
    phases.wrap(Forecaster, "train_model", "training")
    phases.wrap(trainer_module.Trainer, "_train_batch", "steps")
    phases.wrap(trainer_module, "evaluate", "validation")
    phases.wrap(trainer_module.Trainer, "_checkpoint", "checkpoints")
    phases.wrap(baselines, "ets_forecast", "ets")
    phases.wrap(baselines, "ar_forecast", "ar")
    try:
        from lstmkit.tasks.forecast import candidates
    except ImportError:  # an older checkout (PYTHONPATH=...), from before the choice on validation
        candidates = None
    if candidates is not None:
        phases.wrap(candidates, "choose_forecast", "choice")
        phases.wrap(candidates, "mstl_forecast", "mstl")
    profiler = cProfile.Profile() if profile else None
    fit, evaluate, total = Meter(), Meter(), Meter()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / name
            app = Forecaster(config)
            if profiler:
                profiler.enable()
            with total:  # the steps of lstmkit.tasks.base.train_run
                with fit:
                    app.check_input(frame)
                    app.fit(frame, run_dir=out)
                    app.save(out)
                if not fit_only:
                    with evaluate:
                        result = app.evaluate(frame)
                        result["epochs"] = len(app.history)
                        app.write_results(out, result, frame)
                        write_json(out / "metrics.json", result)
            if profiler:
                profiler.disable()
    finally:
        phases.restore()
    m = phases.meters
    best = 1 + min(range(len(app.history)), key=lambda i: app.history[i]["val_loss"])
    print(f"{name}: {len(app.history)} epochs (best: {best})" + ("" if fit_only else
          f", test MASE {result['model']['mase']:.4f} (baselines: "
          + ", ".join(f"{k} {v['mase']:.3f}" for k, v in result["baselines"].items()) + ")"))
    preparation = Meter()
    for field in ("wall", "user", "sys", "faults"):
        setattr(preparation, field, getattr(fit, field) - getattr(m["training"], field))
    print(fit.line("fit"))
    print(preparation.line("  preparation"))
    if "choice" in m:
        print(m["choice"].line("    choice"))
    for label in ("training", "steps", "validation", "checkpoints"):
        print(m[label].line(("  " if label == "training" else "    ") + label))
    if not fit_only:
        print(evaluate.line("evaluate"))
    for label in ("ets", "ar", "mstl"):
        if label in m:
            print(m[label].line(label))
    print(total.line("total"))
    if profiler:
        for key in ("cumulative", "tottime"):
            text = io.StringIO()
            pstats.Stats(profiler, stream=text).sort_stats(key).print_stats(30)
            print(f"\n  cProfile, top 30 by {key}:")
            print("\n".join("    " + line for line in text.getvalue().splitlines()[6:] if line.strip()))
    sys.stdout.flush()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", nargs="+", default=["demo", "halfhourly"], choices=["demo", "halfhourly"])
    parser.add_argument("--epochs", type=int, default=None, help="cap the epochs (default: the forecaster's 300)")
    parser.add_argument("--fit-only", action="store_true", help="skip the evaluation (baselines, files, plot)")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions per job")
    parser.add_argument("--config", type=json.loads, default={}, metavar="JSON",
                        help='ForecastConfig fields to change, e.g. \'{"patience": 20}\' (default: the defaults)')
    args = parser.parse_args(argv)
    import lstmkit
    from lstmkit.runtime import set_num_threads

    set_num_threads(1)  # torch's threads and NumPy's BLAS threads, as the command line's --threads 1

    print(f"lstmkit from {Path(lstmkit.__file__).parent}, torch {torch.__version__}, 1 thread")
    table = jobs(args.epochs, args.config)
    for name in args.jobs:
        run_job(name, *table[name], args.profile, args.fit_only)


if __name__ == "__main__":
    main()
