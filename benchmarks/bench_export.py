"""Inference out of Python: PyTorch against onnxruntime (float and int8 weights), speed and accuracy.

    python benchmarks/bench_export.py            # about 1-2 minutes on 2 cores
    python benchmarks/bench_export.py --quick    # smaller sizes: a smoke run of the script

Part 1, the LSTM alone: a 2-layer LSTM of H units reading H features, T = 100 steps, batch 1 and
32, one thread everywhere; the best of 20 calls of ``lstmkit.nn.LSTM`` (eval, no grad), of its ONNX
graph (``lstmkit.export.export_lstm_onnx``) in onnxruntime, and of that graph with int8 weights
(``lstmkit.export.onnx.quantize_onnx_int8``), with the int8 outputs' largest and mean relative
deviation from PyTorch's.

Then one step at batch 1 with the state fed in (a live stream's cost), for four sizes: the LSTM
module, lstmkit's NumPy streamer and the ONNX graph in onnxruntime.

Part 2, a task: the action recogniser on JapaneseVowels (needs ``lstmkit[motion-data]``; skipped
without it), trained with its defaults (seed 0), then the test part classified by PyTorch, by the float
graph and by the int8 graph: accuracy and the share of test sequences whose label changes.

Part 3 (``--part paths``), the other ``--quantize int8`` paths at the tasks' default network sizes, each
model the application's PyTorch module against :func:`lstmkit.export.runtime.quantized_model`'s stand-in,
one thread, batch 1 and 32, best of 20: the forecaster (windows in, quantiles out), the anomaly next-step
predictor (a 200-step series; PyTorch in float64, what ``detect`` runs, and float32) and autoencoder
(windows), a video action model (16 frames of 64 x 64) and a translator (its encoder, one decoder step,
and greedy decoding of 1 and 32 sentences end to end, per generated token). Then accuracy where it is cheap:
the forecaster on AirPassengers (``lstmkit[forecast-data]``; default settings, seed 0; test MASE of PyTorch
and of int8) and an anomaly detector on a noisy sine with injected anomalies (event F1 and flags changed).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lstmkit.errors import MissingDependencyError
from lstmkit.export import export_lstm_onnx, export_run_onnx
from lstmkit.export.onnx import quantize_onnx_int8
from lstmkit.nn import LSTM


def best(call, repeats: int = 20) -> float:
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def session(path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def bench_lstm(folder: Path, sizes: tuple[int, ...]) -> None:
    print(f"{'H':>5}{'batch':>7}{'torch ms':>10}{'ort fp32 ms':>13}{'ort int8 ms':>13}{'int8 vs torch':>15}"
          f"{'int8 max dev':>14}{'mean rel dev':>14}")
    for hidden in sizes:
        torch.manual_seed(0)
        lstm = LSTM(hidden, hidden, 2, batch_first=True).eval()
        floating = export_lstm_onnx(lstm, folder / f"lstm{hidden}.onnx")
        int8 = quantize_onnx_int8(floating, folder / f"lstm{hidden}.int8.onnx")
        s32, s8 = session(floating), session(int8)
        for batch in (1, 32):
            x = torch.randn(batch, 100, hidden)
            with torch.no_grad():
                reference = lstm(x)[0].numpy()
                t_torch = best(lambda: lstm(x))
            feed = {"input": x.numpy()}
            t32, t8 = best(lambda: s32.run(["output"], feed)), best(lambda: s8.run(["output"], feed))
            deviation = np.abs(s8.run(["output"], feed)[0] - reference)
            print(f"{hidden:>5}{batch:>7}{t_torch * 1e3:>10.2f}{t32 * 1e3:>13.2f}{t8 * 1e3:>13.2f}"
                  f"{t_torch / t8:>14.1f}x{deviation.max():>14.4f}{deviation.mean() / np.abs(reference).mean():>14.4f}",
                  flush=True)


def bench_one_step(folder: Path) -> None:
    """One step at batch 1 with the state carried, what a live stream costs: the LSTM module, lstmkit's
    NumPy streamer (what `anomaly watch` and `serve`'s streams run) and the ONNX graph in onnxruntime."""
    print(f"\n{'one step, batch 1':24}{'nn.LSTM us':>12}{'streamer us':>13}{'onnxruntime us':>16}")
    for hidden, layers, features in ((32, 1, 1), (64, 2, 1), (128, 2, 8), (256, 2, 8)):
        torch.manual_seed(0)
        lstm = LSTM(features, hidden, layers, batch_first=True).eval()
        s32 = session(export_lstm_onnx(lstm, folder / f"step{hidden}.onnx"))
        x = torch.randn(1, 1, features)
        state = (torch.zeros(layers, 1, hidden), torch.zeros(layers, 1, hidden))
        with torch.no_grad():
            t_module = best(lambda: lstm(x, state), repeats=300)
        streamer, row = lstm.streamer(1), x[0].numpy().astype(np.float64)
        t_streamer = best(lambda: streamer.step(row), repeats=300)
        feed = {"input": x.numpy(), "h0": state[0].numpy(), "c0": state[1].numpy()}
        t_ort = best(lambda: s32.run(None, feed), repeats=300)
        label = f"{layers} x {hidden} units, {features} in"
        print(f"{label:24}{t_module * 1e6:>12.0f}{t_streamer * 1e6:>13.0f}{t_ort * 1e6:>16.0f}", flush=True)


def bench_task(folder: Path, quick: bool) -> None:
    from lstmkit.data import pad_sequences
    from lstmkit.tasks.action import ActionConfig, ActionRecognizer, read_examples

    name = "japanese_vowels"
    try:
        app = ActionRecognizer(ActionConfig(epochs=3 if quick else None, baselines=False)).fit(name)
    except MissingDependencyError as error:
        print(f"{name}: skipped: {error}")
        return
    run = folder / "jv"
    app.save(run)
    floating, int8 = export_run_onnx(run), export_run_onnx(run, quantize="int8")
    examples = read_examples(name, app.config)  # labelled, with the archive's train/test split
    test = [i for i, part in enumerate(examples.split) if part == "test"]
    x, lengths = pad_sequences([app.network_input(examples.x[i]) for i in test])
    truth = np.array([app.classes.index(examples.labels[i]) for i in test])
    with torch.no_grad():
        by_torch = app.model((x, lengths)).argmax(-1).numpy()
    feeds = {"x": x.numpy(), "lengths": lengths.numpy()}
    labels = {"PyTorch": by_torch}
    for label, path in (("onnxruntime float", floating), ("onnxruntime int8", int8)):
        labels[label] = session(path).run(None, feeds)[0].argmax(-1)
    print(f"\n{name}: {len(test)} test sequences")
    for label, predicted in labels.items():
        changed = (predicted != by_torch).mean()
        print(f"  {label:20} accuracy {(predicted == truth).mean():.3f}   labels different from PyTorch's: {changed:.1%}")


# ------------------------------------------------------------------------------ part 3: the int8 paths
def _row(label: str, batch: int, t_torch: float, t_int8: float, note: str = "") -> None:
    print(f"{label:34}{batch:>6}{t_torch * 1e3:>11.2f}{t_int8 * 1e3:>11.2f}{t_torch / t_int8:>9.1f}x  {note}",
          flush=True)


def bench_paths(folder: Path, quick: bool) -> None:
    from lstmkit.export.runtime import quantized_model

    print(f"\n{'int8 path (default sizes)':34}{'batch':>6}{'torch ms':>11}{'int8 ms':>11}{'speed-up':>10}")
    _forecaster_speed(folder, quantized_model)
    _anomaly_speed(folder, quantized_model)
    _video_speed(folder, quantized_model, quick)
    _translator_speed(folder, quantized_model, quick)


def _timed_pair(module, int8, make, batches=(1, 32), dtype=None):
    """(batch, torch seconds, int8 seconds, largest |difference|) of module(inputs) and int8(inputs)."""
    rows = []
    for batch in batches:
        inputs = make(batch)
        torch_inputs = inputs if dtype is None else tuple(t.to(dtype) for t in inputs)
        with torch.no_grad():
            reference = module(*torch_inputs)
            t_torch = best(lambda: module(*torch_inputs))
        got = int8(*inputs)
        t_int8 = best(lambda: int8(*inputs))
        first = (lambda y: y[0] if isinstance(y, tuple) else y)
        rows.append((batch, t_torch, t_int8, float((first(got).double() - first(reference).double()).abs().max())))
    return rows


def _forecaster_speed(folder: Path, quantized_model) -> None:
    from lstmkit.tasks.forecast import ForecastConfig, Forecaster

    t = np.arange(400)
    table = {"value": 10 + np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(0).normal(size=400)}
    import pandas as pd

    fc = Forecaster(ForecastConfig(targets=["value"], season=12, epochs=2)).fit(pd.DataFrame(table))
    fc.save(folder / "fc")
    W, K = fc.state.input_width, fc.state.horizon
    module, int8 = fc.model.eval(), quantized_model(folder / "fc")
    for batch, a, b, dev in _timed_pair(lambda *x: module(x), lambda *x: int8(x),
                                        lambda n: (torch.randn(n, W, 1), torch.randn(n, K, 1))):
        _row(f"forecaster 3 x 32 units, W={W}", batch, a, b, f"max |diff| {dev:.4f} (relative scale)")


def _anomaly_speed(folder: Path, quantized_model) -> None:
    import pandas as pd

    from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector

    t = np.arange(1000)
    table = pd.DataFrame({"value": np.sin(2 * np.pi * t / 25) + 0.1 * np.random.default_rng(0).normal(size=1000)})
    for method in ("prediction", "reconstruction"):
        det = AnomalyDetector(AnomalyConfig(columns=["value"], method=method, epochs=2, train_fraction=0.5)).fit(table)
        det.save(folder / method)
        float64, int8 = det.inference_model(), quantized_model(folder / method)
        float32 = det.model.eval()
        if method == "prediction":
            make, label = (lambda n: (torch.randn(n, 200, 1),)), "anomaly next-step 32 units, T=200"
        else:
            W = det.config.window
            make, label = (lambda n: (torch.randn(n, W, 1),)), f"anomaly autoencoder 32 units, W={W}"
        for (batch, a, b, dev), (_, a32, _, _) in zip(_timed_pair(float64, int8, make, dtype=torch.float64),
                                                      _timed_pair(float32, int8, make)):
            _row(label, batch, a, b, f"max |diff| {dev:.4f}; PyTorch float32 {a32 * 1e3:.2f} ms")


def _video_speed(folder: Path, quantized_model, quick: bool) -> None:
    import importlib.util

    if importlib.util.find_spec("av") is None:
        print("video action model: skipped (needs lstmkit[video])")
        return
    from lstmkit.tasks.action import ActionConfig, ActionRecognizer
    from lstmkit.tasks.action.synth import write_synthetic_clips

    clips = folder / "clips"
    write_synthetic_clips(clips, clips_per_class=4, frames=16, size=64, seed=0, motions=["left", "right"])
    app = ActionRecognizer(ActionConfig(epochs=1, batch_size=4)).fit(clips)
    app.save(folder / "video")
    module, int8 = app.model.eval(), quantized_model(folder / "video")
    hidden = app.model.hidden_size
    for batch, a, b, dev in _timed_pair(lambda *x: module(x), lambda *x: int8(x), lambda n: (
            torch.randint(0, 256, (n, 16, 64, 64, 3), dtype=torch.uint8), torch.full((n,), 16)),
            batches=(1, 8) if quick else (1, 32)):
        _row(f"video action, CNN + {hidden} units", batch, a, b, f"max |logit diff| {dev:.4f}")


def _translator_speed(folder: Path, quantized_model, quick: bool) -> None:
    """A translator of the default network size (128 + 128 units, Luong attention, input feeding) on a made-up
    word corpus with a large vocabulary (the output layer's size matters), trained one epoch, <eos> suppressed
    so that greedy decoding writes the same number of tokens (25 per 10-token sentence) either way: speed only."""
    import copy

    import pandas as pd

    from lstmkit.tasks.translate import TranslateConfig, Translator

    rng = np.random.default_rng(0)
    words = 3000
    mapping = rng.permutation(words)
    rows = []
    for _ in range(150 if quick else 500):
        ids = rng.integers(0, words, rng.integers(6, 15))
        rows.append((" ".join(f"s{i}" for i in ids), " ".join(f"t{mapping[i]}" for i in ids)))
    pairs = pd.DataFrame(rows, columns=["src", "tgt"])
    tr = Translator(TranslateConfig(tokenizer="word", min_freq=1, epochs=1)).fit(pairs)
    with torch.no_grad():  # one epoch ends every sentence at once: no <eos>, so that each runs to its length limit
        tr.model.generator.bias[3] = -1e4
    tr.save(folder / "mt")
    model, int8 = tr.model.eval(), quantized_model(folder / "mt")
    V = model.tgt_vocab_size

    def sources(n):
        g = torch.Generator().manual_seed(n)
        return torch.randint(4, model.src_vocab_size, (n, 10), generator=g), torch.full((n,), 10)

    for batch, a, b, dev in _timed_pair(model.initial_state, int8.initial_state, sources):
        _row("translator encoder, S=10", batch, a, b, f"max |diff| {dev:.4f} (h)")
    for rows_ in (1, 32, 160):
        src, lengths = sources(rows_)
        state = model.initial_state(src, lengths)
        tokens = torch.full((rows_,), 2)
        with torch.no_grad():
            t_torch = best(lambda: model.step(tokens, state))
        t_int8 = best(lambda: int8.step(tokens, state))
        _row(f"translator decoder step, V={V}", rows_, t_torch, t_int8, "rows (160 = 32 sentences x beam 5)")
    quantized = copy.copy(tr)
    quantized.model = int8
    for n in (1, 32):
        texts = list(pairs["src"].iloc[:n])
        timings, counts = [], []
        for app in (tr, quantized):
            found = app.search(texts, method="greedy")
            counts.append(sum(len(h[0].tokens) + h[0].finished for h in found))
            timings.append(best(lambda: app.search(texts, method="greedy"), repeats=3 if n > 1 else 10))
        _row("translator greedy, per token", n, timings[0] / counts[0], timings[1] / counts[1],
             f"{counts[0]} / {counts[1]} tokens written (PyTorch / int8)")


def bench_accuracy(folder: Path, quick: bool) -> None:
    """AirPassengers: test MASE of the default forecaster in PyTorch and through its int8 graph; an anomaly
    detector on a noisy sine with injected anomalies: event F1 and flags changed."""
    import pandas as pd

    from lstmkit.export.runtime import use_int8
    from lstmkit.tasks.anomaly import AnomalyConfig, AnomalyDetector
    from lstmkit.tasks.anomaly.inject import inject_anomalies
    from lstmkit.tasks.forecast import ForecastConfig, Forecaster

    print()
    try:
        from lstmkit.data.datasets import load_dataset

        air = load_dataset("airpassengers")
    except MissingDependencyError as error:
        print(f"airpassengers: skipped: {error}")
    else:
        fc = Forecaster(ForecastConfig(targets=["passengers"], time_column="date", seed=0,
                                       **({"epochs": 20} if quick else {}))).fit(air)
        fc.save(folder / "air")
        floating = fc.evaluate(air)
        use_int8(fc, folder / "air")
        int8 = fc.evaluate(air)
        moved = np.abs(int8["forecasts"]["forecast"] - floating["forecasts"]["forecast"])
        print(f"airpassengers forecaster: test MASE PyTorch {floating['model']['mase']:.4f}, int8 "
              f"{int8['model']['mase']:.4f}; forecasts moved by at most {moved.max():.3f} thousand passengers "
              f"(mean {moved.mean():.3f}) over {len(moved)} test points")

    rng = np.random.default_rng(0)
    t = np.arange(3000)
    clean = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 7) + 0.1 * rng.normal(size=3000)
    values, labels = inject_anomalies(clean, 1500, 3000, seed=0)
    table = pd.DataFrame({"value": values, "label": labels})
    for method in ("prediction", "reconstruction"):
        det = AnomalyDetector(AnomalyConfig(columns=["value"], method=method, train_until=1500,
                                            epochs=10 if quick else 30)).fit(table)
        det.save(folder / f"inj-{method}")
        floating = det.detect(table, labels="label", eval_from=1500)
        use_int8(det, folder / f"inj-{method}")
        int8 = det.detect(table, labels="label", eval_from=1500)
        a, b = floating["scores"], int8["scores"]
        changed = int((a["is_anomaly"] != b["is_anomaly"]).sum())
        f1 = ["-" if r["metrics"]["model"]["f1"] is None else f"{r['metrics']['model']['f1']:.3f}"
              for r in (floating, int8)]
        print(f"anomaly {method} on a sine with {int(labels.sum())} injected anomalous points: event F1 PyTorch "
              f"{f1[0]}, int8 {f1[1]}; flags changed {changed} of {len(a)}; largest error difference "
              f"{np.nanmax(np.abs(a['error'] - b['error'])):.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", choices=["all", "lstm", "task", "paths"], default="all",
                        help="lstm: part 1; task: part 2; paths: part 3 (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="lstmkit-bench-export-") as tmp:
        if args.part in ("all", "lstm"):
            bench_lstm(Path(tmp), (64, 128) if args.quick else (64, 128, 256, 512))
            bench_one_step(Path(tmp))
        if args.part in ("all", "task"):
            bench_task(Path(tmp), args.quick)
        if args.part in ("all", "paths"):
            bench_paths(Path(tmp), args.quick)
            bench_accuracy(Path(tmp), args.quick)


if __name__ == "__main__":
    main()
