"""``lstmkit demo``: the main job, forecasting Seattle's daily maximum temperature (bundled real data)."""
from __future__ import annotations

import shutil
from pathlib import Path

from lstmkit.cli import add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("demo", help="forecast Seattle's daily max temperature (bundled data) end to end")
    add_common_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from lstmkit.cli.forecast import _threads, print_metrics
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks.forecasting import ForecastConfig, train_run

    config = ForecastConfig(targets=["temp_max"], time_column="date", seed=args.seed)
    if args.epochs is not None:
        config.epochs = args.epochs
    _threads(args, config.hidden_size)
    out = Path(args.out or "runs/demo")
    if out.exists() and not args.out:
        shutil.rmtree(out)  # the default demo directory is ours to replace; a user's --out never is
    frame = load_dataset("seattle_weather")
    print("Seattle daily weather 2012-2015 (1,461 days, NOAA via vega_datasets): forecasting temp_max "
          "7 days ahead\nfrom the last 56 days; train/validation/test = 70/15/15% in time order ...", flush=True)
    result = train_run(config, frame, out)
    split = result["split"]
    print(f"\ntest part: rows {split['test'][0]}-{split['test'][1] - 1}, {split['test_windows']} forecast windows "
          f"x {split['horizon']} days; MASE below 1 beats the seasonal-naive error of the training part")
    print_metrics(result)
    print(f"\nplot:  {out / 'forecast.png'}\nmodel: {out}  (reuse it: lstmkit forecast predict --model {out} DATA.csv)")
    return 0
