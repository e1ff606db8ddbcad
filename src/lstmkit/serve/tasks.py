"""What ``lstmkit serve`` does with each task's model: load it, check a request body, predict, and
turn the answer into JSON.

Each application keeps its own checks (``read_table``'s column and value messages, ``check_texts``,
the translator's option checks), so the service answers bad data with the very line the command
line prints. This module only checks what JSON adds: the body's keys and the types of its values,
before anything reaches the model. Every refusal is a :class:`~lstmkit.errors.UserError` (or an
:class:`ApiError` carrying its HTTP status), which :mod:`lstmkit.serve.app` turns into a 4xx.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import math
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from lstmkit.errors import DataError, ModelFileError, UsageError, UserError

__all__ = ["ApiError", "ServedModel", "jsonable", "load_served", "stream_rows", "TASKS"]

# Bounds on the work one request can ask for, so that one client cannot hold a worker for minutes.
MAX_STREAM_ROWS = 10_000  # steps per /stream request
MAX_BEAM = 32  # beam width of a translation
MAX_GENERATED = 2_000  # tokens a language model writes per request


class ApiError(UserError):
    """A request refused with a given HTTP status (404 unknown model, 413 too large, ...)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


# ------------------------------------------------------------------------------- JSON out
def jsonable(value: Any) -> Any:
    """``value`` with NumPy/pandas scalars as Python ones, times as ISO text and NaN as None, so that
    ``json.dumps(..., allow_nan=False)`` takes it (JSON has no NaN; a missing score is null)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (pd.Timestamp, datetime.datetime, datetime.date)):
        return value.isoformat()
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict]:
    """A table's rows as JSON objects (what every predict answer lists)."""
    return jsonable(frame.to_dict(orient="records"))


# ------------------------------------------------------------------------------- JSON in
def _kind(value: Any) -> str:
    """JSON's name for a value's type, for messages."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array",
            dict: "an object"}.get(type(value), type(value).__name__)


def check_keys(body: dict, allowed: set[str], required: set[str] = frozenset()) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, f"unknown key(s) {', '.join(map(repr, unknown))}; this model takes "
                            f"{', '.join(map(repr, sorted(allowed)))}")
    missing = sorted(required - set(body))
    if missing:
        raise ApiError(400, f"missing key(s) {', '.join(map(repr, missing))}")


def option(body: dict, key: str, kind: type, default: Any = None) -> Any:
    """``body[key]`` checked to be a ``kind`` (int: not a boolean; float: any number), or ``default``."""
    if key not in body or body[key] is None:
        return default
    value = body[key]
    ok = (isinstance(value, (int, float)) if kind is float else isinstance(value, kind)) and not isinstance(value, bool)
    if kind is bool:
        ok = isinstance(value, bool)
    if not ok:
        want = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}[kind]
        raise ApiError(400, f"{key!r} must be {want}, got {_kind(value)}")
    return value


def table(body: dict) -> pd.DataFrame:
    """``{"data": [{"col": value, ...}, ...]}`` as a DataFrame, every row with the same columns and
    plain values; the application's reader checks the columns and values as for a CSV file."""
    rows = body.get("data")
    if not isinstance(rows, list):
        raise ApiError(400, f"'data' must be an array of rows (objects of column: value), got {_kind(rows)}")
    if not rows:
        raise ApiError(400, "'data' is empty: send at least one row")
    first = None
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ApiError(400, f"data row {i} is {_kind(row)}; expected an object of column: value")
        columns = list(row)
        if first is None:
            first = columns
        elif set(columns) != set(first):
            raise ApiError(400, f"data row {i} has columns {sorted(columns)} but row 0 has {sorted(first)}: "
                                "every row needs the same columns")
        for column, value in row.items():
            if isinstance(value, (list, dict)):
                raise ApiError(400, f"data row {i}, column {column!r}: {_kind(value)} is not a value")
    columns = {}
    for column in first:
        values = [row[column] for row in rows]
        # null in a column of numbers is a missing number (NaN, as an empty CSV cell), so the reader
        # reports it as missing (or fills it, with --fill) rather than as text among numbers.
        if any(v is None for v in values) and all(v is None or _is_number(v) for v in values):
            values = np.array([np.nan if v is None else v for v in values], dtype=float)
        columns[column] = values
    return pd.DataFrame(columns, columns=first)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def texts(body: dict) -> list[str]:
    """``{"texts": [...]}`` or ``{"text": "..."}`` as a list of strings (emptiness is the task's to refuse)."""
    if ("texts" in body) == ("text" in body):
        raise ApiError(400, "send either 'texts' (an array of strings) or 'text' (one string)")
    if "text" in body:
        if not isinstance(body["text"], str):
            raise ApiError(400, f"'text' must be a string, got {_kind(body['text'])}")
        return [body["text"]]
    items = body["texts"]
    if not isinstance(items, list):
        raise ApiError(400, f"'texts' must be an array of strings, got {_kind(items)}")
    if not items:
        raise ApiError(400, "'texts' is empty: send at least one text")
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise ApiError(400, f"text {i} is {_kind(item)}, not a string")
    return items


def stream_rows(body: dict, columns: list[str], transform: str) -> list[list[float]]:
    """``{"values": [...]}`` (one step) or ``{"rows": [[...], ...]}`` as rows of floats, every one checked
    before the first step is taken, so a bad row leaves the stream's state as it was."""
    check_keys(body, {"values", "rows"})
    if ("values" in body) == ("rows" in body):
        raise ApiError(400, "send either 'values' (one step: an array of numbers) or 'rows' (several steps)")
    one = "values" in body
    rows = [body["values"]] if one else body["rows"]
    if not isinstance(rows, list):
        raise ApiError(400, f"'rows' must be an array of arrays of numbers, got {_kind(rows)}")
    if not rows:
        raise ApiError(400, "'rows' is empty: send at least one step")
    if len(rows) > MAX_STREAM_ROWS:
        raise ApiError(400, f"'rows' holds {len(rows)} steps; send at most {MAX_STREAM_ROWS} per request")
    n = len(columns)
    out = []
    for i, row in enumerate(rows):
        where = "'values'" if one else f"row {i}"
        if not isinstance(row, list):
            raise ApiError(400, f"{where} must be an array of {n} number(s), got {_kind(row)}")
        if len(row) != n:  # the message of AnomalyStream.update
            raise ApiError(400, f"{where}: expected {n} value(s) ({', '.join(columns)}), got {len(row)}")
        for j, value in enumerate(row):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ApiError(400, f"{where}: value {j} ({columns[j]}) is {_kind(value)}, not a number")
        values = [float(v) for v in row]
        if not all(map(math.isfinite, values)):
            raise ApiError(400, f"{where}: values must be finite numbers")
        if transform == "logdiff" and min(values) <= 0:
            raise ApiError(400, f"{where}: transform 'logdiff' needs positive values")
        out.append(values)
    return out


# ------------------------------------------------------------------------------- per task
def _forecast(app, body: dict) -> dict:
    check_keys(body, {"data"}, {"data"})
    return {"forecast": records(app.predict(table(body)))}


def _anomaly(app, body: dict) -> dict:
    check_keys(body, {"data", "labels"}, {"data"})
    labels = option(body, "labels", str)
    result = app.detect(table(body), labels=labels)
    answer = {"scores": records(result["scores"]), "anomalies": records(result["anomalies"])}
    if result["metrics"] is not None:
        answer["metrics"] = jsonable(result["metrics"])
    return answer


def _classify(app, body: dict) -> dict:
    check_keys(body, {"texts", "text"})
    return {"predictions": records(app.predict(texts(body)))}


def _translate(app, body: dict) -> dict:
    check_keys(body, {"texts", "text", "method", "beam"})
    options = {"method": option(body, "method", str, "beam"), "beam": option(body, "beam", int)}
    if options["beam"] is not None and not 1 <= options["beam"] <= MAX_BEAM:
        raise ApiError(400, f"'beam' must be between 1 and {MAX_BEAM}, got {options['beam']}")
    found = app.search(texts(body), **options)
    return {"translations": [hyps[0].text for hyps in found]}


def _language_model(app, body: dict) -> dict:
    from lstmkit.tasks.text import join_prompt

    check_keys(body, {"prompt", "length", "temperature", "top_k", "seed", "top"}, {"prompt"})
    prompt = option(body, "prompt", str)
    top = option(body, "top", int, 5)
    if top < 1:
        raise ApiError(400, f"'top' must be a positive integer, got {top}")
    answer: dict = {"prompt": prompt}
    if prompt.strip():  # as `text lm next`: no next words after nothing
        answer["next"] = [{"token": t, "probability": p} for t, p in app.next_words(prompt, top)]
    length = option(body, "length", int)
    if length is not None:
        if not 1 <= length <= MAX_GENERATED:
            raise ApiError(400, f"'length' must be between 1 and {MAX_GENERATED} tokens, got {length}")
        seed, temperature = option(body, "seed", int), option(body, "temperature", float, 1.0)
        if seed is not None and seed < 0:
            raise ApiError(400, f"'seed' must be 0 or more, got {seed}")
        if not (temperature == 0 or 1e-3 <= temperature <= 100):
            raise ApiError(400, f"'temperature' must be 0 (greedy) or between 0.001 and 100, got {temperature}")
        text = app.generate(prompt, length, temperature=temperature, top_k=option(body, "top_k", int), seed=seed)
        answer["continuation"], answer["text"] = text, join_prompt(prompt, text, app.config.level)
    elif not prompt.strip():
        raise UsageError("the prompt is empty: give the start of a sentence, e.g. \"to be or not to\", "
                         "or a 'length' to generate from nothing")
    return jsonable(answer)


def _action(app, body: dict) -> dict:
    check_keys(body, {"data"}, {"data"})
    if app.state.kind != "sensor":
        raise ApiError(400, "this action model reads video clips, which the service does not take; "
                            "use `lstmkit action predict`")
    return {"predictions": records(app.predict(table(body)))}


@dataclasses.dataclass(frozen=True)
class Task:
    """How the service loads and calls one application."""

    load: Callable[[Path], Any]
    predict: Callable[[Any, dict], dict]
    streams: bool = False
    thread_safe: bool = False  # False: one request at a time per model (caches, lazy copies inside)


def _loader(module: str, name: str) -> Callable[[Path], Any]:
    def load(directory: Path):
        import importlib

        return getattr(importlib.import_module(module), name).load(directory)

    return load


TASKS: dict[str, Task] = {
    "forecast": Task(_loader("lstmkit.tasks.forecast", "Forecaster"), _forecast),
    "anomaly": Task(_loader("lstmkit.tasks.anomaly", "AnomalyDetector"), _anomaly, streams=True),
    "text_classify": Task(_loader("lstmkit.tasks.text", "TextClassifier"), _classify),
    "text_lm": Task(_loader("lstmkit.tasks.text", "LanguageModel"), _language_model),
    "translate": Task(_loader("lstmkit.tasks.translate", "Translator"), _translate),
    "action": Task(_loader("lstmkit.tasks.action", "ActionRecognizer"), _action),
}


# ------------------------------------------------------------------------------- a served model
@dataclasses.dataclass
class ServedModel:
    """One loaded run directory: its application object, its files' content and its lock."""

    name: str
    directory: Path
    task: str
    app: Any
    config: dict
    metrics: dict | None
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    @property
    def streams(self) -> bool:
        return TASKS[self.task].streams

    def predict(self, body: dict) -> dict:
        """The model's answer to a request body (run in a worker thread; holds the model's lock)."""
        with self.lock:
            return TASKS[self.task].predict(self.app, body)

    def new_stream(self):
        """A fresh :class:`~lstmkit.tasks.anomaly.stream.AnomalyStream` (state zero)."""
        if not self.streams:
            raise ApiError(400, f"model {self.name!r} ({self.task}) has no streaming: /stream is for anomaly "
                                "models; use /predict")
        with self.lock:
            return self.app.stream()

    def info(self) -> dict:
        return {"name": self.name, "task": self.task, "directory": str(self.directory),
                "streams": self.streams, "config": self.config, "metrics": self.metrics}


def load_served(directory: str | Path) -> ServedModel:
    """Load a run directory for serving; a :class:`~lstmkit.errors.UserError` for one that cannot be."""
    from lstmkit.cli.common import model_dir
    from lstmkit.train import read_config

    directory = model_dir(directory)
    config = read_config(directory)
    task = (config.get("task") or {}).get("name")
    if task not in TASKS:
        raise ModelFileError(f"{directory} holds a {task!r} task, which `lstmkit serve` does not serve; it serves "
                             f"{', '.join(TASKS)}")
    app = TASKS[task].load(directory)
    if task == "anomaly":
        app.inference_model()  # made now: made lazily, two first requests at once would race for it
    metrics = None
    metrics_file = directory / "metrics.json"
    if metrics_file.is_file():
        try:
            metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise DataError(f"{metrics_file} is not valid JSON: {error}") from None
    return ServedModel(directory.resolve().name, directory, task, app, jsonable(config), jsonable(metrics))
