"""``lstmkit export onnx --model DIR [--out FILE.onnx] [--quantize int8]``: a run directory's model as an ONNX graph.

Building the parser imports neither torch nor onnx; the run function does.
"""
from __future__ import annotations

from lstmkit.cli.common import add_model_option, add_task, add_verb, model_dir

TRAIN_COMMAND = "lstmkit <task> train"


def add_parser(sub) -> None:
    verbs = add_task(sub, "export", help="take a trained model out of Python (ONNX)")
    onnx = add_verb(verbs, "onnx", help="write a run directory's model as an ONNX graph (dynamic batch, and "
                                        "length where the model allows) and its preprocessing as JSON beside it")
    add_model_option(onnx, TRAIN_COMMAND)
    onnx.add_argument("--out", metavar="FILE.onnx", default=None,
                      help="where to write the graph (default: DIR/model.onnx); FILE.preprocessing.json goes beside it; "
                           "a translator is two graphs, FILE.encoder.onnx and FILE.decoder.onnx (one decoder step)")
    onnx.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset (default: the exporter's)")
    onnx.add_argument("--quantize", choices=["int8"], default=None,
                      help="int8 weights (onnxruntime dynamic quantisation): 1.8-5x faster than PyTorch on CPU, outputs within "
                           "a few hundredths of the float graph's (default: DIR/model.int8.onnx, a translator's "
                           "DIR/model.int8.encoder.onnx and .decoder.onnx)")
    onnx.set_defaults(run=run_export_onnx)


def run_export_onnx(args) -> int:
    import json

    from lstmkit.export.onnx import export_run_onnx, preprocessing_path, translator_paths

    out = export_run_onnx(model_dir(args.model), args.out, opset=args.opset, quantize=args.quantize)
    description = json.loads(preprocessing_path(out).read_text())
    if description["model_type"] == "translator":  # two graphs: the encoder and one decoder step
        encoder, decoder = translator_paths(out)
        print(f"wrote {encoder} (encoder), {decoder} (one decoder step) and {preprocessing_path(out)}")
    else:
        print(f"wrote {out} and {preprocessing_path(out)}")
    if args.quantize:
        difference = description["quantization"]
        parts = ""
        if "encoder" in difference:
            parts = (f" (encoder {difference['encoder']['max_abs_output_difference_from_float']:.3g}, decoder step "
                     f"{difference['decoder']['max_abs_output_difference_from_float']:.3g})")
        print(f"int8 weights: largest output difference from the float graph on a check batch "
              f"{difference['max_abs_output_difference_from_float']:.3g}{parts}")
    return 0
