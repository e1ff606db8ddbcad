"""Errors raised by :mod:`lstmkit.data`, defined once in :mod:`lstmkit.errors`.

Every problem with a user's data (a missing value, an unsorted time column, a series too short for
one window) raises :class:`DataError`, a :class:`~lstmkit.errors.UserError` and a ``ValueError``: its
message is one self-contained line (it names the column and the first offending row) that the
command line prints without a traceback.
"""
from lstmkit.errors import DataError, MissingDependencyError, NotFittedError

__all__ = ["DataError", "MissingDependencyError", "NotFittedError"]
