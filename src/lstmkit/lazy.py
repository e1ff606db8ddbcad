"""Names a package exports without importing them until first use.

The command line imports every application's ``cli`` module (and so its package) on each call;
``lstmkit --help`` should not wait for torch and pandas. A package lists where each public name
lives and hands the two module hooks (PEP 562) to Python::

    _WHERE = {"Forecaster": "lstmkit.tasks.forecast.forecaster", ...}
    __all__ = sorted(_WHERE)
    __getattr__, __dir__ = lazy_exports(__name__, _WHERE)
"""
from __future__ import annotations

import importlib
import sys
from typing import Callable


def lazy_exports(package: str, where: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``: ``name`` is imported from ``where[name]`` when first asked for."""

    def __getattr__(name: str):
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(where[name]), name)
        setattr(sys.modules[package], name, value)  # later lookups are plain attribute reads
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
