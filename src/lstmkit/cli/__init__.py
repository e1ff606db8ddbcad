"""``lstmkit <task> <verb> ...``: one command-line shape for every task.

Each task's front end is a module of this package with ``add_parser(subparsers)``; it parses
arguments into the task's config dataclass and calls the task, nothing more. This module owns what
every command shares: ``--out``, ``--seed``, ``--epochs``, ``--threads``, ``--debug``, and error
reporting (one line on standard error, exit code 2 for bad input, no traceback unless ``--debug``).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

# Task front ends, in the order ``lstmkit --help`` lists them. A module that fails to import (an
# optional dependency missing) is left out of the listing rather than breaking every other command.
COMMAND_MODULES = ["demo", "forecast", "anomaly", "study", "inspect", "text", "datasets"]

log = logging.getLogger("lstmkit")


class UsageError(ValueError):
    """Bad input from the user: reported as one line, exit code 2."""


def add_common_options(parser: argparse.ArgumentParser, *, out: bool = True, seed: bool = True,
                       epochs: bool = True) -> None:
    """The options every training command takes, with the same names and meanings everywhere."""
    if out:
        parser.add_argument("--out", metavar="DIR", default=None,
                            help="run directory to write (default: runs/<task>-<timestamp>)")
    if seed:
        parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    if epochs:
        parser.add_argument("--epochs", type=int, default=None, help="maximum number of epochs")
    parser.add_argument("--threads", default="auto",
                        help="torch threads: an integer, or 'auto' (default) to choose by model size")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="Long Short-Term Memory networks, one command from data to a result.",
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument("--version", action="version", version=f"lstmkit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="<task>")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(f"lstmkit.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("lstmkit.cli."):
                continue  # that task has not landed yet
            raise
        module.add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("lstmkit: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # one line for the user; the traceback only on request
        if debug:
            raise
        if _is_user_error(exc):
            print(f"lstmkit: error: {exc}", file=sys.stderr)
            return 2
        print(f"lstmkit: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _is_user_error(exc: Exception) -> bool:
    """Errors caused by what the user gave (files, columns, values) or has installed, rather than by a bug."""
    from lstmkit.data.errors import MissingDependencyError

    return isinstance(exc, (UsageError, ValueError, FileNotFoundError, FileExistsError, PermissionError,
                            IsADirectoryError, NotADirectoryError, MissingDependencyError))


def _version() -> str:
    from lstmkit import __version__

    return __version__
