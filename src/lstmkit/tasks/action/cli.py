"""``lstmkit action train|predict|evaluate|synth``.

Parses arguments into :class:`~lstmkit.tasks.action.config.ActionConfig` and calls
:mod:`lstmkit.tasks.action`; nothing else.
"""
from __future__ import annotations

import re
from pathlib import Path

from lstmkit.cli.common import (add_config_options, add_model_option, add_quantize_option, add_run_options, add_task,
                                add_threads_option, add_verb, model_dir, positive_int, run_dir, run_values, use_threads)
from lstmkit.errors import UsageError
from lstmkit.tasks.action.config import KINDS, NORMALIZATIONS, POOLINGS, ActionConfig
from lstmkit.tasks.cells import CELL_CHOICES, CELL_FIELDS, CELL_HELP

TRAIN_COMMAND = "lstmkit action train"
MAX_PLOTS = 20  # predict --plot draws at most this many examples

OPTIONS = ["kind", "label_column", "id_column", "step_column", "split_column", "channels", "normalize",
           "conv_channels", "frames", "fps", "size", "hidden_size", "num_layers", "bidirectional", "pooling", "dropout",
           *CELL_FIELDS, "batch_size", "lr", "patience", "val_fraction", "test_fraction", "baselines", "dtw_window",
           "device"]
HELP = {
    "kind": "video clips or motion-sensor sequences (auto: clip folders and path,label CSVs are video)",
    "label_column": "sensor tables: the column holding each sequence's label",
    "id_column": "sensor tables: the column naming the sequence each row belongs to",
    "step_column": "sensor tables: rows are ordered by this column when it exists",
    "split_column": "sensor tables: a column of train/test per sequence, used as a fixed split when it exists",
    "channels": "sensor tables: the channel columns, in order (default: every other numeric column)",
    "normalize": "sensors: 'channel' standardises each channel with the training mean/std, 'sequence' each "
                 "sequence on its own",
    "conv_channels": "sensors: 1-D convolutions with this many channels before the LSTM (default 64; 0: none)",
    "frames": "video: frames per clip, evenly spaced",
    "fps": "video: sample frames at this rate instead of --frames (clips of different lengths)",
    "size": "video: frames resized to SIZE x SIZE pixels",
    "hidden_size": "LSTM units per layer (default 128)",
    "num_layers": "stacked LSTM layers",
    "bidirectional": "read each sequence in both directions (default: yes for sensors, no for video)",
    "pooling": "how the LSTM's outputs become one vector (default: last for video, mean for sensors)",
    "dropout": "dropout on the LSTM's inputs and outputs (default 0.2)",
    "batch_size": "sequences per training step",
    "lr": "Adam learning rate (default: 1e-3 video, 3e-3 sensors)",
    "patience": "stop after this many epochs without a better validation loss (default: 20 video, 50 sensors)",
    "val_fraction": "share held out for early stopping: of all examples (stratified split), of the training part "
                    "(fixed split)",
    "test_fraction": "share held out for the test metrics when the data has no fixed split",
    "baselines": "also run the kind's baseline (1-NN DTW for sensors, a single-frame CNN for video)",
    "dtw_window": "1-NN DTW baseline: Sakoe-Chiba band as a fraction of the length (default: no band)",
    "device": "'auto' (CUDA when available), 'cpu', 'cuda' or 'cuda:1'",
    **CELL_HELP,
}
CHOICES = {"kind": list(KINDS), "normalize": list(NORMALIZATIONS), "pooling": list(POOLINGS), **CELL_CHOICES}
DATA_HELP = ("a folder DIR/<label>/*.mp4, a CSV of path,label, a long sensor table (CSV: sequence,label,"
             "channels...), a .ts file, a folder DIR/<label>/*.csv, or a data set: basic_motions, gunpoint, "
             "japanese_vowels")


def add_parser(sub) -> None:
    verbs = add_task(sub, "action", help="action recognition from video clips or motion sensors",
                     metavar="<train|predict|evaluate|synth>")

    train = add_verb(verbs, "train", help="train on labelled clips or sequences; report accuracy against baselines")
    train.add_argument("data", metavar="DATA", help=DATA_HELP)
    add_config_options(train, ActionConfig, OPTIONS, help=HELP, flags={"num_layers": "--layers"}, choices=CHOICES)
    add_run_options(train, resume=True)
    train.set_defaults(run=run_train)

    predict = add_verb(verbs, "predict", help="label clips or sensor sequences with a saved model")
    add_model_option(predict, TRAIN_COMMAND)
    predict.add_argument("inputs", nargs="+", metavar="INPUT",
                         help="video files (or a clip folder / path CSV); for sensor models one table, .ts file or "
                              "folder of sequences")
    predict.add_argument("--out", metavar="FILE.csv", help="write every class's probability here")
    predict.add_argument("--plot", metavar="DIR",
                         help=f"write a picture per clip/sequence (at most {MAX_PLOTS}): frames or channels over the "
                              "class probabilities after each step")
    add_threads_option(predict)
    add_quantize_option(predict)
    predict.set_defaults(run=run_predict)

    evaluate = add_verb(verbs, "evaluate", help="accuracy, macro-F1 and confusion matrix on the test part of DATA")
    add_model_option(evaluate, TRAIN_COMMAND)
    evaluate.add_argument("data", metavar="DATA", help="labelled data, split as in training")
    evaluate.add_argument("--baselines", action="store_true", help="also run the kind's baseline (slower)")
    add_threads_option(evaluate)
    add_quantize_option(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    synth = add_verb(verbs, "synth", help="write a labelled set of generated video clips (moving shapes)")
    synth.add_argument("--out", metavar="DIR", required=True, help="folder to write: DIR/<motion>/*.mp4 and labels.csv")
    synth.add_argument("--clips-per-class", type=positive_int, default=40, metavar="N")
    synth.add_argument("--frames", type=positive_int, default=16, metavar="N")
    synth.add_argument("--size", type=positive_int, default=64, metavar="PIXELS")
    synth.add_argument("--seed", type=int, default=0)
    synth.set_defaults(run=run_synth)


def _print_result(result: dict) -> None:
    split = result["split"]
    how = "fixed split" if split.get("fixed") else f"stratified, seed {split.get('seed')}"
    print(f"{split['train']}/{split['val']}/{split['test']} train/val/test ({how}), classes: "
          f"{', '.join(split['classes'])}")
    print(f"{'':22}{'accuracy':>10}{'macro-F1':>10}")
    for name, metrics in [("LSTM (lstmkit)", result["model"]), *result["baselines"].items()]:
        print(f"{name:22}{metrics['accuracy']:>10.3f}{metrics['macro_f1']:>10.3f}")


def run_train(args) -> int:
    from lstmkit.tasks.action import ActionRecognizer
    from lstmkit.tasks.base import train_run

    config = ActionConfig(**run_values(args, OPTIONS))
    use_threads(args, config.hidden_size)
    out = run_dir(args, "action")
    app = ActionRecognizer(config)
    result = train_run(app, args.data, out, resume=args.resume, progress=True)
    _print_result(result)
    print(f"run directory: {out}  (metrics.json, predictions.csv, confusion.png, model.safetensors)")
    return 0


def _file_name(identifier: str, index: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(identifier).stem)[:60] or "example"
    return f"{index:03d}_{stem}.png"


def _load(args):
    """The saved recogniser; with ``--quantize int8`` its model runs as int8 ONNX graphs (a video model as two: the
    frame CNN and the recurrent classifier, which the plots call apart)."""
    from lstmkit.tasks.action import ActionRecognizer

    app = ActionRecognizer.load(model_dir(args.model))
    if args.quantize:
        from lstmkit.export.runtime import use_int8

        use_int8(app, model_dir(args.model))
    return app


def run_predict(args) -> int:
    from lstmkit.files import atomic_write_text
    from lstmkit.tasks.action.plots import plot_prediction

    use_threads(args)
    app = _load(args)
    if app.state.kind == "video":
        single_source = len(args.inputs) == 1 and (Path(args.inputs[0]).is_dir() or args.inputs[0].lower().endswith(".csv"))
        source = args.inputs[0] if single_source else list(args.inputs)
    else:
        if len(args.inputs) != 1:
            raise UsageError(f"a sensor model reads one table, .ts file or folder; {len(args.inputs)} inputs given")
        source = args.inputs[0]
    examples = app.read_unlabelled(source)
    frame = app.predict(examples)
    if args.plot:
        folder = Path(args.plot)
        folder.mkdir(parents=True, exist_ok=True)
        for i, (array, identifier) in enumerate(list(zip(examples.x, examples.ids))[:MAX_PLOTS]):
            probs = app.probabilities_over_time(array)
            best = int(probs[-1].argmax())
            plot_prediction(array, probs, app.classes, folder / _file_name(identifier, i), kind=app.state.kind,
                            channels=app.state.channels,
                            title=f"{identifier}: {app.classes[best]} ({probs[-1, best]:.2f})")
        print(f"wrote {min(len(examples), MAX_PLOTS)} picture(s) to {folder}")
    if args.out:
        atomic_write_text(args.out, frame.to_csv(index=False))
        print(f"wrote {len(frame)} predictions to {args.out}")
        return 0
    for identifier, label, p in zip(frame["id"], frame["label"], frame["probability"]):
        print(f"{label}\t{p:.4f}\t{identifier}")
    return 0


def run_evaluate(args) -> int:
    use_threads(args)
    app = _load(args)
    result = app.evaluate(args.data, baselines=args.baselines)
    result.pop("predictions")
    _print_result(result)
    print("confusion matrix (rows: true, columns: predicted): " + str(result["model"]["confusion_matrix"]))
    return 0


def run_synth(args) -> int:
    from lstmkit.tasks.action.synth import write_synthetic_clips

    table = write_synthetic_clips(args.out, clips_per_class=args.clips_per_class, frames=args.frames, size=args.size,
                                  seed=args.seed)
    print(f"wrote {len(table)} clips of {table['label'].nunique()} motions to {args.out} "
          f"({args.out}/<motion>/*.mp4 and labels.csv)")
    return 0
