"""English -> Spanish translation on the verse-aligned Bible: the LSTM translator against two baselines.

    python benchmarks/bench_translate.py                # short verses of the whole Bible (about 9 minutes)
    python benchmarks/bench_translate.py --quick        # 2 epochs on 3,000 verses: a smoke run of the script
    python benchmarks/bench_translate.py --max-words 30 --epochs 20   # longer verses, longer training

Data: the King James Version and the Reina-Valera 1909 from the Debian packages ``sword-text-kjv`` and
``sword-text-sparv`` (:func:`lstmkit.tasks.translate.data.load_bible_pairs`). If lstmkit cannot find
them (``--sword-root``, ``$LSTMKIT_SWORD_ROOT``, lstmkit's cache, or installed with apt), this script
runs ``apt-get download sword-text-kjv sword-text-sparv`` (Debian's package archive: the two .deb
files, about 5.5 MB) in ``<cache>/sword-debs`` and unpacks them with ``dpkg -x`` into
``<cache>/sword``; it says so before doing it. lstmkit itself never downloads them.

Protocol: verses whose English text has at most ``--max-words`` words (default 18: 9,824 pairs, about
a third of the Bible, 14 words on average), split by book (whole books to the validation and test
parts, seed 0), trained with the defaults of ``lstmkit translate train`` (BPE 3,000 pieces per side,
embeddings of 128, a bidirectional LSTM encoder of 2 x 64 units, a 128-unit LSTM decoder with Luong
attention and input feeding, dropout 0.2, label smoothing 0.1, Adam 3e-3 on batches of 32, at most 18
epochs). BLEU and chrF (sacrebleu) on the test books for greedy and beam search (width 5), next to the
copy and the word-by-word lexical baselines on the same verses. The pairs are written beside the run
directory (``runs/bench-translate-pairs.tsv``); the same run from the command line::

    lstmkit translate train runs/bench-translate-pairs.tsv --src-column en --tgt-column es --group-column book
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from lstmkit.data.datasets import cache_dir
from lstmkit.errors import InputFileError
from lstmkit.runtime import set_num_threads
from lstmkit.tasks.base import train_run
from lstmkit.tasks.translate import TranslateConfig, Translator
from lstmkit.tasks.translate.data import BIBLE_PACKAGES, find_sword_root, load_bible_pairs


def bible(sword_root: str | None):
    try:
        return load_bible_pairs(sword_root)
    except InputFileError:
        if sword_root is not None:
            raise
    debs, root = cache_dir() / "sword-debs", cache_dir() / "sword"
    print(f"The SWORD Bibles are not installed: fetching the Debian packages {' and '.join(BIBLE_PACKAGES)} with "
          f"`apt-get download` into {debs} and unpacking them with `dpkg -x` into {root}", flush=True)
    if shutil.which("apt-get") is None or shutil.which("dpkg") is None:
        sys.exit("this needs apt-get and dpkg (Debian or Ubuntu); elsewhere get the two .deb files yourself and "
                 "pass --sword-root")
    debs.mkdir(parents=True, exist_ok=True)
    subprocess.run(["apt-get", "download", *BIBLE_PACKAGES], cwd=debs, check=True)
    for deb in sorted(debs.glob("*.deb")):
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    find_sword_root(root)
    return load_bible_pairs(root)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="runs/bench-translate", help="run directory (replaced)")
    parser.add_argument("--sword-root", default=None, help="a dpkg -x directory holding the two SWORD modules")
    parser.add_argument("--max-words", type=int, default=18, help="keep verses of at most this many English words")
    parser.add_argument("--epochs", type=int, default=None, help="default: lstmkit's")
    parser.add_argument("--threads", default="auto", help="torch threads: 'auto' (default, as the command line: "
                        "one thread for the default 128 units) or a number")
    parser.add_argument("--quick", action="store_true", help="2 epochs on the first 3,000 short verses")
    args = parser.parse_args()

    frame = bible(args.sword_root)
    short = frame[frame["en"].str.split().str.len() <= args.max_words].reset_index(drop=True)
    if args.quick:
        short = short.iloc[:3000]
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    data = out.parent / f"{out.name}-pairs.tsv"
    short[["book", "chapter", "verse", "en", "es"]].to_csv(data, sep="\t", index=False, quoting=csv.QUOTE_NONE)
    values = {"epochs": 2 if args.quick else args.epochs} if (args.quick or args.epochs) else {}
    config = TranslateConfig(src_column="en", tgt_column="es", group_column="book", **values)
    threads = set_num_threads(int(args.threads) if args.threads.isdigit() else args.threads,
                              hidden_size=config.hidden_size)
    print(f"{len(short):,} verse pairs of at most {args.max_words} English words ({len(frame):,} in the Bible); "
          f"{threads} thread(s), {os.cpu_count()} cores", flush=True)
    translator = Translator(config)
    start = time.perf_counter()
    result = train_run(translator, str(data), out / "run", progress=True)
    total = time.perf_counter() - start
    train_seconds = sum(row["seconds"] for row in translator.history)
    split = result["split"]
    print(f"\nsplit by book (seed 0): train/val/test {split['train']}/{split['val']}/{split['test']} verses; "
          f"test books: {', '.join(split['groups']['test'])}; validation books: {', '.join(split['groups']['val'])}")
    print(f"vocabulary: {split['source_vocab']} English / {split['target_vocab']} Spanish BPE pieces; "
          f"{split['train_left_out_long']} training verses over max_length left out")
    print(f"training: {result['epochs']} epochs, {train_seconds:.0f} s ({train_seconds / 60:.1f} min) on {threads} "
          f"thread(s); whole run with evaluation {total:.0f} s")
    print(f"\n{'English -> Spanish, test books':34}{'BLEU':>8}{'chrF':>8}")
    rows = [("LSTM, beam 5", result["model"]["beam"]), ("LSTM, greedy", result["model"]["greedy"]),
            ("lexical (Dice, word by word)", result["baselines"]["lexical"]),
            ("copy the source", result["baselines"]["copy"])]
    for name, m in rows:
        print(f"{name:34}{m['bleu']:>8.2f}{m['chrf']:>8.2f}")
    print(f"sacrebleu: BLEU {result['signatures']['bleu']}; chrF {result['signatures']['chrf']}")
    tr = Translator.load(out / "run")
    examples = ["In the beginning God created the heaven and the earth.", "Jesus wept.",
                "And God said, Let there be light: and there was light."]
    print("\nexamples (the first two are from training books):")
    for sentence, translated in zip(examples, tr.translate(examples)):
        print(f"  {sentence}\n    -> {translated}")
    summary = {"pairs": len(short), "max_words": args.max_words, "threads": threads, "train_seconds": train_seconds,
               "total_seconds": total, "metrics": json.loads((out / "run" / "metrics.json").read_text())}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nrun directory: {out / 'run'} (metrics.json, translations.csv, attention.png)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
