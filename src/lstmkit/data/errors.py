"""Errors raised by :mod:`lstmkit.data`.

Every problem with a user's data (a missing value, an unsorted time column, a series too short for
one window) raises :class:`DataError`. It subclasses :class:`ValueError`, so existing ``except
ValueError`` code keeps working, and its message is one self-contained line (it names the column and
the first offending row) that a command-line front end can print without a traceback.
"""
from __future__ import annotations

__all__ = ["DataError", "MissingDependencyError", "NotFittedError"]


class DataError(ValueError):
    """The data cannot be used as given; the message says where and what to do about it."""


class NotFittedError(ValueError, AttributeError):
    """A transform was used before ``fit`` (same bases as scikit-learn's ``NotFittedError``)."""


class MissingDependencyError(ImportError):
    """An optional package is not installed; the message names what to ``pip install``."""
