"""``lstmkit text lm train|generate|next`` and ``lstmkit text classify train|predict``.

Parses arguments into the task's config and calls :mod:`lstmkit.tasks.text`; nothing else.
"""
from __future__ import annotations

from lstmkit.cli.common import (add_config_options, add_model_option, add_quantize_option, add_run_options, add_task,
                                add_threads_option, add_verb, run_values, model_dir, positive_int, read_text_file, run_dir,
                                use_threads)
from lstmkit.errors import UsageError
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP
from lstmkit.tasks.text.config import ClassifyConfig, LMConfig

LM_TRAIN_COMMAND = "lstmkit text lm train"
CLASSIFY_TRAIN_COMMAND = "lstmkit text classify train"
# Inference steps one text or token at a time, where one thread is as fast as two (docs/performance.md):
# this hidden size gives one thread for --threads auto.
INFERENCE_HIDDEN_SIZE = 64

# LMConfig / ClassifyConfig fields given as options one to one (``--hidden-size`` for hidden_size, ...).
LM_OPTIONS = ["level", "hidden_size", "num_layers", "embedding_dim", "dropout", *CELL_FIELDS, "tie_weights", "bptt",
              "batch_size", "lr", "min_freq", "max_vocab"]
LM_HELP = {
    "level": "tokens: words or characters",
    "hidden_size": "LSTM units per layer",
    "num_layers": "stacked LSTM layers",
    "embedding_dim": "embedding size (default: the hidden size, needed for weight tying)",
    "dropout": "dropout on the embeddings, between LSTM layers and before the output layer",
    "tie_weights": "share the embedding and output matrices",
    "bptt": "tokens per truncated-BPTT segment (default 35 words / 100 chars)",
    "batch_size": "parallel rows of the text",
    "lr": "Adam learning rate",
    "min_freq": "rarer tokens become <unk> (default 2 words / 1 char)",
    "max_vocab": "vocabulary entries, specials included",
    **CELL_HELP,
}
CLASSIFY_OPTIONS = ["text_column", "label_column", "bidirectional", "pooling", "hidden_size", "embedding_dim",
                    "num_layers", "dropout", *CELL_FIELDS, "batch_size", "lr", "min_freq", "max_length", "monitor",
                    "test_fraction", "val_fraction"]
CLASSIFY_HELP = {
    "text_column": "column holding the texts",
    "label_column": "column holding the labels",
    "bidirectional": "read each text both ways",
    "pooling": "how the LSTM's outputs over a text become one vector: maximum, mean or final state",
    "hidden_size": "LSTM units per layer and direction",
    "embedding_dim": "word embedding size",
    "num_layers": "stacked LSTM layers",
    "dropout": "dropout on the embeddings, between LSTM layers and before the output layer",
    "batch_size": "texts per batch",
    "lr": "Adam learning rate",
    "min_freq": "rarer words become <unk>",
    "max_length": "tokens read per text",
    "monitor": "validation metric for early stopping and the weights kept",
    "test_fraction": "share of the rows (of each class) held out for the test",
    "val_fraction": "share of the rows (of each class) for validation",
    **CELL_HELP,
}


def add_parser(sub) -> None:
    kinds = add_task(sub, "text", help="language models (next word) and text classifiers (sentiment)",
                     dest="kind", metavar="<lm|classify>")
    _add_lm(kinds)
    _add_classify(kinds)


# ------------------------------------------------------------------------------------ language model
def _add_lm(kinds) -> None:
    lm = add_verb(kinds, "lm", help="LSTM language model: train on a text file, continue prompts")
    verbs = lm.add_subparsers(dest="verb", metavar="<verb>")

    train = add_verb(verbs, "train", help="train on a plain-text corpus; report val/test perplexity vs n-grams")
    train.add_argument("corpus", metavar="CORPUS.txt", help="a UTF-8 text file")
    add_config_options(train, LMConfig, LM_OPTIONS, help=LM_HELP, flags={"num_layers": "--layers"},
                       choices={"level": ["word", "char"], **CELL_CHOICES})
    train.add_argument("--max-chars", type=positive_int, default=None, metavar="N",
                       help="read only the first N characters of the corpus")
    add_run_options(train, resume=True)
    train.set_defaults(run=run_lm_train)

    generate = add_verb(verbs, "generate", help="continue a prompt, sampling token by token")
    add_model_option(generate, LM_TRAIN_COMMAND)
    generate.add_argument("--prompt", default="", help="text to continue (default: start a new line)")
    generate.add_argument("--length", type=positive_int, default=50, help="tokens to generate (default 50)")
    generate.add_argument("--temperature", type=float, default=0.8, help="0 = always the most likely (default 0.8)")
    generate.add_argument("--top-k", type=positive_int, default=None, metavar="K",
                          help="sample among the K most likely tokens only")
    generate.add_argument("--seed", type=int, default=None, help="same seed, same text (default: a fresh draw)")
    add_threads_option(generate)
    generate.set_defaults(run=run_lm_generate)

    nxt = add_verb(verbs, "next", help="the most likely next words after a prompt, with probabilities")
    add_model_option(nxt, LM_TRAIN_COMMAND)
    nxt.add_argument("prompt", metavar="TEXT", help="the start of a sentence")
    nxt.add_argument("--top", type=positive_int, default=5, help="how many (default 5)")
    add_threads_option(nxt)
    nxt.set_defaults(run=run_lm_next)


def _read_corpus(path: str, max_chars: int | None = None) -> str:
    text = read_text_file(path)
    if max_chars is not None:
        text = text[:max_chars]
    if not text.strip():
        raise UsageError(f"{path}: the corpus is empty")
    return text


def run_lm_train(args) -> int:
    from lstmkit.tasks.base import train_run
    from lstmkit.tasks.text import LanguageModel

    config = LMConfig(**run_values(args, LM_OPTIONS))
    text = _read_corpus(args.corpus, args.max_chars)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "text-lm")
    lm = LanguageModel(config)
    result = train_run(lm, text, out, resume=args.resume, progress=True)
    split, level = result["split"], lm.config.level
    print(f"{split['tokens']} {level} tokens (train/val/test {split['train'][1]}/"
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

    use_threads(args, INFERENCE_HIDDEN_SIZE)
    lm = LanguageModel.load(model_dir(args.model))
    text = lm.generate(args.prompt, args.length, temperature=args.temperature, top_k=args.top_k, seed=args.seed)
    print(join_prompt(args.prompt, text, lm.config.level))
    return 0


def run_lm_next(args) -> int:
    from lstmkit.tasks.text import LanguageModel

    use_threads(args, INFERENCE_HIDDEN_SIZE)
    lm = LanguageModel.load(model_dir(args.model))
    if not args.prompt.strip():
        raise UsageError("the prompt is empty: give the start of a sentence, e.g. \"to be or not to\"")
    for token, p in lm.next_words(args.prompt, args.top):
        shown = {"<eos>": "<end of line>", "\n": "<newline>", " ": "<space>"}.get(token, token)
        print(f"{shown}\t{p:.4f}")
    return 0


# ---------------------------------------------------------------------------------------- classify
def _add_classify(kinds) -> None:
    classify = add_verb(kinds, "classify", help="LSTM text classifier (sentiment or any labels in a CSV)")
    verbs = classify.add_subparsers(dest="verb", metavar="<verb>")

    train = add_verb(verbs, "train", help="train on a labelled CSV; report accuracy/macro-F1 vs TF-IDF + LR")
    train.add_argument("data", metavar="DATA.csv", help="a CSV file with a header row")
    add_config_options(train, ClassifyConfig, CLASSIFY_OPTIONS, help=CLASSIFY_HELP, flags={"num_layers": "--layers"},
                       choices={"pooling": ["max", "mean", "last"], "monitor": ["accuracy", "loss"], **CELL_CHOICES},
                       required=["text_column", "label_column"])
    add_run_options(train, resume=True)
    train.set_defaults(run=run_classify_train)

    predict = add_verb(verbs, "predict", help="label texts with a saved classifier")
    add_model_option(predict, CLASSIFY_TRAIN_COMMAND)
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("text", nargs="?", metavar="TEXT", help="one text to label")
    source.add_argument("--input", metavar="FILE", help="a text file, one text per line (blank lines skipped)")
    predict.add_argument("--out", metavar="FILE.csv", help="write every class's probability here")
    add_threads_option(predict)
    add_quantize_option(predict)
    predict.set_defaults(run=run_classify_predict)


def run_classify_train(args) -> int:
    from lstmkit.tasks.base import train_run
    from lstmkit.tasks.text import TextClassifier

    config = ClassifyConfig(**run_values(args, CLASSIFY_OPTIONS))
    use_threads(args, config.hidden_size)
    out = run_dir(args, "text-classify")
    clf = TextClassifier(config)
    result = train_run(clf, args.data, out, resume=args.resume, progress=True)
    split = result["split"]
    print(f"{split['train']}/{split['val']}/{split['test']} train/val/test rows (stratified, seed "
          f"{clf.config.seed}), classes: {', '.join(split['classes'])}")
    print(f"{'':20}{'accuracy':>10}{'macro-F1':>10}")
    for name, metrics in [("LSTM (lstmkit)", result["model"]), *result["baselines"].items()]:
        print(f"{name:20}{metrics['accuracy']:>10.3f}{metrics['macro_f1']:>10.3f}")
    print("confusion matrix (rows: true, columns: predicted): " + str(result["model"]["confusion_matrix"]))
    print(f"run directory: {out}  (metrics.json, predictions.csv, model.safetensors)")
    return 0


def run_classify_predict(args) -> int:
    from lstmkit.files import atomic_write_text
    from lstmkit.tasks.text import TextClassifier

    use_threads(args, INFERENCE_HIDDEN_SIZE)
    if args.input:
        texts = [line for line in read_text_file(args.input, "--input").splitlines() if line.strip()]
        if not texts:
            raise UsageError(f"--input {args.input} holds no text (every line is blank)")
    else:
        if not args.text.strip():
            raise UsageError("the text is empty: give a sentence to label")
        texts = [args.text]
    clf = TextClassifier.load(model_dir(args.model))
    if args.quantize:
        from lstmkit.export.runtime import quantized_model

        clf.model = quantized_model(model_dir(args.model))
    frame = clf.predict(texts)
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"wrote {len(frame)} predictions to {args.out}")
        return 0
    for label, p, text in zip(frame["label"], frame["probability"], frame["text"]):
        print(f"{label}\t{p:.4f}\t{text}")
    return 0
