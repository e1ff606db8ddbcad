"""The LSTM written from its equations, and the vanilla RNN beside it.

* :mod:`lstmkit.nn.functional`: one step of each, as pure tensor math;
* :mod:`lstmkit.nn.cells`: ``LSTMCell``, ``RNNCell`` (drop-ins for torch's);
* :mod:`lstmkit.nn.layers`: ``LSTM``, ``RNN`` (drop-ins for torch's, plus ``lengths=``, backends,
  the LSTM variants as options, recurrent dropout, zoneout and DropConnect);
* :mod:`lstmkit.nn.variants`: ``PeepholeLSTM``, ``LayerNormLSTM``, ``GRU`` (a drop-in for torch's),
  and ``recurrent_layer(cell, ...)`` building any of them by name (:data:`CELLS`, a task's ``--cell``);
* :mod:`lstmkit.nn.fused`, :mod:`lstmkit.nn.fused_gru`: the fused backend (hand-written backward
  through time) of what no vendor kernel covers;
* :mod:`lstmkit.nn.init`: Glorot/He/orthogonal per gate block, forget-gate bias;
* :mod:`lstmkit.nn.gates`: ``record_gates`` for looking inside;
* :mod:`lstmkit.nn.streaming`: one step per call for live feeds;
* :mod:`lstmkit.nn.pooling`: masked pooling over time (max, mean, last valid step; pads never count);
* :mod:`lstmkit.nn.encoder_decoder`: an LSTM encoder-decoder through a fixed-size code;
* :mod:`lstmkit.nn.keras`: Keras LSTM (and GRU) weights in and out (imported on its own:
  ``from lstmkit.nn.keras import lstm_from_keras``).
"""
from lstmkit.nn import functional, init
from lstmkit.nn.cells import LSTMCell, RNNCell
from lstmkit.nn.encoder_decoder import EncoderDecoder
from lstmkit.nn.gates import GateTrace, GRUGateTrace, record_gates
from lstmkit.nn.layers import BACKENDS, LSTM, RNN
from lstmkit.nn.pooling import POOLINGS, MaskedPooling, masked_pool
from lstmkit.nn.streaming import LSTMStreamer, RecurrentStreamer
from lstmkit.nn.variants import CELLS, GRU, LayerNormLSTM, PeepholeLSTM, check_cell, last_hidden, recurrent_layer

__all__ = [
    "BACKENDS", "CELLS", "GRU", "GRUGateTrace", "POOLINGS", "EncoderDecoder", "GateTrace", "LSTM", "LSTMCell", "LSTMStreamer",
    "LayerNormLSTM", "MaskedPooling", "PeepholeLSTM", "RNN", "RNNCell", "RecurrentStreamer", "functional",
    "check_cell", "init", "last_hidden", "masked_pool", "record_gates", "recurrent_layer",
]
