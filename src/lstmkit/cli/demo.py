"""``lstmkit demo``: the main job on bundled real data (see ``lstmkit.tasks.demo``)."""
from __future__ import annotations

from lstmkit.cli import add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("demo", help="train a small LSTM on a built-in task and show what it learned")
    add_common_options(parser)
    parser.set_defaults(run=run)


def run(args) -> int:
    from lstmkit.runtime import set_num_threads
    from lstmkit.tasks.demo import run_demo

    set_num_threads(int(args.threads) if str(args.threads).isdigit() else "auto", hidden_size=32)
    run_demo(seed=args.seed, epochs=args.epochs)
    return 0
