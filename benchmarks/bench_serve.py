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

    python benchmarks/bench_serve.py [--seconds 8] [--clients 1 8 64]
"""
from __future__ import annotations

import argparse
import asyncio
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
    """The server's RSS once a second, with the phase it was taken in."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.phase, self.samples, self.done = pid, "idle", [], threading.Event()

    def run(self) -> None:
        while not self.done.wait(1.0):
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0, help="length of each level (default 8)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    began = time.perf_counter()
    sales, series = train(root)
    print(f"trained two tiny models in {time.perf_counter() - began:.1f} s", flush=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, LSTMKIT_NUM_THREADS="1")
    server = subprocess.Popen([sys.executable, "-c", SERVER, "serve", "--model", str(root / "sales"), "--model",
                               str(root / "sensor"), "--host", "127.0.0.1", "--port", str(port), "--threads", "1"],
                              env=env)
    sampler = MemorySampler(server.pid)
    rows = []
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
                print(f"{route:8} {clients:>3} clients: {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.2f} ms  "
                      f"p99 {result['p99_ms']:7.2f} ms  {result['requests']:6d} requests  {result['failures']} failed  "
                      f"RSS {result['rss_mib']:.1f} MiB" + (f"  streams wrong: {result['streams_wrong']}"
                                                           if route == "stream" else ""), flush=True)
        health = httpx.get(base + "/health").json()
    finally:
        sampler.done.set()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
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
