"""``lstmkit speech train|transcribe|evaluate|synth|export``.

Parses arguments into :class:`~lstmkit.tasks.speech.config.SpeechConfig` and calls
:mod:`lstmkit.tasks.speech`; nothing else.
"""
from __future__ import annotations

import sys
from pathlib import Path

from lstmkit.cli.common import (add_config_options, add_model_option, add_run_options, add_task, add_threads_option,
                                add_verb, model_dir, positive_int, run_dir, run_values, use_threads)
from lstmkit.errors import UsageError
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP
from lstmkit.tasks.speech.config import FEATURE_KINDS, NORMALIZATIONS, TASKS, SpeechConfig

TRAIN_COMMAND = "lstmkit speech train"
MAX_PLOTS = 20

OPTIONS = ["task", "features", "n_mels", "n_mfcc", "f_max", "normalize", "time_masks", "freq_masks", "conv_channels",
           "hidden_size", "num_layers", "dropout", *CELL_FIELDS, "batch_size", "lr", "patience", "val_fraction",
           "test_fraction", "beam", "baselines", "sample_rate", "device"]
HELP = {
    "task": "ctc: transcribe characters; keywords: one label per utterance (spoken digits, commands)",
    "features": "log-mel filterbank energies or MFCCs",
    "n_mels": "mel filters",
    "n_mfcc": "cepstral coefficients kept (--features mfcc)",
    "f_max": "top of the mel filterbank in Hz (default: half the sample rate; 3800 to match 8 kHz phone audio)",
    "normalize": "auto: each utterance by its own mean/deviation, or by the training part's for --unidirectional",
    "time_masks": "SpecAugment time masks per utterance while training (0: off)",
    "freq_masks": "SpecAugment frequency masks per utterance while training (0: off)",
    "conv_channels": "a stride-2 convolution with this many channels before the LSTM (0: none)",
    "hidden_size": "LSTM units per layer and direction",
    "num_layers": "stacked LSTM layers",
    "dropout": "dropout between layers",
    "batch_size": "utterances per training step",
    "lr": "Adam learning rate",
    "patience": "stop after this many epochs without a better validation loss",
    "val_fraction": "share of speakers (or files) held out for early stopping",
    "test_fraction": "share of speakers (or files) held out for the test metrics",
    "beam": "prefix beam width reported next to best path",
    "baselines": "also run 1-NN DTW against one template per word",
    "sample_rate": "audio is resampled to this rate",
    "device": "'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:1'",
    **CELL_HELP,
}
CHOICES = {"task": list(TASKS), "features": list(FEATURE_KINDS), "normalize": list(NORMALIZATIONS), **CELL_CHOICES}
CORPUS_HELP = ("a folder of audio files (WAV/FLAC/OGG) with labels.csv or labels.tsv (path,transcript[,speaker]"
               "[,split]), such a file, or a folder whose sub-folders or file names are the labels")


def add_parser(sub) -> None:
    verbs = add_task(sub, "speech", help="speech recognition: a (bi)LSTM with CTC over characters, or keywords",
                     metavar="<train|transcribe|evaluate|synth|export>")

    train = add_verb(verbs, "train", help="train on a corpus; report CER/WER against the DTW baseline")
    train.add_argument("corpus", metavar="CORPUS", help=CORPUS_HELP)
    add_config_options(train, SpeechConfig, OPTIONS, help=HELP, flags={"num_layers": "--layers"}, choices=CHOICES)
    train.add_argument("--unidirectional", action="store_true",
                       help="read forwards only (causal convolution): a model that can transcribe a stream")
    train.add_argument("--eval", action="append", default=[], metavar="CORPUS",
                       help="also score the model on all of this corpus (real recordings, say); into metrics.json "
                            "under 'corpora' (repeatable)")
    add_run_options(train, resume=True)
    train.set_defaults(run=run_train)

    transcribe = add_verb(verbs, "transcribe", help="print the text of audio files (or of a live stream)")
    add_model_option(transcribe, TRAIN_COMMAND)
    transcribe.add_argument("inputs", nargs="+", metavar="FILE",
                            help="audio files; with --stream, '-' reads raw PCM from standard input")
    _add_decoding_options(transcribe)
    transcribe.add_argument("--stream", action="store_true",
                            help="feed each input in chunks and print text as it comes (--unidirectional models)")
    transcribe.add_argument("--chunk-ms", type=positive_int, default=100, metavar="MS",
                            help="--stream: audio per chunk (default 100)")
    transcribe.add_argument("--pcm", choices=["int16", "int32", "float32", "uint8"], default="int16",
                            help="--stream from '-': sample format of the raw mono PCM (default int16)")
    transcribe.add_argument("--rate", type=positive_int, default=None, metavar="HZ",
                            help="--stream from '-': sample rate of the raw PCM (default: the model's; others are "
                                 "resampled as they arrive)")
    transcribe.add_argument("--plot", metavar="DIR",
                            help=f"write the spectrogram and the CTC output over time per file (at most {MAX_PLOTS})")
    add_threads_option(transcribe)
    transcribe.set_defaults(run=run_transcribe)

    evaluate = add_verb(verbs, "evaluate", help="CER/WER on a corpus: its test part if it is the training corpus, "
                                                "else all of it")
    add_model_option(evaluate, TRAIN_COMMAND)
    evaluate.add_argument("corpus", metavar="CORPUS", help=CORPUS_HELP)
    _add_decoding_options(evaluate)
    evaluate.add_argument("--part", choices=["test", "all"], default=None,
                          help="which files (default: test for the training corpus, all for another)")
    evaluate.add_argument("--no-baselines", dest="baselines", action="store_false", help="skip the DTW baseline")
    evaluate.add_argument("--out", metavar="FILE.json", help="also write the metrics here")
    add_threads_option(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    synth = add_verb(verbs, "synth", help="write a corpus of words spoken by many espeak-ng voices")
    synth.add_argument("wordlist", nargs="?", default=None, metavar="WORDLIST",
                       help="a text file, one word or phrase per line (default: digits, tens, letters, the "
                            "phonetic alphabet)")
    synth.add_argument("--out", metavar="DIR", required=True, help="folder to write: DIR/<voice>/*.wav and labels.csv")
    synth.add_argument("--voices", type=positive_int, default=40, metavar="N",
                       help="voices (accent, variant, speed, pitch) each saying every word (default 40)")
    synth.add_argument("--phrases", type=int, default=0, metavar="N",
                       help="per voice, also N phrases of two to four digits (default 0)")
    synth.add_argument("--tones", action="store_true",
                       help="instead: 'words' of tone syllables (no espeak-ng needed; for checking a set-up)")
    synth.add_argument("--count", type=positive_int, default=300, metavar="N", help="--tones: utterances")
    synth.add_argument("--sample-rate", type=positive_int, default=16000, metavar="HZ")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=run_synth)

    export = add_verb(verbs, "export", help="write a corpus of real recordings: the Asterisk English prompts")
    export.add_argument("name", choices=["asterisk"], help="asterisk: digits, letters and the phonetic alphabet spoken "
                                                           "by one woman (Debian's asterisk-core-sounds-en-wav, 8 kHz)")
    export.add_argument("--out", metavar="DIR", required=True)
    export.add_argument("--asterisk-root", metavar="DIR", default=None,
                        help="a `dpkg -x` folder of the package (default: $LSTMKIT_ASTERISK_ROOT, lstmkit's cache, "
                             "or installed)")
    export.set_defaults(run=run_export)


def _add_decoding_options(parser) -> None:
    parser.add_argument("--beam", type=positive_int, default=None, metavar="N",
                        help="prefix beam search with N prefixes (transcribe default: 1, best path; evaluate: the "
                             "model's --beam, 16)")
    parser.add_argument("--lm", metavar="DIR", default=None,
                        help="fuse a character language model (run directory of `lstmkit text lm --level char`)")
    parser.add_argument("--lm-weight", type=float, default=0.5, metavar="W",
                        help="weight of the LM's log-probability (default 0.5)")
    parser.add_argument("--insertion-bonus", type=float, default=0.0, metavar="B",
                        help="added per character, against the LM's preference for short text (default 0)")


def _print_result(result: dict) -> None:
    split = result["split"]
    print(f"evaluated {split['files']} file(s) ({split['evaluated']} of {split['corpus']}); training split "
          f"{split['train']}/{split['val']}/{split['test']} train/val/test by {split['by']}")
    model = result["model"]
    rows = [(f"LSTM {name}" + (f" ({m['width']})" if "width" in m else ""), m) for name, m in model.items()
            if isinstance(m, dict)] or [("LSTM (lstmkit)", model)]
    rows += [(name, m) for name, m in result["baselines"].items()]
    print(f"{'':26}{'CER':>8}{'WER':>8}")
    for name, m in rows:
        print(f"{name:26}{m['cer']:>8.3f}{m['wer']:>8.3f}" + (f"   accuracy {m['accuracy']:.3f}" if "accuracy" in m else ""))


def run_train(args) -> int:
    from lstmkit.tasks.base import train_run
    from lstmkit.tasks.speech import SpeechRecognizer

    values = run_values(args, OPTIONS)
    if args.unidirectional:
        values["bidirectional"] = False
    config = SpeechConfig(**values)
    use_threads(args, config.hidden_size)
    out = run_dir(args, "speech")
    app = SpeechRecognizer(config)
    result = train_run(app, args.corpus, out, resume=args.resume, progress=True)
    _print_result(result)
    if args.eval:
        from lstmkit.files import write_json

        result["corpora"] = {}
        for corpus in args.eval:
            scored = app.evaluate(corpus, part="all")
            scored.pop("predictions")
            result["corpora"][corpus] = scored
            print(f"\n{corpus}:")
            _print_result(scored)
        write_json(out / "metrics.json", result)
    print(f"run directory: {out}  (metrics.json, predictions.csv, alphabet.txt, model.safetensors)")
    return 0


def _load(args):
    from lstmkit.tasks.speech import SpeechRecognizer

    app = SpeechRecognizer.load(model_dir(args.model))
    lm = app.load_lm(args.lm) if args.lm else None
    return app, lm


def run_evaluate(args) -> int:
    from lstmkit.files import write_json

    use_threads(args)
    app, lm = _load(args)
    result = app.evaluate(args.corpus, part=args.part, beam=args.beam, lm=lm, lm_weight=args.lm_weight,
                          insertion_bonus=args.insertion_bonus, baselines=args.baselines)
    result.pop("predictions")
    _print_result(result)
    if args.out:
        write_json(args.out, result)
        print(f"wrote {args.out}")
    return 0


def run_transcribe(args) -> int:
    use_threads(args)
    if args.stream:
        offline_only = [flag for flag, value in (("--beam", args.beam), ("--lm", args.lm), ("--plot", args.plot))
                        if value]
        if offline_only:
            raise UsageError(f"--stream emits the best path as the audio arrives; {', '.join(offline_only)} "
                             "need(s) the whole utterance: drop --stream")
    elif "-" in args.inputs:
        raise UsageError("'-' (raw PCM on standard input) needs --stream")
    elif args.rate is not None or args.pcm != "int16":
        raise UsageError("--pcm and --rate describe raw PCM on standard input: use them with --stream -")
    app, lm = _load(args)
    if args.stream:
        return _stream(app, args)
    paths = [Path(p) for p in args.inputs]
    beam = args.beam or (app.config.beam if lm is not None else 1)  # an LM only helps inside a beam
    texts = app.transcribe(paths, beam=beam, lm=lm, lm_weight=args.lm_weight, insertion_bonus=args.insertion_bonus)
    for path, text in zip(paths, texts):
        print(f"{text}\t{path}" if len(paths) > 1 else text)
    if args.plot:
        from lstmkit.tasks.speech.plots import plot_transcription

        folder = Path(args.plot)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (path, text) in enumerate(list(zip(paths, texts))[:MAX_PLOTS]):
            plot_transcription(app, path, folder / f"{i:03d}_{path.stem}.png", title=f"{path.name}: {text!r}")
        print(f"wrote {min(len(paths), MAX_PLOTS)} picture(s) to {folder}", file=sys.stderr)
    return 0


def _stream(app, args) -> int:
    from lstmkit.tasks.speech.stream import StreamingTranscriber

    chunk = max(1, app.config.sample_rate * args.chunk_ms // 1000)
    for source in args.inputs:
        streamer = StreamingTranscriber(app)
        for samples in _chunks(app, source, chunk, args.pcm, args.rate):
            new = streamer.push(samples)
            if new:
                print(new, end="", flush=True)
        print(f"\t{source}" if len(args.inputs) > 1 else "", flush=True)
    return 0


def _chunks(app, source: str, chunk: int, pcm: str, rate: int | None):
    """Chunks of float samples at the model's rate: raw PCM from standard input, or a file read a block at
    a time (either resampled chunk by chunk when its rate differs)."""
    if source == "-":
        from lstmkit.data.audio import read_pcm

        yield from read_pcm(sys.stdin.buffer, rate or app.config.sample_rate, dtype=pcm, chunk_samples=chunk,
                            target_rate=app.config.sample_rate)
        return
    from lstmkit.data.audio import read_audio_blocks

    yield from read_audio_blocks(source, app.config.sample_rate, block_samples=chunk)


def run_synth(args) -> int:
    from lstmkit.tasks.speech.synth import read_wordlist, synthesize_corpus, tone_corpus

    if args.tones:
        table = tone_corpus(args.out, count=args.count, sample_rate=args.sample_rate, seed=args.seed)
    else:
        words = read_wordlist(args.wordlist) if args.wordlist else None
        table = synthesize_corpus(args.out, words, voices=args.voices, phrases=args.phrases,
                                  sample_rate=args.sample_rate, seed=args.seed)
    print(f"wrote {len(table)} utterances ({table['transcript'].nunique()} transcripts, {table['speaker'].nunique()} "
          f"voices) to {args.out} (labels.csv)")
    return 0


def run_export(args) -> int:
    from lstmkit.tasks.speech.synth import export_asterisk

    table = export_asterisk(args.out, args.asterisk_root)
    print(f"wrote {len(table)} real recordings ({table['transcript'].nunique()} transcripts) to {args.out} "
          "(labels.csv); evaluate a model on them with `lstmkit speech evaluate --model DIR "
          f"{args.out}`")
    return 0
