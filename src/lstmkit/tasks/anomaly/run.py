"""The run functions beyond training: ``detect`` (a table in, a directory of results out) and ``watch``
(a live feed in, one JSON line per step out). Training is :func:`lstmkit.tasks.base.train_run`."""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Iterable, TextIO

from lstmkit.files import atomic_write_text, check_run_dir, write_json
from lstmkit.tasks.anomaly.detector import AnomalyDetector
from lstmkit.tasks.anomaly.plots import anomalies_plot

__all__ = ["detect_run", "parse_line", "watch"]


def detect_run(model_dir: str | Path, data, out: str | Path, *, labels: str | None = None,
               eval_from: int | str | None = None, quantize: str | None = None) -> dict:
    """``lstmkit anomaly detect``: write scores.csv, anomalies.csv, anomalies.png and (with labels)
    metrics.json to ``out``. Everything is read and computed before the first file is written.
    ``quantize="int8"``: the errors come from the model's int8 ONNX graph (:func:`lstmkit.export.runtime.use_int8`)
    instead of its float64 copy; the threshold and everything after it are the same code."""
    out = check_run_dir(out, resumable=False)
    detector = AnomalyDetector.load(model_dir)
    if quantize:
        from lstmkit.export.runtime import use_int8

        use_int8(detector, model_dir)
    result = detector.detect(data, labels=labels, eval_from=eval_from)
    scores, truth = result["scores"], result["labels"]
    table = scores if truth is None else scores.assign(label=truth.astype(int))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "scores.csv", table.to_csv(index=False))
    atomic_write_text(out / "anomalies.csv", result["anomalies"].to_csv(index=False))
    if result["metrics"] is not None:
        write_json(out / "metrics.json", result["metrics"])
    count = len(result["anomalies"])
    title = f"{detector.config.method} detector: {count or 'no'} anomalous interval{'' if count == 1 else 's'}"
    if result["metrics"] is not None and result["metrics"]["model"]["f1"] is not None:
        m = result["metrics"]["model"]
        title += f"; event precision {m['precision']:.2f}, recall {m['recall']:.2f}, F1 {m['f1']:.2f}"
    anomalies_plot(scores, detector.config.columns, detector.calibration, out / "anomalies.png", labels=truth,
                   title=title, time_label=detector.state.time_column or "row",
                   train_end=detector.state.split.get("train_end"))
    return result


def parse_line(line: str, n_features: int) -> list[float]:
    """One watch input line -> values; ValueError with the reason for a malformed line."""
    parts = [p.strip() for p in line.strip().split(",")]
    if len(parts) != n_features:
        raise ValueError(f"expected {n_features} comma-separated value(s), got {len(parts)}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ValueError("not a number: " + next(p for p in parts if not _is_float(p))[:40]) from None
    if not all(math.isfinite(v) for v in values):
        raise ValueError("values must be finite numbers")
    return values


def _is_float(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def watch(detector: AnomalyDetector, lines: Iterable[str], out: TextIO | None = None,
          err: TextIO | None = None) -> dict:
    """``lstmkit anomaly watch``: one JSON line per input line, flushed as it goes.

    Each record is ``{"step": i, "score": s, "is_anomaly": b}``. The first steps print
    ``"score": null``: the warm-up (``AnomalyConfig.warmup`` rows, at least one for the prediction
    detector, whose first point has no forecast) is left unscored while the LSTM state, which starts
    at zero, settles; ``detect`` leaves the same rows unscored. The reconstruction detector scores a
    point once every window holding it has been seen, so its first W - 1 lines print
    ``"step": null`` and each later line scores the point W - 1 steps back.

    A malformed line (wrong count, not a number, not finite) is reported on ``err`` with its line
    number and skipped: the state is left as it was and the watch goes on. Blank lines, and a first
    line naming the trained columns (a CSV header), are ignored. When no line could be scored (an
    empty input, say) one line on ``err`` says so.
    Returns ``{"scored": n, "skipped": m, "anomalies": k}``.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    stream = detector.stream()
    n_features = stream.n_features
    scored = skipped = anomalies = 0
    header = [c.strip() for c in detector.config.columns]
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if number == 1 and [p.strip() for p in line.split(",")] == header:
            continue  # a CSV header naming the trained columns: not data, not an error
        try:
            values = parse_line(line, n_features)
            record = stream.update(values)
        except ValueError as error:
            skipped += 1
            print(f"lstmkit: line {number} skipped: {error}", file=err, flush=True)
            continue
        scored += 1
        anomalies += record["is_anomaly"]
        out.write(json.dumps(record) + "\n")
        out.flush()
    if not scored:
        reason = f"all {skipped} line(s) were skipped" if skipped else "the input was empty"
        print(f"lstmkit: no values were read ({reason}); nothing was scored", file=err, flush=True)
    return {"scored": scored, "skipped": skipped, "anomalies": anomalies}
