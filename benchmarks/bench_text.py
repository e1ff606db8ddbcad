"""Text tasks on real data: Shakespeare language model vs Kneser-Ney n-grams; sentiment vs TF-IDF + LR.

    python benchmarks/bench_text.py                 # all three parts (about 15-25 minutes on 2 busy cores)
    python benchmarks/bench_text.py --part lm       # Shakespeare only;  --part rt / --part vader
    python benchmarks/bench_text.py --quick         # smaller settings, a smoke run of the script

Each part goes through the same code as the command line (``lstmkit.tasks.text``), writes its run
directory under ``--out`` (default ``runs/bench-text``) and prints one line per model with the wall
time. The VADER gold sets ship only in the vaderSentiment sdist: this script fetches it once with
``pip download --no-deps --no-binary :all: vaderSentiment==3.3.2`` into lstmkit's cache.

Shakespeare subset: six tragedies concatenated in this order (about 227k word tokens):
hamlet, macbeth, lear, othello, romeo_and_juliet, julius_caesar; split 80/10/10 in order.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pandas as pd

from lstmkit.data.datasets import cache_dir, load_dataset
from lstmkit.runtime import set_num_threads
from lstmkit.tasks.base import train_run
from lstmkit.tasks.text import ClassifyConfig, LanguageModel, LMConfig, TextClassifier

TRAGEDIES = ["hamlet", "macbeth", "lear", "othello", "romeo_and_juliet", "julius_caesar"]
VADER = "vaderSentiment==3.3.2"


def shakespeare_subset() -> str:
    works = load_dataset("shakespeare").set_index("work")["text"]
    return "\n".join(works[w] for w in TRAGEDIES)


def bench_lm(out: Path, quick: bool) -> dict:
    text = shakespeare_subset()
    if quick:
        text = text[:200_000]
    # = `lstmkit text lm train tragedies.txt --hidden-size 128 --max-vocab 10000 --epochs 6` (README):
    # 2 layers, tied weights, dropout 0.3, bptt 35, 32 rows, min_freq 2, Adam 3e-3 are the defaults.
    config = LMConfig(level="word", hidden_size=128, max_vocab=10000, epochs=2 if quick else 6)
    set_num_threads("auto", hidden_size=config.hidden_size)
    start = time.perf_counter()
    result = train_run(LanguageModel(config), text, out / "shakespeare-lm")
    seconds = time.perf_counter() - start
    split = result["split"]
    print(f"\nShakespeare, six tragedies ({len(text):,} characters, {split['tokens']:,} word tokens, vocabulary "
          f"{split['vocab_size']:,}, test <unk> rate {split['test_unk_rate']:.1%}); {result['epochs']} epochs, "
          f"{seconds:.0f} s wall (training + evaluation + baselines)")
    print(f"{'':22}{'val perplexity':>16}{'test perplexity':>16}")
    for name, m in [("LSTM 2x128, tied", result["model"]), *result["baselines"].items()]:
        print(f"{name:22}{m['val_perplexity']:>16.1f}{m['test_perplexity']:>16.1f}")
    print("sample:", (out / "shakespeare-lm" / "sample.txt").read_text()[:300].replace("\n", " / "))
    return {"config": config.to_dict(), "seconds": seconds, **result}


def bench_classify(name: str, frame: pd.DataFrame, out: Path, quick: bool, bidirectional: bool) -> dict:
    path = out / f"{name}.csv"
    frame.to_csv(path, index=False)
    # = `lstmkit text classify train X.csv --text-column text --label-column label --epochs 10 [--bidirectional]`:
    # embedding 100, hidden 128, max pooling, dropout 0.5, min_freq 2, early stopping on validation accuracy
    # (patience 3) are the defaults.
    config = ClassifyConfig(text_column="text", label_column="label", bidirectional=bidirectional,
                            epochs=2 if quick else 10)
    set_num_threads("auto", hidden_size=config.hidden_size)
    start = time.perf_counter()
    run = out / f"{name}-{'bilstm' if bidirectional else 'lstm'}"
    result = train_run(TextClassifier(config), str(path), run)
    seconds = time.perf_counter() - start
    counts = frame["label"].value_counts().to_dict()
    split = result["split"]
    print(f"\n{name}: {len(frame):,} texts {counts}; train/val/test {split['train']}/{split['val']}/{split['test']} "
          f"(stratified, seed 0); {'bi' if bidirectional else ''}LSTM, {result['epochs']} epochs, {seconds:.0f} s wall")
    print(f"{'':22}{'accuracy':>10}{'macro-F1':>10}")
    for label, m in [(("BiLSTM" if bidirectional else "LSTM") + " (lstmkit)", result["model"]),
                     *result["baselines"].items()]:
        print(f"{label:22}{m['accuracy']:>10.3f}{m['macro_f1']:>10.3f}")
    return {"config": config.to_dict(), "seconds": seconds, **result}


def vader_sets() -> dict[str, pd.DataFrame]:
    """Movie snippets and tweets with their mean human rating (-4..+4) -> positive / negative (0 dropped)."""
    target = cache_dir() / "vader-3.3.2"
    if not target.is_dir():
        download = cache_dir() / ".vader-download"
        download.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", VADER,
                        "-d", str(download), "--quiet"], check=True)
        sdist = next(download.glob("vaderSentiment-*.tar.gz"))
        staging = target.with_name(".vader-staging")
        staging.mkdir(parents=True, exist_ok=True)
        with tarfile.open(sdist) as outer:
            inner_name = "additional_resources/hutto_ICWSM_2014.tar.gz"
            member = next(m for m in outer.getmembers() if m.name.endswith(inner_name))
            with tarfile.open(fileobj=outer.extractfile(member)) as inner:
                for m in inner.getmembers():
                    if m.isfile() and m.name.endswith("_GroundTruth.txt"):
                        (staging / Path(m.name).name).write_bytes(inner.extractfile(m).read())
        staging.rename(target)
        shutil.rmtree(download, ignore_errors=True)
    sets = {}
    files = {"vader_movies": "movieReviewSnippets_GroundTruth.txt", "vader_tweets": "tweets_GroundTruth.txt"}
    for name, file in files.items():
        rows = []
        for line in (target / file).read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split("\t")
            if len(parts) >= 3 and parts[2].strip():
                score = float(parts[1])
                if score != 0:
                    rows.append((parts[2].strip(), "positive" if score > 0 else "negative"))
        sets[name] = pd.DataFrame(rows, columns=["text", "label"])
    return sets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "lm", "rt", "vader"], default="all")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default="runs/bench-text")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    summary = {}
    if args.part in ("all", "lm"):
        summary["shakespeare_lm"] = bench_lm(out, args.quick)
    if args.part in ("all", "rt"):
        rt = load_dataset("rotten_tomatoes")[["text", "label"]]
        summary["rotten_tomatoes"] = bench_classify("rotten_tomatoes", rt, out, args.quick, bidirectional=False)
        summary["rotten_tomatoes_bi"] = bench_classify("rotten_tomatoes", rt, out, args.quick, bidirectional=True)
    if args.part in ("all", "vader"):
        for name, frame in vader_sets().items():
            summary[name] = bench_classify(name, frame, out, args.quick, bidirectional=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"\nsummary: {out / 'summary.json'}")


if __name__ == "__main__":
    main()
