"""Name -> model class registry, so a saved run can be rebuilt from its ``config.json`` alone.

A registered class provides::

    def get_config(self) -> dict          # JSON-able constructor arguments
    @classmethod
    def from_config(cls, config: dict)    # rebuild an untrained model from them

The registry is filled at import time by ``@register_model("name")`` on the class and never mutated
afterwards (the same pattern as timm and transformers). ``lstmkit.train.save_model`` writes the name as
``model_type``; ``lstmkit.train.load_model`` looks it up here.
"""
from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T", bound=type)

_MODELS: dict[str, type] = {}


def register_model(name: str) -> Callable[[T], T]:
    """Class decorator: make ``cls`` loadable under ``model_type == name``."""

    def decorate(cls: T) -> T:
        for method in ("get_config", "from_config"):
            if not callable(getattr(cls, method, None)):
                raise TypeError(f"register_model({name!r}): {cls.__name__} must define {method}()")
        existing = _MODELS.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"model_type {name!r} is already registered to {existing.__module__}.{existing.__qualname__}"
            )
        _MODELS[name] = cls
        cls.model_type = name
        return cls

    return decorate


def get_model_class(name: str) -> type:
    """The class registered under ``name``; a clear error lists the known names otherwise."""
    _import_builtin_models()
    try:
        return _MODELS[name]
    except KeyError:
        known = ", ".join(sorted(_MODELS)) or "none"
        raise KeyError(f"unknown model_type {name!r}; registered model types: {known}") from None


def model_type_of(model) -> str:
    """The registered name of ``model``'s class, or a clear error if it was never registered."""
    name = getattr(type(model), "model_type", None)
    if name is None or _MODELS.get(name) is not type(model):
        raise TypeError(
            f"{type(model).__name__} is not a registered lstmkit model; decorate its class with "
            "@lstmkit.registry.register_model('name') and give it get_config()/from_config()"
        )
    return name


def registered_models() -> list[str]:
    _import_builtin_models()
    return sorted(_MODELS)


def _import_builtin_models() -> None:
    # Importing the modules that define models fills the registry; tasks add theirs the same way.
    import importlib
    import pkgutil

    import lstmkit.nn  # noqa: F401
    import lstmkit.tasks as tasks

    for info in pkgutil.iter_modules(tasks.__path__):
        importlib.import_module(f"lstmkit.tasks.{info.name}")
