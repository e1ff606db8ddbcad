"""The recurrent cell of a task's network and its regularisers, as every task's config and command line take them.

Each task's config has the three fields ``cell: str = "lstm"``, ``recurrent_dropout: float = 0.0`` and
``zoneout: float = 0.0`` (checked by :func:`check_cell_options` in its ``__post_init__``), its train
command the options ``--cell``, ``--recurrent-dropout`` and ``--zoneout`` (:data:`CELL_FIELDS`,
:data:`CELL_HELP`, :data:`CELL_CHOICES`), and its network builds its recurrent layers with
:func:`lstmkit.nn.recurrent_layer` from :func:`layer_options`. The defaults are the plain LSTM without
either regulariser, so a run that names none of them is the run it always was.

This module imports no torch: the command line builds its parser from it.
"""
from __future__ import annotations

from lstmkit.errors import ConfigError

__all__ = ["CELL_CHOICES", "CELL_FIELDS", "CELL_HELP", "CELL_NAMES", "HAS_CELL_STATE", "check_cell_options",
           "default_cell", "layer_options"]

#: The names of :data:`lstmkit.nn.CELLS`, kept here so that the parser needs no torch (a test keeps them equal).
CELL_NAMES = ("lstm", "peephole", "cifg", "layernorm", "gru", "rnn")
#: The cells whose layers carry a cell state c beside h (they return ``(h_n, c_n)``; the others ``h_n``).
HAS_CELL_STATE = ("lstm", "peephole", "cifg", "layernorm")

CELL_FIELDS = ["cell", "recurrent_dropout", "zoneout"]
CELL_HELP = {
    "cell": "recurrent cell: lstm, peephole (gates see the cell), cifg (coupled input-forget gate), layernorm "
            "(layer-normalised LSTM), gru, or rnn (vanilla)",
    "recurrent_dropout": "dropout on h inside the recurrence, one mask per sequence, while training only "
                         "(default 0: off)",
    "zoneout": "chance that a unit keeps its previous state at a step while training; the expectation at "
               "prediction (default 0: off)",
}
CELL_CHOICES = {"cell": list(CELL_NAMES)}


def check_cell_options(config) -> None:
    """:class:`~lstmkit.errors.ConfigError` unless ``config.cell`` names a cell and ``config.recurrent_dropout``
    and ``config.zoneout`` are probabilities in [0, 1); an int given for either becomes a float."""
    if config.cell not in CELL_NAMES:
        raise ConfigError(f"cell must be one of {', '.join(CELL_NAMES)}, got {config.cell!r}")
    for name in ("recurrent_dropout", "zoneout"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"{name} must be a number in [0, 1) (0: off), got {value!r}")
        setattr(config, name, float(value))


def default_cell(config) -> bool:
    """True for the plain LSTM with neither regulariser (what every run was before cells could be chosen);
    ``config`` is a task config or a network with the three attributes."""
    return (config.cell, config.recurrent_dropout, config.zoneout) == ("lstm", 0.0, 0.0)


def layer_options(config) -> dict:
    """``recurrent_dropout`` and ``zoneout`` of ``config`` (a task config or a network) as the layers'
    keyword arguments."""
    return {"recurrent_dropout": float(config.recurrent_dropout), "zoneout": float(config.zoneout)}
