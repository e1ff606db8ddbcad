"""``lstmkit serve`` under load: requests per second and p50/p99 latency at 1, 8 and 64 concurrent clients
for ``/predict`` (a forecast of an 80-row table) and ``/stream`` (one anomaly step per request, every
client its own stream), failures, and the server's resident memory sampled throughout.

Bounded and local: two tiny models are trained here (a few seconds), the server is started as
``lstmkit serve`` in a subprocess on 127.0.0.1 on a free port, each level runs for ``--seconds``, and the
server is stopped at the end whatever happens. After the stream levels, every stream's scores are
checked against an :class:`~lstmkit.tasks.anomaly.stream.AnomalyStream` fed the same values alone:
concurrent clients must not see each other's state.

The load generator (httpx, asyncio) runs in this process, on the same cores as the server: on a
2-core machine it takes a good share of them, so the numbers are a floor for the server itself.

``--sweep`` instead sends a bad-input sweep to the live server over real sockets (malformed JSON, NaN,
huge bodies with and without a Content-Length, unknown models, routes and streams, ...): every case must
be the expected 4xx with a one-line JSON ``error``, /health must answer after each, and a stream stepped
before and after the sweep must score as the same values run alone. ``--soak-seconds N`` instead runs 8
clients alternating /predict and /stream for N seconds, sampling the server's RSS every 5 s (is the
memory flat?). Either flag replaces the load test; both together run the sweep, then the soak.

    python benchmarks/bench_serve.py [--seconds 8] [--clients 1 8 64]
    python benchmarks/bench_serve.py --sweep
    python benchmarks/bench_serve.py --soak-seconds 180
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector
from lstmkit.tasks.forecast import ForecastConfig, Forecaster

SERVER = ("import argparse, sys\n"
          "from lstmkit.serve.cli import add_parser\n"
          "parser = argparse.ArgumentParser()\n"
          "add_parser(parser.add_subparsers())\n"
          "args = parser.parse_args(sys.argv[1:])\n"
          "sys.exit(args.run(args))\n")


def train(root: Path) -> tuple[pd.DataFrame, np.ndarray]:
    """A forecaster (``root/sales``) and a prediction anomaly detector (``root/sensor``); returns the
    table /predict posts and the series the streams step through."""
    n = 80
    t = np.arange(n)
    rng = np.random.default_rng(0)
    sales = pd.DataFrame({"month": pd.date_range("2000-01-01", periods=n, freq="MS").strftime("%Y-%m-%d"),
                          "sales": (100 + t) * (1 + 0.25 * np.sin(2 * np.pi * t / 12)) * np.exp(rng.normal(0, .02, n))})
    Forecaster(ForecastConfig(targets=["sales"], time_column="month", epochs=5, ensemble=1)).fit(sales).save(root / "sales")
    m = 2000
    series = np.sin(2 * np.pi * np.arange(m) / 25) + 0.1 * rng.normal(size=m)
    detector = AnomalyDetector(AnomalyConfig(columns=["value"], epochs=5, train_fraction=0.3))
    detector.fit(pd.DataFrame({"value": series})).save(root / "sensor")
    return sales, series


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class MemorySampler(threading.Thread):
    """The server's RSS every ``interval`` seconds (one by default), with the phase it was taken in."""

    def __init__(self, pid: int, interval: float = 1.0):
        super().__init__(daemon=True)
        self.pid, self.interval, self.phase, self.samples, self.done = pid, interval, "idle", [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.interval):
            self.samples.append((time.monotonic(), self.phase, rss_mib(self.pid)))


async def load(base: str, clients: int, seconds: float, make_request) -> dict:
    """``clients`` coroutines each sending one request after another for ``seconds``."""
    latencies: list[float] = []
    failures: list[str] = []
    stop = time.perf_counter() + seconds

    async def client(k: int) -> None:
        # One connection per client, each in its own AsyncClient: 64 clients sharing one httpx pool
        # spent their time in the pool's bookkeeping (even /health fell from ~840 to ~130 req/s).
        async with httpx.AsyncClient(base_url=base, timeout=60,
                                     limits=httpx.Limits(max_connections=1, max_keepalive_connections=1)) as http:
            i = 0
            while time.perf_counter() < stop:
                method, path, body = make_request(k, i)
                start = time.perf_counter()
                try:
                    r = await http.request(method, path, json=body)
                    if r.status_code != 200:
                        failures.append(f"{r.status_code} {r.text[:100]}")
                    else:
                        make_request.seen(k, i, r.json())
                except httpx.HTTPError as error:
                    failures.append(repr(error))
                latencies.append(time.perf_counter() - start)
                i += 1

    began = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    elapsed = time.perf_counter() - began
    lat = sorted(latencies)
    return {"requests": len(lat), "rps": len(lat) / elapsed, "p50_ms": 1e3 * statistics.median(lat),
            "p99_ms": 1e3 * lat[min(len(lat) - 1, int(0.99 * len(lat)))], "failures": len(failures),
            "first_failure": failures[0] if failures else None}


class PredictRequests:
    def __init__(self, rows: list[dict]):
        self.body = {"data": rows}

    def __call__(self, k: int, i: int):
        return "POST", "/models/sales/predict", self.body

    def seen(self, k, i, answer) -> None:
        pass


class StreamRequests:
    """Client k steps its own stream ``level-k`` through the series; what it got is kept to check."""

    def __init__(self, level: int, series: np.ndarray):
        self.level, self.series, self.got = level, series, {}

    def __call__(self, k: int, i: int):
        return "POST", f"/models/sensor/stream/l{self.level}-c{k}", {"values": [float(self.series[i % len(self.series)])]}

    def seen(self, k, i, answer) -> None:
        self.got.setdefault(k, []).append(answer["scores"][0])


def check_streams(requests: StreamRequests, detector: AnomalyDetector) -> int:
    """Streams whose scores differ from the same values run alone (must be 0)."""
    wrong = 0
    for k, got in requests.got.items():
        alone = detector.stream()
        expected = [alone.update([float(requests.series[i % len(requests.series)])]) for i in range(len(got))]
        wrong += got != expected
    return wrong


class SoakRequests:
    """Client k alternates a /predict of the table and one step of its own stream ``soak-k``."""

    def __init__(self, rows: list[dict], series: np.ndarray):
        self.body, self.series, self.got = {"data": rows}, series, {}

    def __call__(self, k: int, i: int):
        if i % 2 == 0:
            return "POST", "/models/sales/predict", self.body
        return "POST", f"/models/sensor/stream/soak-c{k}", {"values": [float(self.series[(i // 2) % len(self.series)])]}

    def seen(self, k, i, answer) -> None:
        if i % 2:
            self.got.setdefault(k, []).append(answer["scores"][0])


# ------------------------------------------------------------------------------- bad-input sweep
# The cases of tests/serve/test_serve.py's BAD (copied, not imported: the tests are not a library), on
# this script's two models (a forecaster "sales", an anomaly detector "sensor" with one column "value"),
# with the body limit at the server's default and a few that only real sockets can send.
# (name, method, path, raw body or None or a callable giving chunks, status, words the error holds)
LIMIT = 1_000_000  # lstmkit serve's default --max-body-bytes, which the sweep's server keeps
OVER = LIMIT + 200_000


def _chunked_over_limit():
    for _ in range(OVER // 10_000):
        yield b" " * 10_000  # no Content-Length: httpx sends it chunked, the server must count while reading


ROW = b'{"data": [{"month": "2000-01-01", "sales": %s}]}'
SWEEP = [
    ("malformed JSON", "POST", "/models/sales/predict", b"{not json", 400, "malformed JSON"),
    ("empty body", "POST", "/models/sales/predict", b"", 400, "empty"),
    ("blank body", "POST", "/models/sales/predict", b"  \n ", 400, "empty"),
    ("a JSON list", "POST", "/models/sales/predict", b"[1, 2]", 400, "JSON object"),
    ("a JSON string", "POST", "/models/sales/predict", b'"data"', 400, "JSON object"),
    ("not UTF-8", "POST", "/models/sales/predict", b"\xff\xfe", 400, "not UTF-8"),
    ("NaN", "POST", "/models/sales/predict", ROW % b"NaN", 400, "NaN"),
    ("Infinity", "POST", "/models/sales/predict", ROW % b"Infinity", 400, "Infinity"),
    ("-Infinity", "POST", "/models/sales/predict", ROW % b"-Infinity", 400, "Infinity"),
    ("1e999", "POST", "/models/sales/predict", ROW % b"1e999", 400, "out of range"),
    ("400-digit integer", "POST", "/models/sales/predict", ROW % (b"9" * 400), 400, "out of range"),
    ("unknown key", "POST", "/models/sales/predict", b'{"rows": []}', 400, "unknown key"),
    ("empty data", "POST", "/models/sales/predict", b'{"data": []}', 400, "empty"),
    ("data an object", "POST", "/models/sales/predict", b'{"data": {"sales": 1}}', 400, "array of rows"),
    ("rows not objects", "POST", "/models/sales/predict", b'{"data": [1, 2]}', 400, "row 0"),
    ("ragged rows", "POST", "/models/sales/predict",
     b'{"data": [{"month": "2000-01-01", "sales": 1}, {"sales": 2}]}', 400, "same columns"),
    ("wrong column", "POST", "/models/sales/predict", b'{"data": [{"month": "2000-01-01", "price": 1}]}', 400,
     "'sales' not found"),
    ("too few rows", "POST", "/models/sales/predict", ROW % b"1", 400, "at least"),
    ("null value", "POST", "/models/sales/predict", ROW % b"null", 400, "missing"),
    ("list as value", "POST", "/models/sales/predict", ROW % b"[1]", 400, "not a value"),
    ("string as value", "POST", "/models/sales/predict", ROW % b'"x"', 400, "not numeric"),
    ("nested 5000 deep", "POST", "/models/sales/predict", b"[" * 5000 + b"]" * 5000, 400, "nested too deeply"),
    ("over limit, Content-Length", "POST", "/models/sales/predict",
     b'{"data": "' + b"x" * OVER + b'"}', 413, "limit"),
    ("over limit, chunked", "POST", "/models/sales/predict", _chunked_over_limit, 413, "limit"),
    ("stream over limit, chunked", "POST", "/models/sensor/stream/s1", _chunked_over_limit, 413, "limit"),
    ("unknown model predict", "POST", "/models/nope/predict", b'{"texts": ["a"]}', 404, "no model 'nope'"),
    ("unknown model info", "GET", "/models/nope", None, 404, "no model"),
    ("unknown model stream", "POST", "/models/nope/stream/s1", b'{"values": [1]}', 404, "no model"),
    ("unknown route", "GET", "/nowhere", None, 404, "no route"),
    ("unknown route POST", "POST", "/models/sales/forecast", b"{}", 404, "no route"),
    ("wrong method GET predict", "GET", "/models/sales/predict", None, 405, "not allowed"),
    ("wrong method PUT stream", "PUT", "/models/sensor/stream/s1", b'{"values": [1]}', 405, "not allowed"),
    ("wrong method POST health", "POST", "/health", b"{}", 405, "not allowed"),
    ("stream on a forecaster", "POST", "/models/sales/stream/s1", b'{"values": [1]}', 400, "no streaming"),
    ("stream row too wide", "POST", "/models/sensor/stream/s1", b'{"values": [1, 2]}', 400,
     "expected 1 value(s) (value), got 2"),
    ("stream rows too wide", "POST", "/models/sensor/stream/s1", b'{"rows": [[1, 2], [3, 4]]}', 400,
     "expected 1 value(s)"),
    ("stream string value", "POST", "/models/sensor/stream/s1", b'{"values": ["1"]}', 400, "not a number"),
    ("stream bool value", "POST", "/models/sensor/stream/s1", b'{"values": [true]}', 400, "not a number"),
    ("stream NaN", "POST", "/models/sensor/stream/s1", b'{"values": [NaN]}', 400, "NaN"),
    ("stream 1e999", "POST", "/models/sensor/stream/s1", b'{"values": [1e999]}', 400, "out of range"),
    ("stream 400-digit integer", "POST", "/models/sensor/stream/s1", b'{"values": [' + b"9" * 400 + b"]}", 400,
     "out of range"),
    ("stream empty last row", "POST", "/models/sensor/stream/s1", b'{"rows": [[1], [2], []]}', 400, "row 2"),
    ("stream empty rows", "POST", "/models/sensor/stream/s1", b'{"rows": []}', 400, "empty"),
    ("stream empty values", "POST", "/models/sensor/stream/s1", b'{"values": []}', 400, "got 0"),
    ("stream unknown key", "POST", "/models/sensor/stream/s1", b'{"value": [1]}', 400, "unknown key"),
    ("stream 10,001 rows", "POST", "/models/sensor/stream/s1", b'{"rows": [' + b",".join([b"[1.0]"] * 10_001) + b"]}",
     400, "send at most 10000"),
    ("stream id too long", "POST", "/models/sensor/stream/" + "x" * 200, b'{"values": [1]}', 400, "stream id"),
    ("stream id bad chars", "POST", "/models/sensor/stream/a%20b", b'{"values": [1]}', 400, "stream id"),
    ("GET unknown stream", "GET", "/models/sensor/stream/never-seen", None, 404, "no stream"),
    ("DELETE unknown stream", "DELETE", "/models/sensor/stream/never-seen", None, 404, "no stream"),
]


def sweep(base: str, detector: AnomalyDetector, series: np.ndarray) -> int:
    """Every SWEEP case against the live server; returns the number of mismatches (must be 0)."""
    wrong = 0
    values = [float(v) for v in series[:40]]
    half = len(values) // 2
    with httpx.Client(base_url=base, timeout=60) as http:
        def step(v: float):
            r = http.post("/models/sensor/stream/kept", json={"values": [v]})
            return r.json()["scores"][0] if r.status_code == 200 else f"{r.status_code} {r.text[:80]}"

        before = [step(v) for v in values[:half]]
        for name, method, path, raw, status, words in SWEEP:
            content = raw() if callable(raw) else raw
            try:
                r = http.request(method, path, content=content, headers={"content-type": "application/json"})
                got, text = r.status_code, r.text
            except httpx.HTTPError as error:  # e.g. the server closed the socket while the body was still going
                got, text = None, repr(error)
            problems = []
            try:
                error = json.loads(text)["error"]
            except (ValueError, KeyError, TypeError):
                error = None
                problems.append("no JSON error")
            if got != status:
                problems.append(f"expected {status}")
            if error is not None and (words not in error or "\n" in error or not isinstance(error, str)):
                problems.append(f"expected {words!r} on one line")
            try:
                if httpx.get(base + "/health", timeout=10).status_code != 200:
                    problems.append("/health not 200 after")
            except httpx.HTTPError as e:
                problems.append(f"/health failed after: {e!r}")
            wrong += bool(problems)
            shown = (error if error is not None else text).replace("\n", " ")[:70]
            print(f"{'ok  ' if not problems else 'FAIL'} {got} {method:6} {name:28} {shown}"
                  + (f"   <- {'; '.join(problems)}" if problems else ""), flush=True)
        leaked = http.get("/models/sensor/stream/s1").status_code
        if leaked != 404:
            wrong += 1
            print(f"FAIL a bad request opened stream s1 (GET gave {leaked})")
        after = [step(v) for v in values[half:]]
        alone = detector.stream()
        expected = [alone.update([v]) for v in values]
        same = before + after == expected
        wrong += not same
        print(f"{'ok  ' if same else 'FAIL'} stream 'kept': {half} steps before the sweep + {len(values) - half} after "
              f"{'equal' if same else 'DIFFER from'} the same {len(values)} values run alone through "
              "AnomalyDetector.load(dir).stream()")
        open_streams = http.get("/health").json()["open_streams"]
        http.delete("/models/sensor/stream/kept")
    print(f"sweep: {len(SWEEP)} bad requests, {wrong} mismatch(es); open streams after the sweep: {open_streams} "
          "(only 'kept')")
    return wrong + (open_streams != 1)


# ------------------------------------------------------------------------------- soak
def soak(base: str, server_pid: int, seconds: float, table: list[dict], series: np.ndarray,
         detector: AnomalyDetector) -> int:
    """8 clients, /predict and /stream alternately, for ``seconds``; RSS every 5 s. Returns failures."""
    sampler = MemorySampler(server_pid, interval=5.0)
    rss0 = rss_mib(server_pid)
    sampler.start()
    requests = SoakRequests(table, series)
    try:
        result = asyncio.run(load(base, 8, seconds, requests))
    finally:
        sampler.done.set()
        sampler.join()
    rss = [rss0] + [s[2] for s in sampler.samples] + [rss_mib(server_pid)]
    streams_wrong = check_soak_streams(requests, detector)
    for k in requests.got:
        httpx.delete(f"{base}/models/sensor/stream/soak-c{k}")
    print(f"soak: 8 clients alternating /predict and /stream for {seconds:.0f} s: {result['requests']} requests, "
          f"{result['rps']:.1f} req/s, p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
          f"{result['failures']} failed" + (f" (first: {result['first_failure']})" if result['failures'] else "")
          + f", streams wrong: {streams_wrong}")
    print(f"server RSS (MiB) at start, every 5 s, at the end ({len(rss)} samples):")
    for i in range(0, len(rss), 12):
        print("  " + " ".join(f"{v:.1f}" for v in rss[i:i + 12]))
    half = rss[len(rss) // 2:]
    print(f"RSS first {rss[0]:.1f}, last {rss[-1]:.1f}, max {max(rss):.1f} MiB; second half "
          f"{min(half):.1f}-{max(half):.1f} MiB (change over it {half[-1] - half[0]:+.1f} MiB)")
    return result["failures"] + streams_wrong


def check_soak_streams(requests: SoakRequests, detector: AnomalyDetector) -> int:
    wrong = 0
    for k, got in requests.got.items():
        alone = detector.stream()
        wrong += got != [alone.update([float(requests.series[i % len(requests.series)])]) for i in range(len(got))]
    return wrong


@contextlib.contextmanager
def serving(root: Path):
    """``lstmkit serve`` of root/sales and root/sensor on a free port; yields (base url, process)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LSTMKIT_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-c", SERVER, "serve", "--model", str(root / "sales"), "--model",
                               str(root / "sensor"), "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                              env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the server did not come up")
            time.sleep(0.2)
        yield base, server
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each level (default 8)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--sweep", action="store_true",
                        help="instead of the load test: the bad-input sweep against the live server")
    parser.add_argument("--soak-seconds", type=float, default=None, metavar="N",
                        help="instead of the load test: 8 clients for N seconds, RSS sampled every 5 s")
    args = parser.parse_args()
    if args.sweep or args.soak_seconds is not None:
        return sweep_and_soak(args)
    return load_test(args)


def sweep_and_soak(args) -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    began = time.perf_counter()
    sales, series = train(root)
    print(f"trained two tiny models in {time.perf_counter() - began:.1f} s", flush=True)
    detector = AnomalyDetector.load(root / "sensor")
    failed = 0
    with serving(root) as (base, server):
        if args.sweep:
            failed += sweep(base, detector, series)
        if args.soak_seconds is not None:
            failed += soak(base, server.pid, args.soak_seconds, sales.to_dict(orient="records"), series, detector)
        alive = server.poll() is None and httpx.get(base + "/health").status_code == 200
    failed += not alive
    print(f"server {'still up' if alive else 'DOWN'} at the end; total {time.perf_counter() - began:.0f} s; "
          f"{'no failure' if not failed else f'{failed} FAILURES'}")
    return 1 if failed else 0


def load_test(args) -> int:
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    began = time.perf_counter()
    sales, series = train(root)
    print(f"trained two tiny models in {time.perf_counter() - began:.1f} s", flush=True)
    rows = []
    with serving(root) as (base, server):
        sampler = MemorySampler(server.pid)
        try:
            sampler.start()
            rss_start = rss_mib(server.pid)
            detector = AnomalyDetector.load(root / "sensor")
            table = sales.to_dict(orient="records")
            for route in ("predict", "stream"):
                for clients in args.clients:
                    sampler.phase = f"{route} x{clients}"
                    requests = PredictRequests(table) if route == "predict" else StreamRequests(clients, series)
                    result = asyncio.run(load(base, clients, args.seconds, requests))
                    result.update(route=route, clients=clients, rss_mib=rss_mib(server.pid))
                    if route == "stream":
                        result["streams_wrong"] = check_streams(requests, detector)
                        for k in requests.got:
                            httpx.delete(f"{base}/models/sensor/stream/l{clients}-c{k}")
                    rows.append(result)
                    print(f"{route:8} {clients:>3} clients: {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} "
                          f"ms  p99 {result['p99_ms']:7.2f} ms  {result['requests']:6d} requests  "
                          f"{result['failures']} failed  RSS {result['rss_mib']:.1f} MiB"
                          + (f"  streams wrong: {result['streams_wrong']}" if route == "stream" else ""), flush=True)
            health = httpx.get(base + "/health").json()
        finally:
            sampler.done.set()
    print()
    print("| route | clients | requests | req/s | p50 ms | p99 ms | failed | server RSS after (MiB) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| /{r['route']} | {r['clients']} | {r['requests']} | {r['rps']:.1f} | {r['p50_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['failures']} | {r['rss_mib']:.1f} |")
    rss = [s[2] for s in sampler.samples]
    print(f"\nserver RSS: {rss_start:.1f} MiB after start-up; over the run ({len(rss)} samples, 1 s apart) "
          f"min {min(rss):.1f}, max {max(rss):.1f}, last {rss[-1]:.1f} MiB; open streams at the end: "
          f"{health['open_streams']}")
    by_phase: dict[str, list[float]] = {}
    for _, phase, value in sampler.samples:
        by_phase.setdefault(phase, []).append(value)
    print("RSS by phase (first -> last sample): " + "; ".join(f"{p} {v[0]:.1f}->{v[-1]:.1f}" for p, v in by_phase.items()))
    failed = sum(r["failures"] for r in rows) + sum(r.get("streams_wrong", 0) for r in rows)
    print(f"total {time.perf_counter() - began:.0f} s; {'no failure' if not failed else f'{failed} FAILURES'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
