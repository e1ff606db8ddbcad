"""``lstmkit serve --model DIR [--model DIR ...] [--host] [--port] [--quantize int8]``: run directories behind HTTP.

Building the parser imports neither torch nor starlette; the run function does.
"""
from __future__ import annotations

import argparse

from lstmkit.cli.common import GLOBAL_FLAGS, add_quantize_option, add_threads_option, positive_int, use_threads
from lstmkit.errors import MissingDependencyError

HELP = "serve trained models over HTTP (predict, live anomaly streams)"
EPILOG = """\
Routes, {name} being a model's directory name (with one model, /model, /predict and /stream/{id} too):
  GET /health, GET /models/{name}, POST /models/{name}/predict,
  POST|GET|DELETE /models/{name}/stream/{id} (anomaly models: one LSTM state per stream id).
Bodies are JSON: {"data": [{"column": value, ...}, ...]} (forecast, anomaly, action sensor tables),
{"texts": [...]} or {"text": "..."} (text classify, translate), {"prompt": "..."} (text lm),
{"values": [...]} or {"rows": [[...], ...]} (a stream). A refusal is a 4xx with {"error": "<reason>"}.
The default host, 127.0.0.1, answers this machine only: the service has no authentication."""


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port number 0-65535, got {text!r}")
    return value


def add_parser(sub) -> None:
    parser = sub.add_parser("serve", help=HELP, description=HELP, epilog=EPILOG, parents=[GLOBAL_FLAGS],
                            formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, metavar="DIR",
                        help="a run directory of `lstmkit <task> train`; repeat to serve several side by side")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument("--port", type=port, default=8000, help="port (default 8000)")
    parser.add_argument("--max-body-bytes", type=positive_int, default=1_000_000, metavar="N",
                        help="largest request body taken; larger ones get 413 (default 1000000)")
    parser.add_argument("--max-streams", type=positive_int, default=10_000, metavar="N",
                        help="most anomaly streams open at once (each holds its own LSTM state, the weights are "
                             "shared); more get 429 (default 10000)")
    parser.add_argument("--stream-idle-seconds", type=positive_int, default=None, metavar="S",
                        help="forget a stream not used for S seconds (checked when a new stream is made; default: "
                             "keep it until DELETE)")
    add_threads_option(parser)
    add_quantize_option(parser)
    parser.set_defaults(run=run_serve)


def run_serve(args) -> int:
    try:
        import starlette  # noqa: F401  (imported by build_app; checked here for the message)
        import uvicorn
    except ImportError:
        raise MissingDependencyError("lstmkit serve needs starlette and uvicorn: pip install 'lstmkit[serve]'") from None
    from lstmkit.serve.app import build_app

    use_threads(args)
    app = build_app(args.model, max_body_bytes=args.max_body_bytes, max_streams=args.max_streams,
                    quantize=args.quantize, stream_idle_seconds=args.stream_idle_seconds)
    weights = " (int8 weights, onnxruntime)" if args.quantize else ""
    print(f"serving {', '.join(app.state.models)}{weights} on http://{args.host}:{args.port} (Ctrl-C stops)",
          flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="info" if getattr(args, "verbose", False) else "warning")
    return 0
