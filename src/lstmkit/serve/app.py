"""The HTTP service of ``lstmkit serve``: a Starlette app over one or more run directories.

Routes (``{name}`` is a model's directory name; with exactly one model the short forms ``/model``,
``/predict`` and ``/stream/{stream_id}`` answer too)::

    GET    /health                             {"status": "ok", "models": [...]}
    GET    /models/{name}                      the model's config.json and metrics.json
    POST   /models/{name}/predict              forecast a table, classify or translate texts, score a table
    POST   /models/{name}/stream/{stream_id}   anomaly models: score one step or several, state kept per id
    GET    /models/{name}/stream/{stream_id}   how many steps the stream has seen
    DELETE /models/{name}/stream/{stream_id}   forget the stream (the next POST starts from state zero)

Every answer is JSON. A refusal is ``{"error": "<one line>"}`` with a 4xx status: 400 for a bad body
(malformed JSON, wrong keys or types, NaN or Infinity, data the task refuses, with the message the
command line prints), 404 for an unknown model, route or stream, 405 for a wrong method, 413 for a
body over the limit, 429 for a stream past ``max_streams``. A 500 means a bug: its traceback is logged,
the answer says only that.

Inference runs in Starlette's thread pool, so the event loop keeps answering (``/health`` stays fast
while a model works). A model's application object holds caches and lazily made copies, so each model
answers one predict request at a time (its lock); a stream's LSTM state is its own, so each stream has
a lock of its own and different streams step in parallel. Requests are not batched into one LSTM call.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lstmkit.errors import UsageError, UserError
from lstmkit.serve.tasks import ApiError, ServedModel, load_served, stream_rows

__all__ = ["build_app", "DEFAULT_MAX_BODY_BYTES", "DEFAULT_MAX_STREAMS"]

logger = logging.getLogger("lstmkit.serve")

DEFAULT_MAX_BODY_BYTES = 1_000_000
DEFAULT_MAX_STREAMS = 10_000  # a stream holds its own state, about 14 KB at 2 x 128 units (weights are shared)
STREAM_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


# ------------------------------------------------------------------------------- answers
def answer(content: Any, status: int = 200, headers: dict | None = None) -> Response:
    """A JSON response; ``allow_nan=False`` because JSON has no NaN (:func:`jsonable` made them null)."""
    body = json.dumps(content, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def refuse(status: int, message: str, headers: dict | None = None) -> Response:
    return answer({"error": " ".join(str(message).split())}, status, headers)  # always one line


async def _http_error(request: Request, error: HTTPException) -> Response:
    """Starlette's own 404 (no such route) and 405 (wrong method), as JSON like every other refusal."""
    message = {404: f"no route {request.url.path}; see GET /health for the models served",
               405: f"method {request.method} is not allowed on {request.url.path}"}.get(error.status_code,
                                                                                        error.detail)
    return refuse(error.status_code, message, getattr(error, "headers", None))


def _guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
    """The user's mistakes become a 4xx with their one-line message; anything else is a logged 500."""

    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except ApiError as error:
            return refuse(error.status, str(error))
        except UserError as error:
            return refuse(400, str(error))
        except Exception:
            logger.exception("internal error on %s %s", request.method, request.url.path)
            return refuse(500, "internal error (a bug in lstmkit, not in your request); the traceback is in "
                               "the server's log")

    return endpoint


# ------------------------------------------------------------------------------- reading a body
def _refuse_constant(name: str):
    raise ApiError(400, f"{name} is not a number JSON allows: send finite numbers (a missing value is null)")


def _parse_int(text: str) -> int:
    # Integers past 2**53 are not numbers any model reads (they overflow a float64 exactly or at all).
    if len(text.lstrip("-")) > 15:
        raise ApiError(400, f"number {text[:40]} is out of range: send numbers below 10**15")
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ApiError(400, f"number {text[:40]} is out of range (it would be Infinity)")
    return value


async def read_body(request: Request, limit: int) -> dict:
    """The request's JSON object, refusing a body over ``limit`` bytes (413) from its Content-Length
    and again while reading (a chunked body has no length), and anything that is not a JSON object."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise ApiError(400, f"bad Content-Length header {declared[:40]!r}")
        if int(declared) > limit:
            raise ApiError(413, f"the request body is {int(declared)} bytes; the limit is {limit} "
                                "(lstmkit serve --max-body-bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"the request body is over the limit of {limit} bytes (lstmkit serve --max-body-bytes)")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, "the request body is empty: send a JSON object")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"the request body is not UTF-8 (byte {error.start})") from None
    try:
        body = json.loads(text, parse_constant=_refuse_constant, parse_float=_parse_float, parse_int=_parse_int)
    except json.JSONDecodeError as error:
        raise ApiError(400, f"malformed JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except RecursionError:
        raise ApiError(400, "malformed JSON: nested too deeply") from None
    except ValueError as error:  # e.g. an integer of more than 4300 digits
        raise ApiError(400, f"malformed JSON: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(400, f"the body must be a JSON object, got {type(body).__name__}")
    return body


# ------------------------------------------------------------------------------- streams
class Streams:
    """The live streams, one :class:`~lstmkit.tasks.anomaly.stream.AnomalyStream` and one lock per
    (model, stream id); at most ``limit`` of them, so a client cannot grow the memory without end."""

    def __init__(self, limit: int, idle_seconds: float | None = None, clock=time.monotonic):
        self.limit = limit
        self.idle_seconds = idle_seconds  # a stream unused this long is forgotten; None = never
        self._clock = clock
        self._streams: dict[tuple[str, str], tuple[Any, threading.Lock]] = {}
        self._used: dict[tuple[str, str], float] = {}  # when each stream was last asked for
        self._lock = threading.Lock()  # guards the dicts, never held while a stream steps

    def get(self, model: ServedModel, stream_id: str, *, create: bool) -> tuple[Any, threading.Lock] | None:
        key = (model.name, stream_id)
        with self._lock:
            entry = self._streams.get(key)
            if entry is not None:
                self._used[key] = self._clock()
            if entry is not None or not create:
                return entry
            self._forget_idle()
            self._check_room()
        # Built outside the dict lock: making a stream waits for the model's lock, which a long predict
        # on that model may hold, and the dict lock must never wait on that (every stream needs it).
        fresh = (model.new_stream(), threading.Lock())
        with self._lock:
            if key not in self._streams:
                self._check_room()
            self._used[key] = self._clock()
            return self._streams.setdefault(key, fresh)  # a concurrent first request may have made it

    def _forget_idle(self) -> None:
        """Drop the streams unused for ``idle_seconds`` (run when a stream is made: the table only grows then)."""
        if self.idle_seconds is None:
            return
        cutoff = self._clock() - self.idle_seconds
        for key in [key for key, used in self._used.items() if used < cutoff]:
            self._streams.pop(key, None)
            self._used.pop(key, None)

    def _check_room(self) -> None:
        if len(self._streams) >= self.limit:
            raise ApiError(429, f"{self.limit} streams are open (lstmkit serve --max-streams); DELETE the "
                                "streams that are done")

    def drop(self, model: ServedModel, stream_id: str) -> bool:
        with self._lock:
            self._used.pop((model.name, stream_id), None)
            return self._streams.pop((model.name, stream_id), None) is not None

    def __len__(self) -> int:
        return len(self._streams)


def _step(streams: Streams, model: ServedModel, stream_id: str, rows: list[list[float]]) -> list[dict]:
    """Score ``rows`` in order under the stream's lock, made on first use (one worker-thread hop for both)."""
    stream, lock = streams.get(model, stream_id, create=True)
    with lock:
        return [stream.update(row) for row in rows]


# ------------------------------------------------------------------------------- the app
def load_models(model_dirs: list[str | Path]) -> dict[str, ServedModel]:
    """Every run directory loaded, named by its directory name (two of one name are refused)."""
    if not model_dirs:
        raise UsageError("no model to serve: give --model DIR (a run directory) at least once")
    models: dict[str, ServedModel] = {}
    for directory in model_dirs:
        served = load_served(directory)
        if served.name in models:
            raise UsageError(f"two models are named {served.name!r} ({models[served.name].directory} and "
                             f"{directory}): models are named by their directory, so rename one")
        models[served.name] = served
        logger.info("serving %s (%s) from %s", served.name, served.task, directory)
    return models


def quantize_models(models: dict[str, ServedModel], quantize: str) -> None:
    """Run each model on its int8 ONNX graphs (:func:`lstmkit.export.runtime.use_int8`).

    Every model must be one that can run so (:data:`lstmkit.export.runtime.QUANTIZABLE`: forecasters, anomaly
    detectors, action recognisers, text classifiers, translators); any other (a language model) is refused
    here, at start-up, with a :class:`~lstmkit.errors.UsageError` naming it, before any is swapped. An anomaly
    model's ``/predict`` scores with the int8 graph; its ``/stream`` keeps the float64 NumPy streamer, which is
    faster than onnxruntime one step at a time.
    """
    from lstmkit.export.runtime import check_quantizable, use_int8

    if quantize != "int8":
        raise UsageError(f"--quantize {quantize}: the only quantisation offered is int8")
    for served in models.values():
        try:
            check_quantizable(served.directory)
        except UsageError as error:
            raise UsageError(f"lstmkit serve --quantize int8: cannot serve model {served.name!r} ({served.task}) "
                             f"so: {error}; serve it without --quantize") from None
    for served in models.values():
        use_int8(served.app, served.directory)
        logger.info("%s runs as an int8 ONNX graph in onnxruntime", served.name)


def build_app(model_dirs: list[str | Path], *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
              max_streams: int = DEFAULT_MAX_STREAMS, quantize: str | None = None,
              stream_idle_seconds: float | None = None) -> Starlette:
    """The service over ``model_dirs`` (loaded now: a bad directory fails here, not at the first request).

    ``max_body_bytes``: the largest request body taken (413 beyond); ``max_streams``: the most streams
    open at once, over all models (429 beyond). ``stream_idle_seconds``: a stream not asked for that long
    is forgotten when the next new stream is made (None: kept until DELETE). ``quantize="int8"``: every
    model runs as an int8 ONNX graph (:func:`quantize_models`; a model that cannot is refused now).
    ``app.state.models`` and ``app.state.streams`` hold them.
    """
    if max_body_bytes < 1 or max_streams < 1:
        raise UsageError("max_body_bytes and max_streams must be positive")
    if stream_idle_seconds is not None and not stream_idle_seconds > 0:
        raise UsageError(f"stream_idle_seconds must be positive, got {stream_idle_seconds}")
    models = load_models(model_dirs)
    if quantize is not None:
        quantize_models(models, quantize)
    streams = Streams(max_streams, stream_idle_seconds)
    only = next(iter(models.values())) if len(models) == 1 else None

    def model_of(request: Request) -> ServedModel:
        name = request.path_params.get("name")
        if name is None:  # a short form: there is exactly one model (else the route does not exist)
            return only
        if name not in models:
            raise ApiError(404, f"no model {name!r}; models served: {', '.join(models)}")
        return models[name]

    def stream_id_of(request: Request) -> str:
        stream_id = request.path_params["stream_id"]
        if not STREAM_ID.fullmatch(stream_id):
            raise ApiError(400, "a stream id is 1-128 characters among letters, digits and _ . : -")
        return stream_id

    async def health(request: Request) -> Response:
        return answer({"status": "ok", "models": [{"name": m.name, "task": m.task, "streams": m.streams}
                                                  for m in models.values()], "open_streams": len(streams)})

    async def model_info(request: Request) -> Response:
        return answer(model_of(request).info())

    async def predict(request: Request) -> Response:
        model = model_of(request)
        body = await read_body(request, max_body_bytes)
        return answer({"model": model.name, **await run_in_threadpool(model.predict, body)})

    async def stream(request: Request) -> Response:
        model = model_of(request)
        stream_id = stream_id_of(request)
        if request.method == "DELETE":
            if not streams.drop(model, stream_id):
                raise ApiError(404, f"no stream {stream_id!r} for model {model.name!r}")
            return answer({"model": model.name, "stream": stream_id, "deleted": True})
        if not model.streams:
            model.new_stream()  # the 400 that says why
        if request.method == "GET":
            entry = streams.get(model, stream_id, create=False)
            if entry is None:
                raise ApiError(404, f"no stream {stream_id!r} for model {model.name!r}")
            return answer({"model": model.name, "stream": stream_id, "steps": entry[0].step})
        body = await read_body(request, max_body_bytes)
        columns = list(model.app.config.columns)
        rows = stream_rows(body, columns, model.app.config.transform)  # checked before the stream exists
        scores = await run_in_threadpool(_step, streams, model, stream_id, rows)
        return answer({"model": model.name, "stream": stream_id, "scores": scores})

    routes = [
        Route("/health", _guarded(health), methods=["GET"]),
        Route("/models/{name}", _guarded(model_info), methods=["GET"]),
        Route("/models/{name}/predict", _guarded(predict), methods=["POST"]),
        Route("/models/{name}/stream/{stream_id}", _guarded(stream), methods=["POST", "GET", "DELETE"]),
    ]
    if only is not None:
        routes += [
            Route("/model", _guarded(model_info), methods=["GET"]),
            Route("/predict", _guarded(predict), methods=["POST"]),
            Route("/stream/{stream_id}", _guarded(stream), methods=["POST", "GET", "DELETE"]),
        ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: _http_error})
    app.state.models = models
    app.state.streams = streams
    app.state.max_body_bytes = max_body_bytes
    return app
