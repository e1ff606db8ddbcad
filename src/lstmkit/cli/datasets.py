"""``lstmkit datasets list|export``: the real data sets that ship inside packages, as CSV files."""
from __future__ import annotations

from lstmkit.cli.common import add_task, add_verb
from lstmkit.errors import UsageError


def add_parser(sub) -> None:
    verbs = add_task(sub, "datasets", help="list the bundled real data sets or export one as CSV")
    listing = add_verb(verbs, "list", help="name, task, source and licence of each data set")
    listing.set_defaults(run=run_list)
    export = add_verb(verbs, "export", help="write a data set (a table) to a CSV file")
    export.add_argument("name", help="a name from `lstmkit datasets list`")
    export.add_argument("path", metavar="FILE.csv")
    export.add_argument("--symbol", help="stocks only: AAPL, GOOG, IBM, MSFT or FB")
    export.set_defaults(run=run_export)


def run_list(args) -> int:
    from lstmkit.data.datasets import list_datasets

    for info in list_datasets():
        print(f"{info.name:18} {info.task:18} {info.description}\n{'':37} source: {info.source}; "
              f"licence: {info.license}; needs: {info.requirement}")
    return 0


def run_export(args) -> int:
    import pandas as pd

    from lstmkit.data.datasets import list_datasets, load_dataset
    from lstmkit.files import atomic_write_text

    names = [info.name for info in list_datasets()]
    if args.name not in names:
        raise UsageError(f"unknown data set {args.name!r}; available: {', '.join(names)}")
    kwargs = {"symbol": args.symbol} if args.symbol else {}
    data = load_dataset(args.name, **kwargs)
    if not isinstance(data, pd.DataFrame):
        raise UsageError(f"{args.name} is not a table; load it in Python with lstmkit.data.datasets.load_dataset")
    atomic_write_text(args.path, data.to_csv(index=False))
    print(f"wrote {len(data)} rows ({', '.join(map(str, data.columns))}) to {args.path}")
    return 0
