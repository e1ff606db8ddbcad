"""The LSTM written from its equations, and the vanilla RNN beside it.

* :mod:`lstmkit.nn.functional`: one step of each, as pure tensor math;
* :mod:`lstmkit.nn.cells`: ``LSTMCell``, ``RNNCell`` (drop-ins for torch's);
* :mod:`lstmkit.nn.layers`: ``LSTM``, ``RNN`` (drop-ins for torch's, plus ``lengths=`` and backends);
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
from lstmkit.nn.gates import GateTrace, record_gates
from lstmkit.nn.layers import BACKENDS, LSTM, RNN
from lstmkit.nn.pooling import POOLINGS, MaskedPooling, masked_pool
from lstmkit.nn.streaming import LSTMStreamer

__all__ = [
    "BACKENDS", "POOLINGS", "EncoderDecoder", "GateTrace", "LSTM", "LSTMCell", "LSTMStreamer", "MaskedPooling",
    "RNN", "RNNCell", "functional", "init", "masked_pool", "record_gates",
]
