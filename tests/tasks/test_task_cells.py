"""``--cell``, ``--recurrent-dropout`` and ``--zoneout`` on every task: the configs' checks, the options of
every train command, and networks saved before these options existed loading as the plain LSTM.

Each task's end-to-end run with another cell is in its own test module (test_*.py "other cells")."""
import argparse

import pytest

from lstmkit.cli import build_parser, main
from lstmkit.errors import ConfigError
from lstmkit.nn import CELLS, GRU, LSTM, RNN, LayerNormLSTM, PeepholeLSTM, check_cell
from lstmkit.tasks.action import ActionConfig
from lstmkit.tasks.anomaly import AnomalyConfig
from lstmkit.tasks.cells import CELL_NAMES, HAS_CELL_STATE
from lstmkit.tasks.forecast import ForecastConfig
from lstmkit.tasks.studies.long_memory import LongMemoryConfig
from lstmkit.tasks.text import ClassifyConfig, LMConfig
from lstmkit.tasks.translate import TranslateConfig

CONFIGS = {
    "forecast": lambda **kw: ForecastConfig(targets=["y"], **kw),
    "anomaly": lambda **kw: AnomalyConfig(columns=["y"], **kw),
    "text lm": lambda **kw: LMConfig(**kw),
    "text classify": lambda **kw: ClassifyConfig(**kw),
    "translate": lambda **kw: TranslateConfig(**kw),
    "action": lambda **kw: ActionConfig(**kw),
}
# Each train command with its required arguments (never run: parsed only).
TRAIN_ARGV = {
    "forecast": ["forecast", "train", "d.csv", "--target", "y"],
    "forecast backtest": ["forecast", "backtest", "d.csv", "--target", "y"],
    "anomaly": ["anomaly", "train", "d.csv", "--columns", "y"],
    "text lm": ["text", "lm", "train", "corpus.txt"],
    "text classify": ["text", "classify", "train", "d.csv", "--text-column", "t", "--label-column", "l"],
    "translate": ["translate", "train", "pairs.tsv"],
    "action": ["action", "train", "d.csv"],
}


def test_the_names_are_those_of_lstmkit_nn():
    assert CELL_NAMES == tuple(CELLS)
    assert HAS_CELL_STATE == tuple(name for name, (layer, _) in CELLS.items() if issubclass(layer, LSTM))


@pytest.mark.parametrize("task", CONFIGS)
def test_every_config_defaults_to_the_plain_lstm_and_checks_the_options(task):
    make = CONFIGS[task]
    config = make()
    assert (config.cell, config.recurrent_dropout, config.zoneout) == ("lstm", 0.0, 0.0)
    config = make(cell="gru", recurrent_dropout=0.25, zoneout=0)
    assert (config.cell, config.recurrent_dropout, config.zoneout) == ("gru", 0.25, 0.0)
    assert isinstance(config.zoneout, float)
    with pytest.raises(ConfigError, match=r"cell must be one of lstm, peephole, cifg, layernorm, gru, rnn, "
                                          r"got 'lstmm'"):
        make(cell="lstmm")
    for name, bad in (("recurrent_dropout", 1.0), ("zoneout", -0.1), ("zoneout", "0.1"), ("recurrent_dropout", True)):
        with pytest.raises(ConfigError, match=rf"{name} must be a number in \[0, 1\) \(0: off\), got {bad!r}"):
            make(**{name: bad})


@pytest.mark.parametrize("command", TRAIN_ARGV)
def test_every_train_command_takes_the_cell_options(command):
    args = build_parser().parse_args(TRAIN_ARGV[command])
    assert (args.cell, args.recurrent_dropout, args.zoneout) == (None, None, None)  # not given: the defaults
    args = build_parser().parse_args([*TRAIN_ARGV[command], "--cell", "layernorm", "--recurrent-dropout", "0.2",
                                      "--zoneout", "0.1"])
    assert (args.cell, args.recurrent_dropout, args.zoneout) == ("layernorm", 0.2, 0.1)


@pytest.mark.parametrize("command", TRAIN_ARGV)
def test_an_unknown_cell_is_refused_in_one_line_listing_the_choices(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*TRAIN_ARGV[command], "--cell", "lstmm"])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error: argument --cell: invalid choice: 'lstmm' (choose from " in error, error
    listed = error.split("(choose from ")[1].rstrip(")").replace("'", "").split(", ")  # quoted before Python 3.12
    assert listed == list(CELL_NAMES)


def test_the_help_says_what_each_option_does():
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    train = next(a for a in sub.choices["forecast"]._actions
                 if isinstance(a, argparse._SubParsersAction)).choices["train"]
    helps = {a.dest: a.help for a in train._actions if a.dest in ("cell", "recurrent_dropout", "zoneout")}
    assert helps["cell"].startswith("recurrent cell: lstm, peephole") and helps["cell"].endswith("(default: lstm)")
    assert "one mask per sequence" in helps["recurrent_dropout"] and "expectation" in helps["zoneout"]


def test_the_long_memory_study_compares_any_cells_matched_to_the_lstm():
    from lstmkit.tasks.studies.long_memory import PROBLEMS, LongMemoryNet, build_model, parameter_count

    assert LongMemoryConfig().models == ["rnn", "lstm"]
    assert LongMemoryConfig(models=["lstm", "gru", "gru"]).models == ["lstm", "gru"]
    with pytest.raises(ConfigError, match="models must include lstm"):
        LongMemoryConfig(models=["gru"])
    with pytest.raises(ConfigError, match=r"unknown model\(s\) \['lstmm'\]"):
        LongMemoryConfig(models=["lstm", "lstmm"])
    problem = PROBLEMS["adding"]
    target = parameter_count(build_model("lstm", problem, 32))
    for cell in ("gru", "peephole", "cifg", "layernorm"):
        model = build_model(cell, problem, 32)
        assert type(model.rnn) is CELLS[cell][0] and model.cell == cell
        assert abs(parameter_count(model) - target) / target < 0.03, cell  # peepholes add 3 H
    with pytest.raises(ValueError, match="cell must be one of lstm, peephole"):
        LongMemoryNet("lstmm", 2, 4, 1)
    args = build_parser().parse_args(["study", "long-memory", "--models", "lstm", "gru"])
    assert args.models == ["lstm", "gru"]


# ------------------------------------------------------------------------- saved before cells existed
def _networks():
    """(model class, a config as older versions saved it: no cell, recurrent_dropout or zoneout keys, the
    attribute holding the recurrent layer)."""
    from lstmkit.tasks.action.model import ActionNet
    from lstmkit.tasks.anomaly.model import NextStepNet, SequenceAutoencoder
    from lstmkit.tasks.forecast.model import ForecastNet
    from lstmkit.tasks.text.models import LSTMLanguageModel, LSTMTextClassifier
    from lstmkit.tasks.translate.model import Seq2SeqAttention

    return [
        (ForecastNet, {"n_inputs": 2, "n_targets": 1, "horizon": 3, "quantiles": [0.5], "hidden_size": 4,
                       "num_layers": 1, "dropout": 0.0, "members": 2, "residual": True}, lambda m: m.lstms[1]),
        (NextStepNet, {"n_features": 2, "hidden_size": 4, "num_layers": 1, "residual": True}, lambda m: m.lstm),
        (SequenceAutoencoder, {"n_features": 2, "window": 5, "hidden_size": 4, "num_layers": 1, "latent_size": 2},
         lambda m: m.decoder),
        (LSTMLanguageModel, {"vocab_size": 9, "embedding_dim": 4, "hidden_size": 4, "num_layers": 1, "dropout": 0.0,
                             "tie_weights": True}, lambda m: m.lstm),
        (LSTMTextClassifier, {"vocab_size": 9, "num_classes": 2, "embedding_dim": 4, "hidden_size": 4,
                              "num_layers": 1, "bidirectional": True, "dropout": 0.0, "pooling": "max"},
         lambda m: m.lstm),
        (Seq2SeqAttention, {"src_vocab_size": 9, "tgt_vocab_size": 9, "embedding_dim": 4, "hidden_size": 4,
                            "num_layers": 1, "bidirectional": True, "attention": "luong", "score": "general",
                            "input_feed": True, "bridge": "copy", "dropout": 0.0}, lambda m: m.encoder),
        (ActionNet, {"kind": "sensor", "num_classes": 2, "input_size": 2, "hidden_size": 4, "num_layers": 1,
                     "bidirectional": False, "pooling": "last", "dropout": 0.0, "cnn_channels": [16, 32, 64],
                     "feature_dim": 128, "conv_channels": 0, "conv_kernel": 5, "conv_layers": 0}, lambda m: m.lstm),
    ]


@pytest.mark.parametrize("network", _networks(), ids=lambda n: n[0].__name__ if isinstance(n, tuple) else "")
def test_a_network_saved_without_the_cell_keys_loads_as_the_plain_lstm(network):
    cls, old, layer_of = network
    model = cls.from_config(old)
    layer = layer_of(model)
    assert type(layer) is LSTM and not layer.coupled and (layer.recurrent_dropout, layer.zoneout) == (0.0, 0.0)
    config = model.get_config()
    assert {k: config[k] for k in ("cell", "recurrent_dropout", "zoneout")} == {
        "cell": "lstm", "recurrent_dropout": 0.0, "zoneout": 0.0}
    assert {k: v for k, v in config.items() if k in old} == old  # nothing else changed
    # ... and with the keys, each cell is the layer it names
    for cell, expected in (("gru", GRU), ("rnn", RNN), ("peephole", PeepholeLSTM), ("layernorm", LayerNormLSTM)):
        rebuilt = cls.from_config({**old, "cell": check_cell(cell), "recurrent_dropout": 0.1, "zoneout": 0.2})
        layer = layer_of(rebuilt)
        assert type(layer) is expected and (layer.recurrent_dropout, layer.zoneout) == (0.1, 0.2)
        assert rebuilt.get_config()["cell"] == cell
