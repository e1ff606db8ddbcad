"""``lstmkit study <study>``: the studies' command; each study adds its sub-command here.

``lstmkit study long-memory``: parse arguments into a :class:`LongMemoryConfig` and run the study.
"""
from __future__ import annotations

from lstmkit.cli.common import (
    add_config_options,
    add_run_options,
    add_task,
    add_verb,
    config_values,
    run_dir,
    use_threads,
)
from lstmkit.tasks.cells import CELL_NAMES
from lstmkit.tasks.studies.long_memory.config import PROBLEM_NAMES, LongMemoryConfig

LONG_MEMORY_OPTIONS = ["tasks", "models", "lengths", "seeds", "steps", "hidden_size", "batch_size", "lr",
                       "stop_when_solved"]
LONG_MEMORY_HELP = {
    "tasks": "adding and/or temporal-order",
    "models": "recurrent cells compared, lstm among them, the others matched to it in parameters",
    "lengths": "sequence lengths T, 10 50 with --quick",
    "seeds": "runs per task, length and model, 1 with --quick",
    "steps": "optimiser steps per run at most, 800 with --quick",
    "hidden_size": "LSTM units; the RNN is matched in parameters",
    "batch_size": "sequences per step",
    "lr": "Adam step size for every model (default: 1e-2 adding, 3e-3 temporal-order)",
    "stop_when_solved": "end a run once it is solved; --no-stop trains the whole budget",
}


def add_parser(sub) -> None:
    studies = add_task(sub, "study", help="experiments that show why an LSTM (long-memory study)",
                       dest="study", metavar="<study>")
    add_long_memory(studies)


def add_long_memory(studies) -> None:
    parser = add_verb(
        studies, "long-memory",
        help="vanilla RNN vs LSTM on the adding and temporal-order problems at growing lengths, with gradient flow",
    )
    parser.add_argument("--quick", action="store_true",
                        help="reduced study (T = 10 and 50, one seed, at most 800 steps; under a minute)")
    add_config_options(parser, LongMemoryConfig, LONG_MEMORY_OPTIONS, help=LONG_MEMORY_HELP,
                       flags={"stop_when_solved": "--stop"},
                       choices={"tasks": list(PROBLEM_NAMES), "models": list(CELL_NAMES)})
    add_run_options(parser, epochs=False)
    parser.set_defaults(run=run_long_memory)


def long_memory_config(args) -> LongMemoryConfig:
    values = config_values(args, LONG_MEMORY_OPTIONS)
    values["seed"] = args.seed
    return LongMemoryConfig.quick(**values) if args.quick else LongMemoryConfig(**values)


def run_long_memory(args) -> int:
    from lstmkit.tasks.studies.long_memory import run_study

    config = long_memory_config(args)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "long-memory")
    total = len(config.tasks) * len(config.lengths) * config.seeds * len(config.models)
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
