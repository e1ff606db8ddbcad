"""Name -> model class registry, so a saved run can be rebuilt from its ``config.json`` alone.

A registered class provides::

    def get_config(self) -> dict          # JSON-able constructor arguments
    @classmethod
    def from_config(cls, config: dict)    # rebuild an untrained model from them

The registry is filled at import time by ``@register_model("name")`` on the class and never mutated
afterwards (the same pattern as timm and transformers). ``lstmkit.train.save_model`` writes the name as
``model_type``; ``lstmkit.train.load_model`` looks it up here.

Looking a name up imports only the module that defines it (``BUILTIN_MODELS``), so loading a plain
``lstmkit.nn.LSTM`` imports no application. A name not in that table (a model added by a new
application that forgot the table) is still found: every module under ``lstmkit.tasks`` is then
imported once, and a test keeps the table complete.
"""
from __future__ import annotations

import importlib
from typing import Callable, TypeVar

T = TypeVar("T", bound=type)

_MODELS: dict[str, type] = {}

# model_type -> the module whose import registers it.
BUILTIN_MODELS: dict[str, str] = {
    "lstm": "lstmkit.nn.layers",
    "rnn": "lstmkit.nn.layers",
    "peephole_lstm": "lstmkit.nn.variants",
    "layernorm_lstm": "lstmkit.nn.variants",
    "gru": "lstmkit.nn.variants",
    "forecaster": "lstmkit.tasks.forecast.model",
    "forecaster_global": "lstmkit.tasks.forecast.global_net",
    "anomaly_next_step": "lstmkit.tasks.anomaly.model",
    "anomaly_autoencoder": "lstmkit.tasks.anomaly.model",
    "text_lm": "lstmkit.tasks.text.models",
    "text_classifier": "lstmkit.tasks.text.models",
    "long_memory_net": "lstmkit.tasks.studies.long_memory.model",
    "translator": "lstmkit.tasks.translate.model",
    "action_net": "lstmkit.tasks.action.model",
    "speech_net": "lstmkit.tasks.speech.model",
}


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
    """The class registered under ``name``, importing only the module that defines it; a clear error
    lists the known names otherwise."""
    if name not in _MODELS and name in BUILTIN_MODELS:
        importlib.import_module(BUILTIN_MODELS[name])
    if name not in _MODELS:
        _import_all_models()
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
    """Every model type lstmkit knows (imports every application: for listings, not for loading)."""
    _import_all_models()
    return sorted(_MODELS)


def _import_all_models() -> None:
    # Importing the modules that define models fills the registry: the table's modules, then every
    # module of every application package (sub-packages included) for models missing from the table.
    import pkgutil

    import lstmkit.tasks as tasks

    for module in sorted(set(BUILTIN_MODELS.values())):
        importlib.import_module(module)
    for info in pkgutil.walk_packages(tasks.__path__, prefix="lstmkit.tasks."):
        importlib.import_module(info.name)
