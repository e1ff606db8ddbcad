"""``lstmkit text lm train|generate|next`` and ``lstmkit text classify train|predict``.

Parses arguments into the task's config and calls :mod:`lstmkit.tasks.text`; nothing else.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from lstmkit.cli import UsageError, add_common_options


def add_parser(sub) -> None:
    parser = sub.add_parser("text", help="language models (next word) and text classifiers (sentiment)")
    kinds = parser.add_subparsers(dest="kind", metavar="<lm|classify>")
    _add_lm(kinds)
    _add_classify(kinds)
    parser.set_defaults(run=lambda args: (parser.print_help(sys.stderr), 2)[1])


# ------------------------------------------------------------------------------------ language model
def _add_lm(kinds) -> None:
    lm = kinds.add_parser("lm", help="LSTM language model: train on a text file, continue prompts")
    verbs = lm.add_subparsers(dest="verb", metavar="<verb>")

    train = verbs.add_parser("train", help="train on a plain-text corpus; report val/test perplexity vs n-grams")
    train.add_argument("corpus", metavar="CORPUS.txt", help="a UTF-8 text file")
    train.add_argument("--level", choices=["word", "char"], default="word",
                       help="tokens: words (default) or characters")
    train.add_argument("--hidden-size", type=int, default=256)
    train.add_argument("--layers", type=int, default=2, help="stacked LSTM layers (default 2)")
    train.add_argument("--embedding-dim", type=int, default=None,
                       help="default: the hidden size (needed for weight tying)")
    train.add_argument("--dropout", type=float, default=0.3)
    train.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=True,
                       help="share the embedding and output matrices (default: on)")
    train.add_argument("--bptt", type=int, default=None,
                       help="tokens per truncated-BPTT segment (default 35 words / 100 chars)")
    train.add_argument("--batch-size", type=int, default=32, help="parallel rows of the text (default 32)")
    train.add_argument("--lr", type=float, default=3e-3)
    train.add_argument("--min-freq", type=int, default=None,
                       help="rarer tokens become <unk> (default 2 words / 1 char)")
    train.add_argument("--max-vocab", type=int, default=20000, help="vocabulary entries, specials included")
    train.add_argument("--max-chars", type=int, default=None, help="read only the first N characters of the corpus")
    add_common_options(train)
    train.set_defaults(run=run_lm_train)

    generate = verbs.add_parser("generate", help="continue a prompt, sampling token by token")
    generate.add_argument("--model", required=True, metavar="DIR", help="run directory of `text lm train`")
    generate.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    generate.add_argument("--length", type=int, default=50, help="tokens to generate (default 50)")
    generate.add_argument("--temperature", type=float, default=0.8, help="0 = always the most likely (default 0.8)")
    generate.add_argument("--top-k", type=int, default=None, help="sample among the K most likely tokens only")
    generate.add_argument("--seed", type=int, default=None, help="same seed, same text")
    generate.add_argument("--threads", default="auto")
    generate.set_defaults(run=run_lm_generate)

    nxt = verbs.add_parser("next", help="the most likely next words after a prompt, with probabilities")
    nxt.add_argument("--model", required=True, metavar="DIR", help="run directory of `text lm train`")
    nxt.add_argument("prompt", metavar="TEXT")
    nxt.add_argument("--top", type=int, default=5, help="how many (default 5)")
    nxt.add_argument("--threads", default="auto")
    nxt.set_defaults(run=run_lm_next)
    lm.set_defaults(run=lambda args: (lm.print_help(sys.stderr), 2)[1])


def _read_corpus(path: str, max_chars: int | None = None) -> str:
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"{path} is not UTF-8 text (byte {error.start}); convert it first, e.g. with iconv") from None
    if max_chars is not None:
        if max_chars < 1:
            raise UsageError(f"--max-chars must be a positive integer, got {max_chars}")
        text = text[:max_chars]
    if not text.strip():
        raise UsageError(f"{path}: the corpus is empty")
    return text


def _threads(args, hidden_size: int = 64) -> None:
    """Training: by model size (lstmkit.runtime). Inference steps one text or token at a time, where one
    thread is as fast as two (PERF.md): the default hidden_size=64 gives one thread for 'auto'."""
    from lstmkit.runtime import set_num_threads

    set_num_threads(int(args.threads) if str(args.threads).isdigit() else "auto", hidden_size=hidden_size)


def _out(args, task: str) -> Path:
    return Path(args.out) if args.out else Path("runs") / f"{task}-{time.strftime('%Y%m%d-%H%M%S')}"


def _model_dir(path: str) -> str:
    if not Path(path).is_dir():
        raise FileNotFoundError(f"--model {path}: no such directory")
    return path


def run_lm_train(args) -> int:
    from lstmkit.tasks.text import LMConfig, train_lm

    values = dict(level=args.level, hidden_size=args.hidden_size, num_layers=args.layers,
                  embedding_dim=args.embedding_dim, dropout=args.dropout, tie_weights=args.tie_weights,
                  bptt=args.bptt, batch_size=args.batch_size, lr=args.lr, min_freq=args.min_freq,
                  max_vocab=args.max_vocab, seed=args.seed)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    config = LMConfig(**values)
    text = _read_corpus(args.corpus, args.max_chars)
    _threads(args, config.hidden_size)
    out = _out(args, "text-lm")
    result = train_lm(config, text, out)
    split = result["split"]
    print(f"{split['tokens']} {config.level} tokens (train/val/test {split['train'][1]}/"
          f"{split['val'][1] - split['val'][0]}/{split['test'][1] - split['test'][0]}), vocabulary "
          f"{split['vocab_size']}, test <unk> rate {split['test_unk_rate']:.1%}")
    names = [n for n in ("val_perplexity", "test_perplexity", "test_bits_per_char") if n in result["model"]]
    print(f"{'':20}" + "".join(f"{n:>20}" for n in names))
    for name, metrics in [("LSTM (lstmkit)", result["model"]), *result["baselines"].items()]:
        print(f"{name:20}" + "".join(f"{metrics[n]:>20.3f}" for n in names))
    print(f"run directory: {out}  (metrics.json, sample.txt, model.safetensors)")
    return 0


def run_lm_generate(args) -> int:
    from lstmkit.tasks.text import LanguageModel, join_prompt

    _threads(args)
    lm = LanguageModel.load(_model_dir(args.model))
    text = lm.generate(args.prompt, args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    print(join_prompt(args.prompt, text, lm.config.level))
    return 0


def run_lm_next(args) -> int:
    from lstmkit.tasks.text import LanguageModel

    _threads(args)
    lm = LanguageModel.load(_model_dir(args.model))
    if not args.prompt.strip():
        raise UsageError("the prompt is empty: give the start of a sentence, e.g. \"to be or not to\"")
    for token, p in lm.next_words(args.prompt, args.top):
        shown = {"<eos>": "<end of line>", "\n": "<newline>", " ": "<space>"}.get(token, token)
        print(f"{shown}\t{p:.4f}")
    return 0


# ---------------------------------------------------------------------------------------- classify
def _add_classify(kinds) -> None:
    classify = kinds.add_parser("classify", help="LSTM text classifier (sentiment or any labels in a CSV)")
    verbs = classify.add_subparsers(dest="verb", metavar="<verb>")

    train = verbs.add_parser("train", help="train on a labelled CSV; report accuracy/macro-F1 vs TF-IDF + LR")
    train.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    train.add_argument("--text-column", required=True, metavar="COL")
    train.add_argument("--label-column", required=True, metavar="COL")
    train.add_argument("--bidirectional", action="store_true", help="read each text both ways")
    train.add_argument("--pooling", choices=["max", "mean", "last"], default="max")
    train.add_argument("--hidden-size", type=int, default=128)
    train.add_argument("--embedding-dim", type=int, default=100)
    train.add_argument("--layers", type=int, default=1)
    train.add_argument("--dropout", type=float, default=0.5)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--lr", type=float, default=2e-3)
    train.add_argument("--min-freq", type=int, default=2, help="rarer words become <unk> (default 2)")
    train.add_argument("--max-length", type=int, default=400, help="tokens read per text (default 400)")
    train.add_argument("--monitor", choices=["accuracy", "loss"], default="accuracy",
                       help="validation metric for early stopping and the weights kept (default accuracy)")
    train.add_argument("--test-fraction", type=float, default=0.2)
    train.add_argument("--val-fraction", type=float, default=0.1)
    add_common_options(train)
    train.set_defaults(run=run_classify_train)

    predict = verbs.add_parser("predict", help="label texts with a saved classifier")
    predict.add_argument("--model", required=True, metavar="DIR", help="run directory of `text classify train`")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", metavar="TEXT", help="one text to label")
    source.add_argument("--input", metavar="FILE", help="a text file, one text per line (blank lines skipped)")
    predict.add_argument("--out", metavar="FILE.csv", help="write every class's probability here")
    predict.add_argument("--threads", default="auto")
    predict.set_defaults(run=run_classify_predict)
    classify.set_defaults(run=lambda args: (classify.print_help(sys.stderr), 2)[1])


def run_classify_train(args) -> int:
    from lstmkit.tasks.text import ClassifyConfig, train_classifier

    values = dict(text_column=args.text_column, label_column=args.label_column, bidirectional=args.bidirectional,
                  pooling=args.pooling, hidden_size=args.hidden_size, embedding_dim=args.embedding_dim,
                  num_layers=args.layers, dropout=args.dropout, batch_size=args.batch_size, lr=args.lr,
                  min_freq=args.min_freq, max_length=args.max_length, test_fraction=args.test_fraction,
                  val_fraction=args.val_fraction, monitor=args.monitor, seed=args.seed)
    if args.epochs is not None:
        values["epochs"] = args.epochs
    config = ClassifyConfig(**values)
    _threads(args, config.hidden_size)
    out = _out(args, "text-classify")
    result = train_classifier(config, args.data, out)
    split = result["split"]
    print(f"{split['train']}/{split['val']}/{split['test']} train/val/test rows (stratified, seed {config.seed}), "
          f"classes: {', '.join(split['classes'])}")
    print(f"{'':20}{'accuracy':>10}{'macro-F1':>10}")
    for name, metrics in [("LSTM (lstmkit)", result["model"]), *result["baselines"].items()]:
        print(f"{name:20}{metrics['accuracy']:>10.3f}{metrics['macro_f1']:>10.3f}")
    print("confusion matrix (rows: true, columns: predicted): " + str(result["model"]["confusion_matrix"]))
    print(f"run directory: {out}  (metrics.json, predictions.csv, model.safetensors)")
    return 0


def run_classify_predict(args) -> int:
    from lstmkit.tasks.text import TextClassifier

    _threads(args)
    if args.input:
        file = Path(args.input)
        if not file.is_file():
            raise FileNotFoundError(f"--input {args.input}: no such file")
        try:
            texts = [line for line in file.read_text(encoding="utf-8").splitlines() if line.strip()]
        except UnicodeDecodeError:
            raise UsageError(f"--input {args.input} is not UTF-8 text") from None
        if not texts:
            raise UsageError(f"--input {args.input} holds no text (every line is blank)")
    else:
        if not args.text.strip():
            raise UsageError("the text is empty: give a sentence to label")
        texts = [args.text]
    clf = TextClassifier.load(_model_dir(args.model))
    frame = clf.predict(texts)
    if args.out:
        from lstmkit.train.checkpoint import atomic_write_text

        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"wrote {len(frame)} predictions to {args.out}")
        return 0
    for label, p, text in zip(frame["label"], frame["probability"], frame["text"]):
        print(f"{label}\t{p:.4f}\t{text}")
    return 0
