"""``lstmkit study long-memory``: parse arguments into a LongMemoryConfig and run the study."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from lstmkit.cli import add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("study", help="experiments that show why an LSTM (long-memory study)")
    studies = parser.add_subparsers(dest="study", metavar="<study>")
    lm = studies.add_parser(
        "long-memory",
        help="vanilla RNN vs LSTM on the adding and temporal-order problems at growing lengths, with gradient flow",
    )
    lm.add_argument("--quick", action="store_true",
                    help="reduced study (T = 10 and 50, one seed, at most 800 steps; under a minute)")
    lm.add_argument("--tasks", nargs="+", choices=["adding", "temporal-order"], metavar="TASK",
                    help="adding and/or temporal-order (default: both)")
    lm.add_argument("--lengths", nargs="+", type=int, metavar="T", help="sequence lengths (default 10 50 100 200)")
    lm.add_argument("--seeds", type=int, help="runs per task, length and model (default 2)")
    lm.add_argument("--steps", type=int, help="optimiser steps per run at most (default 2000)")
    lm.add_argument("--hidden-size", type=int, help="LSTM units; the RNN is matched in parameters (default 32)")
    lm.add_argument("--batch-size", type=int, help="sequences per step (default 64)")
    lm.add_argument("--lr", type=float,
                    help="Adam step size for both models (default: 1e-2 adding, 3e-3 temporal-order)")
    lm.add_argument("--no-stop", action="store_true", help="train the whole budget even after a run is solved")
    add_common_options(lm, epochs=False)
    lm.set_defaults(run=run_long_memory)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


def _config(args):
    from lstmkit.tasks.long_memory import LongMemoryConfig

    values = {"tasks": args.tasks, "lengths": args.lengths, "seeds": args.seeds, "steps": args.steps,
              "hidden_size": args.hidden_size, "batch_size": args.batch_size, "lr": args.lr}
    values = {k: v for k, v in values.items() if v is not None}
    values["seed"] = args.seed
    if args.no_stop:
        values["stop_when_solved"] = False
    return LongMemoryConfig.quick(**values) if args.quick else LongMemoryConfig(**values)


def run_long_memory(args) -> int:
    from lstmkit.runtime import set_num_threads
    from lstmkit.tasks.long_memory import run_study

    config = _config(args)
    set_num_threads(int(args.threads) if str(args.threads).isdigit() else "auto", hidden_size=config.hidden_size)
    out = Path(args.out) if args.out else Path("runs") / f"long-memory-{time.strftime('%Y%m%d-%H%M%S')}"
    total = len(config.tasks) * len(config.lengths) * config.seeds * 2
    done = []

    def progress(record: dict) -> None:
        done.append(record)
        test = record["test"]
        metric = "mse" if record["task"] == "adding" else "accuracy"
        status = (f"solved at step {record['steps_to_solve']}" if record["solved"]
                  else f"not solved in {record['steps']} steps")
        print(f"[{len(done)}/{total}] {record['task']} T={record['length']} {record['model'].upper()} "
              f"seed {record['seed']}: {status}, test {metric} {test[metric]:.4f} ({record['seconds']:.0f} s)",
              flush=True)

    results = run_study(config, out, on_run=progress)
    print(f"\nfinished in {results['wall_seconds'] / 60:.1f} min; table: {out / 'results.md'}")
    print(f"run directory: {out}  (results.json, results.md, summary.png, learning_curves.png, "
          "gradient_flow.png, gates_*.png, models/, samples/)")
    return 0
