"""``lstmkit <task> <verb> ...``: one command-line shape for every task.

Each command's front end is a module with ``add_parser(subparsers)`` (an application's lives in its
package, ``lstmkit/tasks/<app>/cli.py``); it parses arguments into the task's config dataclass and
calls the task, nothing more. The shared options and parser helpers are in :mod:`lstmkit.cli.common`.
This module owns error reporting:

* a :class:`~lstmkit.errors.UserError` (bad data, a bad flag, a foreign model directory, a missing
  optional package) or an ``OSError`` about a file (missing, not permitted, disk full) is one line on
  standard error and exit code 2;
* anything else is a bug: its traceback is printed and the exit code is 1;
* ``--debug`` shows the traceback of every error.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from lstmkit.cli.common import GLOBAL_FLAGS
from lstmkit.errors import UsageError, UserError

__all__ = ["COMMAND_MODULES", "UsageError", "build_parser", "main"]

# Front ends, in the order ``lstmkit --help`` lists them.
COMMAND_MODULES = [
    "lstmkit.cli.demo",
    "lstmkit.tasks.forecast.cli",
    "lstmkit.tasks.anomaly.cli",
    "lstmkit.tasks.text.cli",
    "lstmkit.tasks.translate.cli",
    "lstmkit.tasks.action.cli",
    "lstmkit.tasks.speech.cli",
    "lstmkit.tasks.studies.cli",
    "lstmkit.tasks.inspect.cli",
    "lstmkit.export.cli",
    "lstmkit.serve.cli",
    "lstmkit.cli.datasets",
]

log = logging.getLogger("lstmkit")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstmkit",
        description="Long Short-Term Memory networks, one command from data to a result.",
        epilog="Every task takes -v (progress at INFO level) and --debug (tracebacks), before or after the task.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress at INFO level")
    parser.add_argument("--debug", action="store_true", help="show the traceback of every error, the user's too")
    parser.add_argument("--version", action="version", version=f"lstmkit {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="<task>")
    for name in COMMAND_MODULES:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
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
    except (UserError, OSError) as exc:  # the user's to fix: one line
        if args.debug:
            traceback.print_exc()
        print(f"lstmkit: error: {exc}", file=sys.stderr)
        return 2
    except Exception:  # a bug: keep everything needed to find it
        traceback.print_exc()
        print("lstmkit: internal error (a bug in lstmkit, not in your input): please report it with the "
              "traceback above", file=sys.stderr)
        return 1


def _version() -> str:
    from lstmkit import __version__

    return __version__
