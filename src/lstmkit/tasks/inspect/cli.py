"""``lstmkit inspect --model DIR DATA.csv``: gate heat maps and per-unit gate statistics of a saved LSTM."""
from __future__ import annotations

from lstmkit.cli.common import add_run_options, add_verb, run_dir, use_threads


def add_parser(sub) -> None:
    # A command without verbs: add_verb on the top-level sub-parsers gives it -v/--debug like a task.
    parser = add_verb(sub, "inspect", help="what a saved LSTM (or GRU) keeps and forgets: gate pictures and statistics")
    parser.add_argument("data", metavar="DATA", help="table to run the model on (its input columns); for an action "
                                                      "model, clips or sensor sequences like those of training")
    parser.add_argument("--model", required=True, metavar="DIR",
                        help="a forecasting or action-recognition run directory, a saved lstmkit.nn.LSTM, or a long-memory "
                             "study model")
    parser.add_argument("--layer", type=int, default=-1, help="layer to draw (default: the top one, -1)")
    parser.add_argument("--direction", type=int, default=0, help="direction to draw (1: the reverse one)")
    parser.add_argument("--sequence", type=int, default=None,
                        help="sequence (window) to draw (default: the latest window of a forecasting run)")
    parser.add_argument("--member", type=int, default=0, help="ensemble member of a forecasting model (default 0)")
    parser.add_argument("--columns", nargs="+", metavar="COL",
                        help="the model's input columns in order (plain LSTM models; default: the numeric ones)")
    add_run_options(parser, seed=False, epochs=False)
    parser.set_defaults(run=run_inspect)


def run_inspect(args) -> int:
    from lstmkit.tasks.inspect import inspect_model

    use_threads(args)
    out = run_dir(args, "inspect")
    result = inspect_model(args.model, args.data, out, layer=args.layer, direction=args.direction,
                           sequence=args.sequence, columns=args.columns, member=args.member)
    low, high = result["saturation"]
    gru = result["cell"] == "gru"
    names, memory = (("reset", "update"), "state") if gru else (("input", "forget", "output"), "cell")
    print(f"{result['sequences']} sequence(s) of {result['steps']} steps through the {'GRU' if gru else 'LSTM'} "
          f"of {args.model}")
    for s in result["summary"]:
        where = f"layer {s['layer']}" + (f" direction {s['direction']}" if result["lstm"]["bidirectional"] else "")
        means = ", ".join(f"{name} {s[f'mean_{name}_gate']:.2f}" for name in names)
        saturated = ", ".join(f"{name} {s[f'saturated_{name}_gate']:.0%}" for name in names)
        print(f"{where}: mean gates {means}; saturated (< {low} or > {high}): {saturated}; units mostly keeping "
              f"their {memory}: {s['units_mostly_keeping']} of {s['units']}, mostly forgetting: "
              f"{s['units_mostly_forgetting']}")
    print(f"wrote {out / 'gates.png'}, gate_stats.csv, gate_stats.json")
    return 0
