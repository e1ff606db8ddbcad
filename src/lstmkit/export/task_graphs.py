"""The graphs of task models: what each model type reads and returns, its example inputs, and how
its fixed axes are declared. Used by :func:`lstmkit.export.onnx.export_run_onnx`.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lstmkit.errors import InputFileError
from lstmkit.export.graphs import (check_against_torch, declare_output_sizes, has_cell_state, make_state_optional,
                                   native_eval_copy, torch_export, write_onnx)

if TYPE_CHECKING:
    import torch

__all__ = ["export_autoencoder", "export_forecaster", "export_language_model", "export_next_step", "export_translator",
           "export_video_parts", "lengths_examples", "lengths_graph_module"]


def lengths_graph_module(model: "torch.nn.Module"):
    import torch

    class LengthsGraph(torch.nn.Module):
        """``model((x, lengths))`` with two positional inputs, as the exporter wants them."""

        def __init__(self, model: torch.nn.Module):
            super().__init__()
            self.model = model

        def forward(self, x, lengths):
            return self.model((x, lengths))

    return LengthsGraph(model).eval()  # a new Module starts in training mode: dropout would be live


def lengths_examples(model_type: str, model, config: dict):
    """(input names, a function (n, t, lengths, seed) -> feed, how the input is described)."""
    import torch

    def lengths_of(values) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.int64)

    if model_type == "text_classifier":
        vocab = model.vocab_size

        def feed(n, t, lengths, seed):
            g = torch.Generator().manual_seed(seed)
            ids = torch.randint(1, max(vocab, 2), (n, t), generator=g)
            ids[torch.arange(t) >= lengths_of(lengths).unsqueeze(1)] = 0  # padding id, as the classifier pads
            return {"ids": ids, "lengths": lengths_of(lengths)}

        return "ids", feed, "(N, T) int64 token ids, 0 = <pad>, from data.vocabulary.tokens"
    if model.kind == "video":
        size = int((config.get("task") or {}).get("size") or 64)

        def feed(n, t, lengths, seed):
            g = torch.Generator().manual_seed(seed)
            return {"x": torch.randint(0, 256, (n, t, size, size, 3), generator=g).to(torch.uint8),
                    "lengths": lengths_of(lengths)}

        return "x", feed, f"(N, T, {size}, {size}, 3) uint8 RGB frames resized to {size}x{size}"

    def feed(n, t, lengths, seed):
        g = torch.Generator().manual_seed(seed)
        return {"x": torch.randn(n, t, model.input_size, generator=g), "lengths": lengths_of(lengths)}

    return "x", feed, (f"(N, T, {model.input_size}) float32 sensor channels, standardised with "
                       "data.mean/data.std (task.normalize 'channel') or per sequence ('sequence')")


def _export_fixed(module: "torch.nn.Module", out: Path, feed, *, names_in: list[str], names_out: list[str],
                  axes: dict, opset: int | None, states: dict[str, tuple[int, ...]] | None = None,
                  fixed: dict[str, dict[int, int]] | None = None, checks: list[tuple[int, int]]) -> None:
    """Export ``module`` traced on ``feed(2, t0, seed 0)``, make ``states`` optional, declare the ``fixed``
    output sizes ({output: {axis: size}}), check it at ``checks``.

    ``feed(n, t, seed)`` -> {input name: tensor}; ``checks`` are (n, t) pairs other than the example's,
    so that an axis frozen by the tracer fails here. For graphs whose time axis is fixed, t is ignored.
    """

    def write(tmp: Path) -> None:
        torch_export(module, tuple(feed(2, 7, 0).values()), tmp, input_names=names_in, output_names=names_out,
                      dynamic_axes=axes, opset=opset)
        if states:
            make_state_optional(tmp, states)
        if fixed:
            declare_output_sizes(tmp, fixed)
        check_against_torch(tmp, module, [feed(n, t, seed) for seed, (n, t) in enumerate(checks, 1)], names_out)

    write_onnx(out, write)


def export_forecaster(model, config: dict, out: Path, opset: int | None):
    """The forecaster's graph at ``out``; returns (a check feed, inputs described, outputs described).

    The graph is the network alone: the window-relative inputs and the relative output are arithmetic
    on config.json's ``data`` (see Forecaster.network_forecast and tasks/forecast/windows.py), which every
    runtime can do itself and which would otherwise tie the graph to one table layout.
    """
    import torch

    data = config.get("data") or {}
    if not isinstance(data.get("input_width"), int):
        raise InputFileError("config.json: a forecaster's data section must hold its input_width (the graph's "
                             "fixed time axis); was the run trained to the end?")
    W, K, T, F = int(data["input_width"]), model.horizon, model.n_targets, model.n_inputs
    Q = len(model.quantiles)

    class ForecastGraph(torch.nn.Module):
        """``model((x, base))`` with two positional inputs, as the exporter wants them."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x, base):
            return self.model((x, base))

    module = ForecastGraph(native_eval_copy(model)).eval()  # eval: the members' mean, not all of them

    def feed(n, _t, seed):
        g = torch.Generator().manual_seed(seed)
        return {"x": torch.randn(n, W, F, generator=g), "base": torch.randn(n, K, T, generator=g)}

    # Time is not dynamic: the LSTMs read exactly the input width the model was trained with.
    _export_fixed(module, out, feed, names_in=["x", "base"], names_out=["forecast"],
                  axes={"x": {0: "batch"}, "base": {0: "batch"}, "forecast": {0: "batch"}}, opset=opset,
                  checks=[(3, W), (1, W)])
    level = ("level_k = mean of the last min(W, data.season) z values of the window (the last z value when "
             "data.season == 1)")
    inputs = {
        "x": (f"(N, {W}, {F}) float32, W = data.input_width fixed: the {W} rows before the first forecast step. "
              f"Columns 0..{T - 1}, the targets (task.targets): z = log(value) where data.log_targets[k], else "
              f"value; then (z - level_k) / data.target_scale[k], {level}. Columns {T}..{F - 1}, the features "
              "(task.features, if any): (value - mean_) / scale_ of data.feature_scaler.state"),
        "base": (f"(N, {K}, {T}) float32, the seasonal baseline relative to the level: zeros when data.season "
                 "== 1; else for step h (0-based, origin O = the first forecast row) the mean over j = 1.."
                 "data.seasons_averaged of z[O + h - j*data.lag] - level at origin O - j*data.lag, divided by "
                 "data.target_scale[k]"),
    }
    outputs = {
        "forecast": (f"(N, {K}, {T}, {Q}) float32, relative forecasts (ensemble mean), quantiles in the order "
                     "of task.quantiles. As Forecaster.predict does: sort along the last axis (quantiles never "
                     "cross), then value = exp(level_k + forecast * data.target_scale[k]) where "
                     "data.log_targets[k], else level_k + forecast * data.target_scale[k]"),
    }
    return feed(3, W, 1), inputs, outputs


def _stateful_graph(model):
    """``model(x, state) -> (y, state)`` as a graph module (x, h0[, c0]) -> (y, hn[, cn]): h0/c0 of batch 1
    broadcast to N; c0/cn only for the LSTM family (the GRU and the RNN carry h alone)."""
    import torch

    with_cell = has_cell_state(model.lstm)

    class StatefulGraph(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x, h0, c0=None):
            n = x.shape[0]
            # A no-op for a full state; broadcasts the batch-1 zeros standing in for an omitted one.
            h0 = h0.expand(-1, n, -1)
            y, state = self.model(x, (h0, c0.expand(-1, n, -1)) if with_cell else h0)
            return (y, *state) if with_cell else (y, state)

    StatefulGraph.__name__ = f"{type(model).__name__}Graph"
    return StatefulGraph(native_eval_copy(model)).eval(), with_cell


def _state_io(names_in: list[str], names_out: list[str], axes: dict, states: dict, with_cell: bool):
    """The graph's names, axes and optional states without c0/cn when the cell carries h alone."""
    if with_cell:
        return names_in, names_out, axes, states
    return ([n for n in names_in if n != "c0"], [n for n in names_out if n != "cn"],
            {k: v for k, v in axes.items() if k not in ("c0", "cn")}, {k: v for k, v in states.items() if k != "c0"})


def _anomaly_x_described(shape: str) -> str:
    return (f"{shape} float32: task.columns transformed (task.transform: 'none' as is, 'diff' first differences, "
            "'logdiff' differences of the log; row 0 of a difference is 0) and standardised: "
            "(v - mean_) / scale_ of data.scaler.state")


def export_next_step(model, out: Path, opset: int | None):
    """The next-step predictor's graph with an optional, carried state (as :func:`export_lstm_onnx`)."""
    import torch

    L, H, F = model.num_layers, model.hidden_size, model.n_features
    # (x (N, T, F), h0, c0) -> (prediction, hn, cn); (x, h0) -> (prediction, hn) for a GRU or an RNN
    module, with_cell = _stateful_graph(model)

    def feed(n, t, seed):
        g = torch.Generator().manual_seed(seed)
        values = {"x": torch.randn(n, t, F, generator=g), "h0": torch.randn(L, n, H, generator=g),
                  "c0": torch.randn(L, n, H, generator=g)}
        return values if with_cell else {k: v for k, v in values.items() if k != "c0"}

    names_in, names_out, axes, states = _state_io(
        ["x", "h0", "c0"], ["prediction", "hn", "cn"],
        {"x": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"}, "prediction": {0: "batch", 1: "time"},
         "hn": {1: "batch"}, "cn": {1: "batch"}}, {"h0": (L, 1, H), "c0": (L, 1, H)}, with_cell)
    _export_fixed(module, out, feed, names_in=names_in, names_out=names_out, axes=axes, opset=opset, states=states,
                  checks=[(3, 11), (1, 4)])
    inputs = {"x": _anomaly_x_described(f"(N, T, {F})"),
              "h0": f"({L}, N, {H}) float32, optional (zeros): hn of the previous chunk of the stream",
              "c0": f"({L}, N, {H}) float32, optional (zeros): cn of the previous chunk of the stream"}
    outputs = {"prediction": (f"(N, T, {F}) float32, row t forecasts x at step t + 1 (same scale as x); the "
                              "error is mean_f |x[t+1] - prediction[t]|, unscored for the first task.warmup rows"),
               "hn": f"({L}, N, {H})", "cn": f"({L}, N, {H})"}
    if not with_cell:
        del inputs["c0"], outputs["cn"]
    return {"x": feed(3, 11, 1)["x"]}, inputs, outputs


def export_language_model(model, config: dict, out: Path, opset: int | None):
    """The language model's graph with an optional, carried state (as :func:`export_next_step`):
    ids (N, T) int64, h0, c0 -> logits (N, T, V), hn, cn; N and T dynamic."""
    import torch

    L, H, V = model.num_layers, model.hidden_size, model.vocab_size
    # (ids (N, T), h0, c0) -> (logits, hn, cn); (ids, h0) -> (logits, hn) for a GRU or an RNN; eval: dropout off
    module, with_cell = _stateful_graph(model)

    def feed(n, t, seed):
        g = torch.Generator().manual_seed(seed)
        values = {"ids": torch.randint(0, max(V, 1), (n, t), generator=g), "h0": torch.randn(L, n, H, generator=g),
                  "c0": torch.randn(L, n, H, generator=g)}
        return values if with_cell else {k: v for k, v in values.items() if k != "c0"}

    names_in, names_out, axes, states = _state_io(
        ["ids", "h0", "c0"], ["logits", "hn", "cn"],
        {"ids": {0: "batch", 1: "time"}, "h0": {1: "batch"}, "c0": {1: "batch"}, "logits": {0: "batch", 1: "time"},
         "hn": {1: "batch"}, "cn": {1: "batch"}}, {"h0": (L, 1, H), "c0": (L, 1, H)}, with_cell)
    _export_fixed(module, out, feed, names_in=names_in, names_out=names_out, axes=axes, opset=opset, states=states,
                  checks=[(3, 11), (1, 4)])
    tokenizer = (config.get("data") or {}).get("tokenizer") or {}
    if tokenizer.get("level") == "char":
        start = "'\\n' (when in the vocabulary, else <eos>)"
    else:
        start = "<eos> (id 3)"
    inputs = {
        "ids": (f"(N, T) int64 token ids in [0, {V}): the text split into tokens by data.tokenizer (the rules of "
                "lstmkit.data.text: level 'word' splits words and punctuation, lower-cased when lower, each non-blank "
                "line ending in <eos> when lines; level 'char' takes one token per character, newlines included), "
                "then each token numbered by its index in data.vocabulary.tokens (0 <pad>, 1 <unk> for a token not "
                f"in it, 2 <bos>, 3 <eos>). A fresh context starts with {start}, as LanguageModel does"),
        "h0": f"({L}, N, {H}) float32, optional (zeros): hn of the previous chunk of the text",
        "c0": f"({L}, N, {H}) float32, optional (zeros): cn of the previous chunk of the text",
    }
    outputs = {"logits": (f"(N, T, {V}) float32, row t scores the token after ids[:, t] over "
                          "data.vocabulary.tokens; softmax (of logits / temperature) for probabilities. To generate, "
                          "feed the drawn id as ids (N, 1) with hn/cn as h0/c0"),
               "hn": f"({L}, N, {H})", "cn": f"({L}, N, {H})"}
    if not with_cell:
        del inputs["c0"], outputs["cn"]
        outputs["logits"] = outputs["logits"].replace("hn/cn as h0/c0", "hn as h0")
    return {"ids": feed(3, 11, 1)["ids"]}, inputs, outputs


def export_autoencoder(model, out: Path, opset: int | None):
    """The reconstruction model's graph: a window of fixed width in, its reconstruction out."""
    import torch

    W, F = model.window, model.n_features

    class AutoencoderGraph(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model(x)

    module = AutoencoderGraph(native_eval_copy(model)).eval()

    def feed(n, _t, seed):
        return {"x": torch.randn(n, W, F, generator=torch.Generator().manual_seed(seed))}

    # Time is not dynamic: the detector only ever feeds windows of its trained width.
    _export_fixed(module, out, feed, names_in=["x"], names_out=["reconstruction"],
                  axes={"x": {0: "batch"}, "reconstruction": {0: "batch"}}, opset=opset,
                  fixed={"reconstruction": {1: W}}, checks=[(3, W), (1, W)])  # the flip hides W from shape inference
    inputs = {"x": _anomaly_x_described(f"(N, {W}, {F})") + f"; windows of W = task.window = {W} rows, fixed"}
    outputs = {"reconstruction": (f"(N, {W}, {F}) float32, the window rebuilt; a point's error is mean_f "
                                  "|x - reconstruction| averaged over the W windows that hold it")}
    return feed(3, W, 1), inputs, outputs


# ------------------------------------------------------------------------------------------ translation
def _translator_modules(model):
    """(encoder, decoder step) graph modules of a :class:`~lstmkit.tasks.translate.model.Seq2SeqAttention`
    copy running torch's kernels, and whether its state carries c (the LSTM family; a GRU or an RNN does not).

    encoder(src, src_lengths) -> (h, [c,] feed, memory, keys, mask): :meth:`initial_state`, flattened.
    decoder(tokens, h, [c,] feed, memory, keys, mask) -> (log_probs, h_next, [c_next,] feed_next, attention):
    one :meth:`step`; memory, keys and mask do not change between steps, so they are not outputs.
    """
    import torch

    native = native_eval_copy(model)
    with_cell = bool(native.has_cell_state)

    class TranslatorEncoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, src, src_lengths):
            h, c, feed, memory, keys, mask = self.model.initial_state(src, src_lengths)
            return (h, c, feed, memory, keys, mask) if with_cell else (h, feed, memory, keys, mask)

    class TranslatorDecoderStep(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, tokens, *state):
            if with_cell:
                h, c, feed, memory, keys, mask = state
            else:
                (h, feed, memory, keys, mask), c = state, None
            log_probs, (h, c, feed, _, _, _), weights = self.model.step(tokens, (h, c, feed, memory, keys, mask))
            return (log_probs, h, c, feed, weights) if with_cell else (log_probs, h, feed, weights)

    return TranslatorEncoder(native).eval(), TranslatorDecoderStep(native).eval(), with_cell


def export_translator(model, config: dict, encoder_path: Path, decoder_path: Path, opset: int | None):
    """A translator's two graphs, each checked against PyTorch at other batch sizes (rows) and source lengths:
    the encoder at ``encoder_path``, one decoder step at ``decoder_path``.

    Returns (the encoder's check feed, the decoder's check feed, the graphs described for the preprocessing
    JSON). Decoding itself (greedy, beam search, sampling) is the caller's loop over the step graph, as
    :class:`lstmkit.export.runtime.OnnxTranslator` drives it through :mod:`lstmkit.decoding.search`.
    """
    import torch

    encoder, decoder, with_cell = _translator_modules(model)
    L, H, V, V_src = model.num_layers, model.hidden_size, model.tgt_vocab_size, model.src_vocab_size
    state_names = ["h", "c", "feed", "memory", "keys", "mask"] if with_cell else ["h", "feed", "memory", "keys", "mask"]
    carried = ["h", "c", "feed"] if with_cell else ["h", "feed"]
    step_outputs = ["log_probs", *[f"{name}_next" for name in carried], "attention"]

    def encoder_feed(lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        S = max(lengths)
        src = torch.randint(4, max(V_src, 5), (len(lengths), S), generator=g)  # ids >= 4: no special token
        src_lengths = torch.tensor(lengths, dtype=torch.int64)
        src[torch.arange(S) >= src_lengths.unsqueeze(1)] = 0  # padded with <pad>, as the translator pads
        return {"src": src, "src_lengths": src_lengths}

    def decoder_feed(lengths: list[int], seed: int) -> dict[str, torch.Tensor]:
        """A step from a random state over the memory of real (random) sentences: masks and zeroed pads as
        in decoding, the carried state anywhere (so that feed and c are not the zeros of a first step)."""
        g = torch.Generator().manual_seed(seed + 100)
        with torch.no_grad():
            state = dict(zip(state_names, encoder(*encoder_feed(lengths, seed).values())))
        R = len(lengths)
        state["h"] = torch.randn(R, L, H, generator=g)
        if with_cell:
            state["c"] = torch.randn(R, L, H, generator=g)
        state["feed"] = torch.randn(R, H, generator=g)
        return {"tokens": torch.randint(0, max(V, 1), (R,), generator=g), **state}

    src_axes = {"src": {0: "batch", 1: "source"}, "src_lengths": {0: "batch"}}
    state_axes = {name: {0: "batch"} for name in ("h", "c", "feed")}
    state_axes.update({name: {0: "batch", 1: "source"} for name in ("memory", "keys", "mask")})

    def write_encoder(tmp: Path) -> None:
        # The example holds a length shorter than S: the LSTM skips packing when none is, and tracing would
        # keep only that branch (see lstmkit.nn.layers _run).
        torch_export(encoder, tuple(encoder_feed([6, 3], 0).values()), tmp, input_names=["src", "src_lengths"],
                     output_names=state_names, dynamic_axes={**src_axes, **{n: state_axes[n] for n in state_names}},
                     opset=opset)
        declare_output_sizes(tmp, {"feed": {1: H}})  # zeros of (N, H): inference named the second axis "batch"
        check_against_torch(tmp, encoder, [encoder_feed([9, 2, 5], 1), encoder_feed([4], 2)], state_names)

    rows = {name: {0: "rows", **({1: "source"} if name in ("memory", "keys", "mask") else {})} for name in state_names}
    rows.update({"tokens": {0: "rows"}, "log_probs": {0: "rows"}, "attention": {0: "rows", 1: "source"}})
    rows.update({f"{name}_next": {0: "rows"} for name in carried})

    def write_decoder(tmp: Path) -> None:
        torch_export(decoder, tuple(decoder_feed([6, 3], 0).values()), tmp, input_names=["tokens", *state_names],
                     output_names=step_outputs, dynamic_axes=rows, opset=opset)
        check_against_torch(tmp, decoder, [decoder_feed([9, 2, 5, 9, 1], 1), decoder_feed([4], 2)], step_outputs)

    write_onnx(encoder_path, write_encoder)
    write_onnx(decoder_path, write_decoder)
    state_shapes = {
        "h": f"(N, {L}, {H}) float32, the decoder's hidden state per layer (bridged from the encoder's final state)",
        "c": f"(N, {L}, {H}) float32, its cell state per layer",
        "feed": f"(N, {H}) float32, the previous attentional vector (input feeding; zeros before the first step)",
        "memory": f"(N, S, {H}) float32, the encoder's states (zero past each length)",
        "keys": f"(N, S, {H}) float32, the attention's keys (computed once per sentence)",
        "mask": "(N, S) bool, True at real source tokens",
    }
    if not with_cell:
        del state_shapes["c"]
    target = config.get("task") or {}
    encoder_io = {
        "inputs": {
            "src": (f"(N, S) int64 source token ids in [0, {V_src}), padded with 0 (<pad>): the sentence split by "
                    "data.source (kind 'word': data.source.tokenizer's rules, then data.source.vocabulary; kind 'bpe': "
                    "the tokenizers BPE model data.source.model) with no <bos> or <eos>; a sentence that gives no "
                    "token is one <unk> (id 1)"),
            "src_lengths": "(N,) int64, tokens of each sentence, 1 <= length <= S",
        },
        "outputs": state_shapes,
    }
    import onnx

    # The exporter leaves out an input the step does not read: feed, without input feeding (Bahdanau's
    # attention, or Luong's with input_feed off). The encoder still gives it; a runtime feeds what is listed.
    read = {arg.name for arg in onnx.load(str(decoder_path)).graph.input}
    sizes = {"h": f"(R, {L}, {H})", "c": f"(R, {L}, {H})", "feed": f"(R, {H})"}
    decoder_io = {
        "inputs": {"tokens": "(R,) int64, each row's previous target token: <bos> (2) at the first step",
                   **{name: text.replace("(N,", "(R,") for name, text in state_shapes.items() if name in read}},
        "outputs": {
            "log_probs": (f"(R, {V}) float32, log-probabilities of the next target token over data.target's "
                          "vocabulary; <pad> (0) and <bos> (2) are -inf (never produced); <eos> (3) ends a row"),
            **{f"{name}_next": f"{sizes[name]} float32, {name} after this step: the next step's {name}"
               for name in carried},
            "attention": "(R, S) float32, this step's attention over the source tokens (0 at pads)",
        },
    }
    decoding = {
        "how": ("Run the encoder once per batch of sentences, then the decoder step once per output token for "
                "every live row: greedy takes the argmax of log_probs; beam search keeps the best rows and "
                "reorders every state tensor (memory, keys and mask included) along dim 0 by the rows it "
                "continues. A row ends at <eos> or after max_len = floor(max_len_a * src_length + max_len_b) "
                "tokens (<eos> counted), at least 1"),
        "pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3,
        **{key: target.get(key) for key in ("max_len_a", "max_len_b", "beam", "length_penalty", "coverage_penalty",
                                            "no_repeat_ngram_size", "replace_unk")},
    }
    return (encoder_feed([9, 2, 5], 1), decoder_feed([9, 2, 5, 9, 1], 1),
            {"encoder": encoder_io, "decoder": decoder_io, "decoding": decoding})


# ------------------------------------------------------------------------------------ a video model in two parts
def export_video_parts(model, config: dict, features_path: Path, classify_path: Path, opset: int | None):
    """A video action model as two checked graphs, for callers that need the frame features apart (the
    plots of ``lstmkit action predict`` run the CNN once per clip and the recurrent classifier on every prefix):

    * ``features_path``: ``x`` (N, T, S, S, 3) uint8 frames, ``lengths`` (N,) int64 -> ``features`` (N, T, F)
      float32, the CNN's features of each frame, zero past each length (``ActionNet.lstm_inputs``);
    * ``classify_path``: ``features`` (N, T, F) float32, ``lengths`` -> ``logits`` (N, classes)
      (``ActionNet.classify``).

    Batch and time are dynamic in both. Returns (a check feed of each graph). ``lstmkit export onnx`` writes
    the whole model as one graph (frames in, logits out); this is what ``--quantize int8`` runs.
    """
    import torch

    native = native_eval_copy(model)
    _, frames_feed, _ = lengths_examples("action_net", native, config)
    F = native.feature_dim

    class VideoFeatures(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x, lengths):
            return self.model.lstm_inputs(x, lengths)

    class VideoClassifier(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, features, lengths):
            return self.model.classify(features, lengths)

    features, classify = VideoFeatures(native).eval(), VideoClassifier(native).eval()

    def features_feed(n, t, lengths, seed):
        g = torch.Generator().manual_seed(seed)
        values = torch.randn(n, t, F, generator=g)
        values[torch.arange(t) >= torch.tensor(lengths).unsqueeze(1)] = 0  # as lstm_inputs leaves pads
        return {"features": values, "lengths": torch.tensor(lengths, dtype=torch.int64)}

    parts = ((features, frames_feed, features_path, ["x", "lengths"], ["features"]),
             (classify, features_feed, classify_path, ["features", "lengths"], ["logits"]))
    for module, feed, path, names_in, names_out in parts:
        axes = {names_in[0]: {0: "batch", 1: "time"}, "lengths": {0: "batch"},
                names_out[0]: {0: "batch", 1: "time"} if names_out[0] == "features" else {0: "batch"}}

        def write(tmp: Path, module=module, feed=feed, names_in=names_in, names_out=names_out, axes=axes) -> None:
            # A length shorter than T in the example: see _export_graph in lstmkit.export.onnx.
            torch_export(module, tuple(feed(2, 6, [6, 3], 0).values()), tmp, input_names=names_in,
                         output_names=names_out, dynamic_axes=axes, opset=opset)
            check_against_torch(tmp, module, [feed(3, 9, [9, 2, 5], 1), feed(1, 4, [4], 2)], names_out)

        write_onnx(path, write)
    return frames_feed(3, 9, [9, 2, 5], 1), features_feed(3, 9, [9, 2, 5], 1)
