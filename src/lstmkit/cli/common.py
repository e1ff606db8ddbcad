"""What every command shares: its parsers, the run options, config flags from a dataclass, file checks.

An application's ``cli.py`` adds its verbs with these helpers and nothing else of its own plumbing::

    def add_parser(sub):
        verbs = add_task(sub, "forecast", help="...")
        train = add_verb(verbs, "train", help="...")
        add_data_argument(train)
        add_config_options(train, ForecastConfig, ["hidden_size", "ensemble"], help=HELP)
        add_run_options(train, resume=True)
        train.set_defaults(run=run_train)

    def run_train(args):
        config = ForecastConfig(**config_values(args, ["hidden_size", "ensemble"]))
        use_threads(args, config.hidden_size)
        result = train_run(Forecaster(config), args.data, run_dir(args, "forecast"), resume=args.resume,
                           progress=True)
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import typing
from pathlib import Path

from lstmkit.errors import InputFileError, UsageError

# -v and --debug are accepted after the task and verb too (``lstmkit forecast train -v ...``). SUPPRESS
# keeps a sub-parser from resetting a flag given before the task.
GLOBAL_FLAGS = argparse.ArgumentParser(add_help=False)
GLOBAL_FLAGS.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                          help="log progress at INFO level")
GLOBAL_FLAGS.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                          help="show the traceback of every error, the user's too")


def _print_help(parser: argparse.ArgumentParser):
    def run(args) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


def add_task(sub, name: str, *, help: str, dest: str = "verb", metavar: str = "<verb>"):
    """``lstmkit <name> ...``: a task parser and its verbs; ``lstmkit <name>`` alone prints the help."""
    parser = sub.add_parser(name, help=help, description=help, parents=[GLOBAL_FLAGS])
    parser.set_defaults(run=_print_help(parser))
    return parser.add_subparsers(dest=dest, metavar=metavar)


def add_verb(verbs, name: str, *, help: str, **kwargs) -> argparse.ArgumentParser:
    """One verb (``train``, ``predict``, ...) of a task; a verb with verbs of its own prints its help alone."""
    parser = verbs.add_parser(name, help=help, description=help, parents=[GLOBAL_FLAGS], **kwargs)
    parser.set_defaults(run=_print_help(parser))
    return parser


# ------------------------------------------------------------------------------------ run options
def parse_threads(text: str) -> int | str:
    """``--threads``: "auto" or a positive integer (:func:`lstmkit.runtime.parse_threads`); anything else is
    refused by argparse (exit 2)."""
    from lstmkit.runtime import parse_threads as parse

    try:
        return parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {text!r}") from None


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_threads_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=parse_threads, default="auto", metavar="N|auto",
                        help="torch threads: a positive integer, or 'auto' (default: chosen by model size)")


QUANTIZE_HELP = ("run the model as int8 ONNX graphs in onnxruntime (exported at load, needs lstmkit[onnx]; "
                 "not language models): measured 1.5-5x faster than PyTorch on CPU, anomaly detect ~10x (it "
                 "otherwise scores in float64), outputs within a few hundredths")


def add_quantize_option(parser: argparse.ArgumentParser) -> None:
    """``--quantize int8``: the inference commands' switch to :func:`lstmkit.export.runtime.quantized_model`."""
    parser.add_argument("--quantize", choices=["int8"], default=None, help=QUANTIZE_HELP)


def add_run_options(parser: argparse.ArgumentParser, *, out: bool = True, seed: bool = True, epochs: bool = True,
                    resume: bool = False, device: bool = False) -> None:
    """The options every training command takes, with the same names and meanings everywhere."""
    if out:
        parser.add_argument("--out", metavar="DIR", default=None,
                            help="run directory to write, missing or empty (default: runs/<task>-<timestamp>)")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if epochs:
        parser.add_argument("--epochs", type=positive_int, default=None, metavar="N",
                            help="maximum number of epochs (default: the task's)")
    if resume:
        parser.add_argument("--resume", action="store_true",
                            help="continue the interrupted run in --out (same result as an uninterrupted run)")
    if device:
        parser.add_argument("--device", default="auto",
                            help="'auto' (CUDA when available, default), 'cpu', 'cuda' or 'cuda:1'")
    add_threads_option(parser)


def add_model_option(parser: argparse.ArgumentParser, train_command: str) -> None:
    parser.add_argument("--model", required=True, metavar="DIR", help=f"run directory of `{train_command}`")


def run_dir(args, task: str) -> Path:
    """``--out``, or ``runs/<task>-<timestamp>`` in the working directory."""
    out = getattr(args, "out", None)
    return Path(out) if out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def use_threads(args, hidden_size: int | None = None) -> int:
    """Apply ``--threads`` (see :func:`lstmkit.runtime.set_num_threads`) and return the count used."""
    from lstmkit.runtime import set_num_threads

    return set_num_threads(getattr(args, "threads", "auto"), hidden_size=hidden_size)


# -------------------------------------------------------------------------------- files named
def existing_file(path: str | Path, option: str = "") -> Path:
    """``path`` if it is a file; otherwise an :class:`~lstmkit.errors.InputFileError` naming the option."""
    file = Path(path)
    where = f"{option} {path}" if option else str(path)
    if file.is_dir():
        raise InputFileError(f"{where} is a directory; expected a file")
    if not file.is_file():
        raise InputFileError(f"{where}: no such file")
    return file


def model_dir(path: str | Path) -> Path:
    directory = Path(path)
    if not directory.is_dir():
        raise InputFileError(f"--model {path}: no such directory")
    return directory


def read_text_file(path: str | Path, option: str = "") -> str:
    """A UTF-8 text file's content; a clear error for a missing or non-UTF-8 file."""
    file = existing_file(path, option)
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        where = f"{option} {path}" if option else str(path)
        raise UsageError(f"{where} is not UTF-8 text (byte {error.start}); convert it first, e.g. with iconv") from None


# ------------------------------------------------------------------------ config -> options
def _option_type(annotation: str):
    """(type, nargs, is_flag) for a dataclass field's annotation, written as a string (PEP 563)."""
    text = annotation.replace(" ", "")
    many = text.startswith("list[")
    inner = text[5:-1] if many else text
    parts = [p for p in inner.split("|") if p != "None"]
    base = parts[0] if parts else "str"
    kind = {"int": int, "float": float, "str": str, "bool": bool}.get(base, str)
    if base == "int" and "str" in parts:  # e.g. train_until: int | str -> keep the text
        kind = str
    return kind, ("+" if many else None), kind is bool and not many


def add_config_options(parser: argparse.ArgumentParser, config_class, names, *, help: dict[str, str] | None = None,
                       flags: dict[str, str] | None = None, choices: dict[str, typing.Sequence] | None = None,
                       required: typing.Iterable[str] = ()) -> None:
    """One ``--flag`` per config field in ``names``, typed and defaulted from the dataclass.

    ``--hidden-size`` for ``hidden_size``; lists take several values (``--targets a b``); booleans get
    ``--x/--no-x``. The parsed default is None ("not given"), so the dataclass default applies and
    the help shows it. ``help`` gives each option's text, ``flags`` another flag name, ``choices``
    the allowed values.
    """
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    help, flags, choices, required = help or {}, flags or {}, choices or {}, set(required)
    for name in names:
        field = fields[name]
        kind, nargs, is_flag = _option_type(str(field.type))
        default = field.default
        if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        text = help.get(name, "")
        if default not in (dataclasses.MISSING, None, False, []) and name not in required:
            shown = " ".join(map(str, default)) if isinstance(default, list) else default
            text = f"{text} (default: {shown})" if text else f"default: {shown}"
        flag = flags.get(name, "--" + name.replace("_", "-"))
        kwargs = dict(dest=name, default=None, help=text or None, required=name in required)
        if is_flag:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, **kwargs)
            continue
        parser.add_argument(flag, type=kind, nargs=nargs, choices=choices.get(name),
                            metavar=None if name in choices else name.upper().split("_")[-1], **kwargs)


def config_values(args, names) -> dict:
    """The options among ``names`` that were given on the command line (None = leave the default)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}


def run_values(args, names) -> dict:
    """:func:`config_values` plus what every training command shares: ``--seed``, and ``--epochs`` when given."""
    values = config_values(args, names)
    values["seed"] = args.seed
    if getattr(args, "epochs", None) is not None:
        values["epochs"] = args.epochs
    return values
