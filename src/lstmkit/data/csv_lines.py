"""Naming a row of a user's table the way the user finds it: ``line 51`` of a CSV file, ``row 49`` of a DataFrame.

A person who opens a CSV sees line numbers (the header is line 1), blank lines and values that span
lines; pandas numbers the data rows from 0. :func:`csv_line_numbers` maps one to the other, reading
the file again, so :class:`RowNames` asks for it only when an error message is being worded.
"""
from __future__ import annotations

import array
import bz2
import csv
import gzip
import lzma
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

__all__ = ["RowNames", "csv_line_numbers"]

# Options of pandas.read_csv that leave which lines become which rows unchanged, and those the line
# numbering below follows. With any other option (skiprows, comment, skipfooter, on_bad_lines, ...)
# a CSV's rows are named by their position from 0, as for a DataFrame.
_NEUTRAL_CSV_OPTIONS = frozenset({
    "dtype", "usecols", "na_values", "keep_default_na", "na_filter", "decimal", "thousands", "parse_dates",
    "date_format", "dayfirst", "cache_dates", "true_values", "false_values", "converters", "index_col",
    "low_memory", "float_precision", "memory_map", "dtype_backend",
})
_DIALECT_CSV_OPTIONS = frozenset({
    "sep", "delimiter", "quotechar", "doublequote", "escapechar", "quoting", "skipinitialspace", "encoding",
    "encoding_errors", "header", "names", "nrows", "skip_blank_lines", "engine",
})
_OPENERS = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}  # compressions pandas infers from the name


def csv_line_numbers(path: str, csv_options: Mapping[str, Any] | None, n_rows: int) -> np.ndarray | None:
    """The line of ``path`` (from 1) on which each of its ``n_rows`` data rows starts, or None if unknown.

    Follows pandas' C parser: quoted values may span lines, and with ``skip_blank_lines`` (the
    default) a line of only spaces and tabs outside quotes is no row. Reads the file once more, so it
    is called only to word an error. None for options it does not follow, or when its rows do not
    add up to the ``n_rows`` pandas read.
    """
    options = dict(csv_options or {})
    if not set(options) <= _NEUTRAL_CSV_OPTIONS | _DIALECT_CSV_OPTIONS or options.get("engine", "c") != "c":
        return None
    sep = options.get("sep", options.get("delimiter", ","))
    quoting = options.get("quoting", csv.QUOTE_MINIMAL)
    header = options.get("header", "infer")
    if header == "infer":
        header = None if options.get("names") is not None else 0
    if not (isinstance(sep, str) and len(sep) == 1) or (header is not None and not (
            isinstance(header, int) and not isinstance(header, bool) and header >= 0)):
        return None
    skip_blank = bool(options.get("skip_blank_lines", True))
    blank = "".join(set(" \t") - {sep})  # what a blank line holds besides its line break
    suffix = os.path.splitext(path)[1].lower()
    if suffix in (".zip", ".zst", ".tar", ".tgz") or path.lower().endswith((".tar.gz", ".tar.bz2", ".tar.xz")):
        return None
    opener = _OPENERS.get(suffix, open)
    encoding = options.get("encoding") or "utf-8"
    if encoding.lower().replace("_", "-") in ("utf-8", "utf8"):
        encoding = "utf-8-sig"  # pandas drops a byte-order mark too
    starts = array.array("q")  # the first line of each record that is a row (header included)
    last = [""]  # the line csv.reader read last: it reads no further than the end of a record

    def remember(file):
        for line in file:
            last[0] = line
            yield line

    try:
        with opener(path, "rt", encoding=encoding, errors=options.get("encoding_errors", "strict"),
                    newline="") as file:
            reader = csv.reader(
                remember(file), delimiter=sep, quotechar=options.get("quotechar", '"') or '"',
                doublequote=bool(options.get("doublequote", True)), escapechar=options.get("escapechar"),
                quoting=csv.QUOTE_NONE if quoting == csv.QUOTE_NONE else csv.QUOTE_MINIMAL,
                skipinitialspace=bool(options.get("skipinitialspace", False)), strict=False,
            )
            consumed = 0  # lines read before this record
            for record in reader:
                first, consumed = consumed + 1, reader.line_num
                if (skip_blank and len(record) <= 1 and consumed == first
                        and not last[0].rstrip("\r\n").strip(blank)):
                    continue  # a blank line (outside quotes): pandas skips it
                starts.append(first)
    except (OSError, UnicodeError, csv.Error, ValueError, TypeError, EOFError, lzma.LZMAError):
        return None
    data = np.frombuffer(starts, dtype=np.int64)[(header + 1 if header is not None else 0):]
    if options.get("nrows") is not None:
        data = data[: int(options["nrows"])]
    return data if len(data) == n_rows else None


class RowNames:
    """Names an input row in messages: ``line N`` of a CSV file, else ``row N`` (its position from 0).

    The CSV's line numbers are found only when a message asks for them (the error path).
    """

    def __init__(self, path: str | None, csv_options: Mapping[str, Any] | None, n_rows: int):
        self._path, self._csv_options, self._n_rows = path, csv_options, n_rows
        self._lines: np.ndarray | None = None
        self._looked = path is None

    def _line_numbers(self) -> np.ndarray | None:
        if not self._looked:
            self._looked = True
            self._lines = csv_line_numbers(self._path, self._csv_options, self._n_rows)
        return self._lines

    @property
    def word(self) -> str:
        """``"line"`` or ``"row"``."""
        return "row" if self._line_numbers() is None else "line"

    def number(self, row: int) -> int:
        lines = self._line_numbers()
        return int(row) if lines is None else int(lines[row])

    def __call__(self, row: int) -> str:
        return f"{self.word} {self.number(row)}"
