"""``lstmkit translate train|run|evaluate|export``.

Parses arguments into :class:`~lstmkit.tasks.translate.config.TranslateConfig` and calls
:mod:`lstmkit.tasks.translate`; nothing else.
"""
from __future__ import annotations

import csv
import sys

from lstmkit.cli.common import (add_config_options, add_model_option, add_quantize_option, add_run_options, add_task,
                                add_threads_option, add_verb, run_values, existing_file, model_dir, positive_int,
                                run_dir, use_threads)
from lstmkit.errors import UsageError
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP
from lstmkit.tasks.translate.config import TranslateConfig

TRAIN_COMMAND = "lstmkit translate train"

# TranslateConfig fields given as options one to one (``--hidden-size`` for hidden_size, ...).
TRAIN_OPTIONS = ["src_column", "tgt_column", "group_column", "tokenizer", "vocab_size", "lower", "min_freq",
                 "max_vocab", "max_length", "embedding_dim", "hidden_size", "num_layers", "bidirectional", "attention",
                 "score", "input_feed", "bridge", "dropout", *CELL_FIELDS, "label_smoothing", "batch_size", "lr",
                 "patience", "val_fraction", "test_fraction", "beam", "length_penalty", "replace_unk", "max_minutes"]
HELP = {
    "src_column": "column of the source sentences (default: the first)",
    "tgt_column": "column of their translations (default: the second)",
    "group_column": "documents or books: each goes whole to train, validation or test (default: split by sentence)",
    "tokenizer": "subwords (BPE, learned on the training part) or words",
    "vocab_size": "BPE pieces per side, specials included",
    "lower": "word level: lower-case everything",
    "min_freq": "word level: rarer words become <unk>",
    "max_vocab": "word level: vocabulary entries per side",
    "max_length": "training pairs with more tokens on a side are left out of training",
    "embedding_dim": "token embedding size (both sides)",
    "hidden_size": "decoder units (the encoder's two directions share this many)",
    "num_layers": "encoder and decoder layers",
    "bidirectional": "read the source both ways",
    "attention": "luong: current decoder state, multiplicative; bahdanau: previous state, additive",
    "score": "Luong's score: general (h W h_s) or dot (h h_s)",
    "input_feed": "Luong: feed the last attentional vector back into the decoder",
    "bridge": "decoder initial state from the encoder's final state: copy, dense (tanh layer) or zero",
    "dropout": "dropout on embeddings, between layers and on the attentional vector",
    "label_smoothing": "share of the target probability spread over the vocabulary",
    "batch_size": "sentence pairs per batch",
    "lr": "Adam learning rate (halved when the validation loss stalls)",
    "patience": "epochs without a better validation loss before stopping",
    "val_fraction": "share of the pairs (whole groups) for validation",
    "test_fraction": "share of the pairs (whole groups) for the test",
    "beam": "beam width used by default at translation and evaluation",
    "length_penalty": "GNMT length penalty alpha (0: raw log-probability)",
    "max_minutes": "stop before an epoch that would end past this many minutes of training",
    "replace_unk": "replace an output <unk> by the source token with the most attention (default: on for words)",
    **CELL_HELP,
    "cell": "encoder and decoder " + CELL_HELP["cell"],
}
CHOICES = {"tokenizer": ["bpe", "word"], "attention": ["luong", "bahdanau"], "score": ["general", "dot"],
           "bridge": ["copy", "dense", "zero"], **CELL_CHOICES}


def add_parser(sub) -> None:
    verbs = add_task(sub, "translate", help="machine translation: an LSTM encoder-decoder with attention")

    train = add_verb(verbs, "train", help="train on sentence pairs; report BLEU/chrF vs copy and lexical baselines")
    _add_data(train)
    add_config_options(train, TranslateConfig, TRAIN_OPTIONS, help=HELP, flags={"num_layers": "--layers"},
                       choices=CHOICES)
    add_run_options(train, resume=True)
    train.set_defaults(run=run_train)

    run = add_verb(verbs, "run", help="translate sentences given as arguments, or lines from standard input")
    add_model_option(run, TRAIN_COMMAND)
    run.add_argument("text", nargs="*", metavar="TEXT", help="sentences to translate (default: read standard input, "
                                                             "one sentence per line)")
    _add_decoding(run)
    run.add_argument("--show-attention", metavar="FILE.png", default=None,
                     help="draw the attention of the sentences given (up to 6) into this PNG")
    add_threads_option(run)
    add_quantize_option(run)
    run.set_defaults(run=run_translate)

    evaluate = add_verb(verbs, "evaluate", help="BLEU and chrF of a saved model on sentence pairs, vs the baselines")
    add_model_option(evaluate, TRAIN_COMMAND)
    _add_data(evaluate)
    evaluate.add_argument("--src-column", default=None, help="default: the training run's, else the first column")
    evaluate.add_argument("--tgt-column", default=None, help="default: the training run's, else the second column")
    evaluate.add_argument("--test-part", action="store_true",
                          help="score only the test part of the training split (give the training data)")
    evaluate.add_argument("--beam", type=positive_int, default=None, help="beam width (default: the model's)")
    evaluate.add_argument("--out", metavar="DIR", default=None,
                          help="write metrics.json and translations.csv into this new directory")
    add_threads_option(evaluate)
    add_quantize_option(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    export = add_verb(verbs, "export", help="write a ready-made parallel corpus as TSV: bible (en-es) or numbers")
    export.add_argument("corpus", choices=["bible", "numbers"], help="bible: KJV / Reina-Valera 1909 verses (needs the "
                        "Debian packages sword-text-kjv and sword-text-sparv); numbers: num2words English -> French")
    export.add_argument("path", metavar="FILE.tsv", help="where to write the pairs")
    export.add_argument("--sword-root", default=None, metavar="DIR", help="bible: a `dpkg -x` directory of the two "
                        "packages (default: $LSTMKIT_SWORD_ROOT, lstmkit's cache, or installed)")
    export.add_argument("--count", type=positive_int, default=5000, help="numbers: how many pairs (default 5000)")
    export.add_argument("--source", default="en", help="numbers: 'digits' or a num2words language (default en)")
    export.set_defaults(run=run_export)


def _add_data(parser) -> None:
    parser.add_argument("data", metavar="PAIRS.tsv", help="a TSV/CSV file with a header, or the source-side text file "
                        "of two aligned files (then give the target file too)")
    parser.add_argument("target_file", nargs="?", metavar="TARGET.txt", default=None,
                        help="the target-side file of two aligned text files, one sentence per line")


def _data_argument(args):
    if args.target_file is None:
        return str(existing_file(args.data))
    return (str(existing_file(args.data)), str(existing_file(args.target_file)))


def _add_decoding(parser) -> None:
    parser.add_argument("--beam", type=positive_int, default=None, help="beam width; 1 = greedy (default: the model's)")
    parser.add_argument("--n-best", type=positive_int, default=1, help="translations per sentence (beam search)")
    parser.add_argument("--sample", action="store_true", help="sample each token instead of searching")
    parser.add_argument("--temperature", type=float, default=1.0, help="--sample: softmax temperature (default 1)")
    parser.add_argument("--top-k", type=positive_int, default=None, help="--sample: among the K most likely tokens")
    parser.add_argument("--top-p", type=float, default=None, help="--sample: among the most likely tokens holding "
                                                                  "this much probability")
    parser.add_argument("--seed", type=int, default=None, help="--sample: same seed, same translation")
    parser.add_argument("--length-penalty", type=float, default=None, help="GNMT alpha (default: the model's)")
    parser.add_argument("--coverage-penalty", type=float, default=None, help="GNMT beta (default 0)")
    parser.add_argument("--no-repeat-ngram-size", type=int, default=None, metavar="N",
                        help="never repeat an N-gram within a translation")
    parser.add_argument("--max-len-a", type=float, default=None, help="translations end at a * source tokens + b")
    parser.add_argument("--max-len-b", type=int, default=None, help="see --max-len-a")
    parser.add_argument("--replace-unk", action="store_true", default=None,
                        help="replace <unk> by the most attended source token (default: the model's)")
    parser.add_argument("--no-replace-unk", dest="replace_unk", action="store_false")


def _search_options(args) -> dict:
    if args.sample:
        if args.n_best != 1:
            raise UsageError("--n-best needs beam search; --sample gives one translation per sentence")
        method = "sample"
    else:
        method = "greedy" if args.beam == 1 and args.n_best == 1 else "beam"
    if not args.sample and any(v is not None for v in (args.top_k, args.top_p, args.seed)):
        raise UsageError("--top-k, --top-p and --seed apply to --sample")
    options = dict(method=method, n_best=args.n_best, length_penalty=args.length_penalty,
                   coverage_penalty=args.coverage_penalty, no_repeat_ngram_size=args.no_repeat_ngram_size,
                   max_len_a=args.max_len_a, max_len_b=args.max_len_b, replace_unk=args.replace_unk)
    if method == "beam":
        options["beam"] = args.beam
    if method == "sample":
        options.update(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p, seed=args.seed)
    return options


def run_train(args) -> int:
    from lstmkit.tasks.base import train_run
    from lstmkit.tasks.translate import Translator

    config = TranslateConfig(**run_values(args, TRAIN_OPTIONS))
    data = _data_argument(args)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "translate")
    translator = Translator(config)
    result = train_run(translator, data, out, resume=args.resume, progress=True)
    split = result["split"]
    print(f"{split['train']}/{split['val']}/{split['test']} train/val/test pairs (split by {split['by']}, seed "
          f"{split['seed']}); vocabulary {split['source_vocab']} source / {split['target_vocab']} target "
          f"{translator.config.tokenizer} tokens; {result['epochs']} epochs")
    _print_scores(result, beam=translator.config.beam)
    print(f"run directory: {out}  (metrics.json, translations.csv, attention.png, model.safetensors)")
    return 0


def _print_scores(result: dict, beam: int) -> None:
    print(f"{'':24}{'BLEU':>8}{'chrF':>8}")
    rows = [(f"LSTM, beam {beam}", result["model"]["beam"]), ("LSTM, greedy", result["model"]["greedy"]),
            ("lexical baseline", result["baselines"]["lexical"]), ("copy baseline", result["baselines"]["copy"])]
    for name, m in rows:
        print(f"{name:24}{m['bleu']:>8.2f}{m['chrf']:>8.2f}")


def _load(args):
    """The saved translator, its threads set; with ``--quantize int8`` its encoder and decoder step run as int8
    ONNX graphs in onnxruntime, driven by the same searches (:class:`lstmkit.export.runtime.OnnxTranslator`)."""
    from lstmkit.tasks.translate import Translator

    translator = Translator.load(model_dir(args.model))
    use_threads(args, translator.config.hidden_size)  # before the sessions are made: they take torch's count
    if args.quantize:
        from lstmkit.export.runtime import use_int8

        use_int8(translator, model_dir(args.model))
    return translator


def run_translate(args) -> int:
    options = _search_options(args)
    translator = _load(args)
    if args.text:
        for i, text in enumerate(args.text):
            if not text.strip():
                raise UsageError(f"sentence {i + 1} is empty: give a sentence to translate")
        lines = list(args.text)
    elif sys.stdin is None or sys.stdin.isatty():
        raise UsageError("give sentences to translate as arguments, or pipe them in one per line")
    else:
        lines = None
    shown = []
    source = lines if lines is not None else sys.stdin
    for number, line in enumerate(source, start=1):
        text = line.rstrip("\n")
        if not text.strip():  # a blank input line gives a blank output line: the lines stay aligned
            print("", flush=True)
            continue
        hypotheses = translator.search([text], **options)[0]
        if args.n_best == 1:
            print(hypotheses[0].text, flush=True)
        else:
            for rank, hyp in enumerate(hypotheses, start=1):
                print(f"{number}\t{rank}\t{hyp.score:.4f}\t{hyp.text}", flush=True)
        if args.show_attention and len(shown) < 6:
            shown.append(hypotheses[0])
    if args.show_attention:
        from lstmkit.tasks.translate.plots import attention_plot

        if not shown:
            raise UsageError("--show-attention: no sentence was translated")
        path = attention_plot(shown, args.show_attention)
        print(f"attention of {len(shown)} sentence(s) drawn in {path}", file=sys.stderr)
    return 0


def run_evaluate(args) -> int:
    from lstmkit.files import check_run_dir, write_json

    translator = _load(args)
    out = check_run_dir(args.out, resumable=False) if args.out else None
    data = _data_argument(args)
    if args.test_part:
        if args.src_column or args.tgt_column:
            raise UsageError("--test-part uses the training run's columns; leave out --src-column/--tgt-column")
        result = translator.evaluate(data, beam=args.beam)
        what = f"the test part ({result['split']['test']} pairs)"
    else:
        pairs = translator.read(data, src_column=args.src_column, tgt_column=args.tgt_column, groups=False)
        result = translator.score_pairs(pairs, beam=args.beam)
        what = f"all {len(pairs)} pairs"
    print(f"{args.data}: {what}")
    _print_scores(result, beam=result["decoding"]["beam"])
    translations = result.pop("translations")
    if out is not None:
        from lstmkit.files import atomic_write_text

        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "translations.csv", translations.to_csv(index=False))
        write_json(out / "metrics.json", result)
        print(f"wrote {out / 'metrics.json'} and {out / 'translations.csv'}")
    return 0


def run_export(args) -> int:
    from lstmkit.files import atomic_write_text
    from lstmkit.tasks.translate.data import load_bible_pairs, number_pairs

    if args.corpus == "bible":
        frame = load_bible_pairs(args.sword_root)
        what = "English-Spanish verse pairs (columns book, chapter, verse, en, es; split with --group-column book)"
        frame = frame[["book", "chapter", "verse", "en", "es"]]
    else:
        frame = number_pairs(args.count, source=args.source)
        what = f"number pairs (columns {', '.join(frame.columns)})"
    atomic_write_text(args.path, frame.to_csv(sep="\t", index=False, quoting=csv.QUOTE_NONE))
    print(f"wrote {len(frame)} {what} to {args.path}")
    return 0
