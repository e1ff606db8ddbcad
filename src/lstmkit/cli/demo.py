"""``lstmkit demo``: the main job, forecasting Seattle's daily maximum temperature (bundled real data)."""
from __future__ import annotations

from lstmkit.cli.common import GLOBAL_FLAGS, add_run_options, run_dir, use_threads


def add_parser(sub) -> None:
    help = "forecast Seattle's daily max temperature (bundled data) end to end"
    parser = sub.add_parser("demo", help=help, description=help, parents=[GLOBAL_FLAGS])
    add_run_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from lstmkit.data.datasets import load_dataset
    from lstmkit.tasks.forecast import ForecastConfig, Forecaster, train_run
    from lstmkit.tasks.forecast.report import print_result

    epochs = {} if args.epochs is None else {"epochs": args.epochs}
    config = ForecastConfig(targets=["temp_max"], time_column="date", seed=args.seed, **epochs)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "demo")  # like every run: a new directory, never one that holds files
    frame = load_dataset("seattle_weather")
    print("Seattle daily weather 2012-2015 (1,461 days, NOAA via vega_datasets): forecasting temp_max, the daily "
          "maximum temperature in °C;\ntrain/validation/test = 70/15/15% in time order ...", flush=True)
    result = train_run(Forecaster(config), frame, out, progress=True, resumable=False)
    print()
    print_result(result)
    print(f"\nplot:  {out / 'forecast.png'}\nmodel: {out}  (reuse it: lstmkit forecast predict --model {out} DATA.csv)")
    return 0
