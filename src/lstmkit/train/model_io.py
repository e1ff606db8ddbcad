"""Model files: ``config.json`` + ``model.safetensors``, never pickle.

Layout of a model directory::

    config.json        {"model_type": "<registered name>", "format_version": 1,
                        "model": model.get_config(), ...other sections ("task", "data", "train") kept}
    model.safetensors  tensors of model.state_dict(); tensors that are the same tensor (tied weights)
                       are stored once, the other names listed in the metadata key "lstmkit.aliases"

``load_model`` rebuilds the model from the registry (``lstmkit.registry``) and the ``"model"`` section,
then checks the weights file against it (keys, shapes, format version) before loading anything, and
refuses with :class:`ModelFileError` otherwise.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from lstmkit import registry
from lstmkit.errors import ModelFileError
from lstmkit.files import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
CONFIG_JSON = "config.json"
MODEL_FILE = "model.safetensors"
_ALIASES_KEY = "lstmkit.aliases"
_VERSION_KEY = "lstmkit.format_version"


# ------------------------------------------------------------------------------------------ config
def read_config(directory: str | os.PathLike) -> dict:
    """``config.json`` of ``directory`` as a dict (ModelFileError if missing or not a JSON object)."""
    path = Path(directory) / CONFIG_JSON
    if not path.is_file():
        raise ModelFileError(f"no {CONFIG_JSON} in {Path(directory)}: not an lstmkit model directory")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(f"{path} is not valid JSON: {error}") from error
    if not isinstance(config, dict):
        raise ModelFileError(f"{path} must hold a JSON object, got {type(config).__name__}")
    return config


def update_config(directory: str | os.PathLike, sections: dict) -> dict:
    """Merge ``sections`` (top-level keys) into ``config.json``, keeping every other key; write atomically."""
    path = Path(directory) / CONFIG_JSON
    config = {}
    if path.is_file():
        try:
            config = read_config(directory)
        except ModelFileError:
            logger.warning("%s is unreadable and will be replaced", path)
    config.update(sections)
    atomic_write_text(path, json.dumps(config, indent=2, sort_keys=False, allow_nan=True) + "\n")
    return config



def write_task_config(directory: str | os.PathLike, task: str, config, data: dict, train_config=None) -> dict:
    """Record a task's run in ``config.json``: ``{"task": {"name": task, **config}, "data": data,
    "train": train_config}`` (``config``/``train_config`` are dataclass configs with ``to_dict()``),
    keeping every other section, e.g. the model's."""
    sections = {"task": {"name": task, **config.to_dict()}, "data": data}
    if train_config is not None:
        sections["train"] = train_config.to_dict()
    return update_config(directory, sections)

# ----------------------------------------------------------------------------------------- weights
def _unique_tensors(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """CPU copies of the tensors, each stored once, and ``{alias: stored name}`` for tied weights.

    safetensors refuses tensors that share memory. Names that are the *same* tensor (same storage,
    offset, shape, stride: tied weights) become aliases; other sharing (views into one flat buffer, as
    cuDNN's flattened LSTM weights) is broken by the copy, which is what a file needs anyway.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for name, tensor in state_dict.items():
        tensor = tensor.detach()
        key = (tensor.device, tensor.untyped_storage().data_ptr(), tensor.storage_offset(),
               tuple(tensor.shape), tuple(tensor.stride()), tensor.dtype)
        if tensor.numel() > 0 and key in seen:
            aliases[name] = seen[key]
            continue
        seen[key] = name
        tensors[name] = tensor.to("cpu", copy=True).contiguous()
    return tensors, aliases


def save_weights(model: torch.nn.Module, path: str | os.PathLike, *, metadata: dict[str, str] | None = None) -> Path:
    """Atomically write ``model.state_dict()`` as safetensors (tied weights stored once)."""
    tensors, aliases = _unique_tensors(model.state_dict())
    meta = {"format": "pt", _VERSION_KEY: str(FORMAT_VERSION), _ALIASES_KEY: json.dumps(aliases)}
    meta.update(metadata or {})
    return atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def save_model(model: torch.nn.Module, directory: str | os.PathLike, *, extra_config: dict | None = None) -> Path:
    """Write ``model.safetensors`` and ``config.json`` for a registered lstmkit model.

    ``config.json`` becomes ``{**existing, **extra_config, "model_type": ..., "format_version": 1,
    "model": model.get_config()}``: sections already there ("task", "data", "train", ...) are kept.
    Weights are written first, so a crash in between leaves an old config that the weights check of
    :func:`load_model` will flag rather than a config pointing at missing weights. Returns the directory.
    """
    model_type = registry.model_type_of(model)  # TypeError with instructions if not registered
    model_config = model.get_config()
    try:
        json.dumps(model_config)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{type(model).__name__}.get_config() must return JSON-able values: {error}") from error
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / MODEL_FILE)
    sections = dict(extra_config or {})
    sections.update({"model_type": model_type, "format_version": FORMAT_VERSION, "model": model_config})
    update_config(directory, sections)
    return directory


def _sniff_foreign(path: Path) -> str | None:
    """Name the format of a file that is clearly not safetensors, from its first bytes."""
    with open(path, "rb") as handle:
        head = handle.read(9)
    size = path.stat().st_size
    # A safetensors file starts with its JSON header's length (8 bytes, little-endian), then "{". That
    # length can itself begin with the pickle marker (a 640-byte header is 80 02 00 ...), so a file
    # that reads as safetensors is never called anything else.
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= size - 8:
        return None
    if head[:4] == b"PK\x03\x04":
        return "a zip archive (torch.save output, which is pickle inside)"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "a pickle file"
    return None


def _check_version(version, where: str) -> None:
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelFileError(f"{where}: format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{where}: format_version {version} is newer than this lstmkit supports ({FORMAT_VERSION}); "
            "upgrade lstmkit to load it"
        )
    if version < 1:
        raise ModelFileError(f"{where}: unsupported format_version {version}")


def _names(names) -> str:
    names = sorted(names)
    shown = ", ".join(repr(n) for n in names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def load_weights(model: torch.nn.Module, path: str | os.PathLike) -> torch.nn.Module:
    """Check ``path`` against ``model.state_dict()`` (keys, shapes) and load it; ModelFileError otherwise.

    If every floating tensor in the file has one dtype that differs from the model's (a model trained
    in float64 and rebuilt from its config in float32), the model is cast to it first so nothing is
    silently rounded.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"no {path.name} in {path.parent}: the weights file is missing")
    foreign = _sniff_foreign(path)
    if foreign:
        raise ModelFileError(
            f"{path} is {foreign}, not safetensors; lstmkit never unpickles model files (pickle can run "
            "arbitrary code): re-save the weights with lstmkit.train.save_model"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            metadata = handle.metadata() or {}
            shapes = {name: tuple(handle.get_slice(name).get_shape()) for name in handle.keys()}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, RuntimeError, ValueError) as error:
        raise ModelFileError(f"{path} is corrupted or truncated (not a valid safetensors file): {error}") from error

    version = metadata.get(_VERSION_KEY)
    if version is not None:
        _check_version(int(version) if version.isdigit() else version, str(path))
    try:
        aliases = json.loads(metadata.get(_ALIASES_KEY, "{}"))
    except json.JSONDecodeError as error:
        raise ModelFileError(f"{path}: metadata {_ALIASES_KEY!r} is not valid JSON") from error

    expected = model.state_dict()
    stored_names = set(expected) - set(aliases)
    missing = stored_names - set(shapes)
    unexpected = set(shapes) - stored_names
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if unexpected:
            parts.append(f"unexpected {_names(unexpected)}")
        raise ModelFileError(f"{path} does not match the model built from config.json: {'; '.join(parts)}")
    for name in sorted(stored_names):
        if shapes[name] != tuple(expected[name].shape):
            raise ModelFileError(
                f"{path}: shape mismatch for {name!r}: the file has {shapes[name]}, the model built from "
                f"config.json expects {tuple(expected[name].shape)}"
            )
    for alias, target in aliases.items():
        if target not in tensors:
            raise ModelFileError(f"{path}: alias {alias!r} points at {target!r}, which the file does not hold")
        tensors[alias] = tensors[target]

    file_float = {t.dtype for t in tensors.values() if t.is_floating_point()}
    model_float = {t.dtype for t in expected.values() if t.is_floating_point()}
    if len(file_float) == 1 and len(model_float) == 1 and file_float != model_float:
        dtype = file_float.pop()
        logger.info("casting %s to %s to match %s", type(model).__name__, dtype, path.name)
        model.to(dtype)
    model.load_state_dict(tensors, strict=True)
    return model


def load_model(directory: str | os.PathLike, *, device: str | torch.device = "cpu") -> torch.nn.Module:
    """Rebuild a model saved by :func:`save_model` (or by a Trainer run) and load its weights.

    Refuses, with a :class:`ModelFileError` naming the problem: a missing directory, config.json or
    weights file; invalid JSON; a format_version other than 1 (future versions ask for an upgrade); an
    unknown model_type; a weights file that is pickle/torch.save, corrupted or truncated; missing,
    unexpected or wrongly shaped tensors. Returns the model in eval mode on ``device``.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelFileError(f"model directory {directory} does not exist")
    config = read_config(directory)
    where = str(directory / CONFIG_JSON)
    for key in ("model_type", "format_version", "model"):
        if key not in config:
            raise ModelFileError(f"{where} has no {key!r}: not written by lstmkit.train.save_model")
    _check_version(config["format_version"], where)
    if not isinstance(config["model"], dict):
        raise ModelFileError(f"{where}: 'model' must be a JSON object, got {type(config['model']).__name__}")
    try:
        cls = registry.get_model_class(config["model_type"])
    except KeyError as error:
        raise ModelFileError(f"{where}: {error.args[0]}") from None
    try:
        model = cls.from_config(config["model"])
    except Exception as error:
        raise ModelFileError(
            f"{where}: could not build {cls.__name__} from its 'model' section: {type(error).__name__}: {error}"
        ) from error
    load_weights(model, directory / MODEL_FILE)
    return model.to(device).eval()
