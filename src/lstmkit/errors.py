"""What went wrong, and whose it is to fix.

Every problem caused by what a user gave (a file, a column, a flag, a saved model) raises a
:class:`UserError`. The command line prints its message as one line and exits with code 2; the
message says what was expected and what was found, so no traceback is needed. Any other exception
is a bug in lstmkit (or in a library under it): the command line keeps its traceback and exits 1.

The subclasses also derive from the built-in exception a Python caller would expect (``ValueError``,
``FileNotFoundError``, ``ImportError``), so ``except ValueError`` code keeps working.
"""
from __future__ import annotations

__all__ = [
    "UserError", "DataError", "ConfigError", "UsageError", "ModelFileError", "CheckpointError",
    "InputFileError", "RunDirError", "MissingDependencyError", "NotFittedError",
]


class UserError(Exception):
    """Bad input from the user; the message is one self-contained line."""


class DataError(UserError, ValueError):
    """The data cannot be used as given; the message names the column and the row, and what to do."""


class ConfigError(UserError, ValueError):
    """A configuration value is out of range or of the wrong kind (a flag, or a field of config.json)."""


class UsageError(UserError, ValueError):
    """A command-line request that cannot be carried out as asked (flags that contradict each other)."""


class ModelFileError(UserError, ValueError):
    """A model directory is missing, corrupted, foreign or does not match its config."""


class CheckpointError(UserError, ValueError):
    """A trainer state file is missing, unreadable or from another format version."""


class InputFileError(UserError, FileNotFoundError):
    """A file or directory the user named does not exist or is not of the expected kind."""


class RunDirError(UserError, FileExistsError):
    """An output directory that would be overwritten, or a ``--resume`` with nothing to resume."""


class MissingDependencyError(UserError, ImportError):
    """An optional package is not installed; the message names what to ``pip install``."""


class NotFittedError(ValueError, AttributeError):
    """A transform or model was used before ``fit`` (same bases as scikit-learn's ``NotFittedError``).

    A programming error, not the user's: it is not a :class:`UserError`.
    """
