"""The LSTM written from its equations, and the vanilla RNN beside it.

* :mod:`lstmkit.nn.functional`: one step of each, as pure tensor math;
* :mod:`lstmkit.nn.cells`: ``LSTMCell``, ``RNNCell`` (drop-ins for torch's);
* :mod:`lstmkit.nn.layers`: ``LSTM``, ``RNN`` (drop-ins for torch's, plus ``lengths=`` and backends);
* :mod:`lstmkit.nn.init`: Glorot/He/orthogonal per gate block, forget-gate bias;
* :mod:`lstmkit.nn.gates`: ``record_gates`` for looking inside;
* :mod:`lstmkit.nn.streaming`: one step per call for live feeds.
"""
from lstmkit.nn import functional, init
from lstmkit.nn.cells import LSTMCell, RNNCell
from lstmkit.nn.gates import GateTrace, record_gates
from lstmkit.nn.layers import BACKENDS, LSTM, RNN
from lstmkit.nn.streaming import LSTMStreamer

__all__ = [
    "BACKENDS", "GateTrace", "LSTM", "LSTMCell", "LSTMStreamer", "RNN", "RNNCell",
    "functional", "init", "record_gates",
]
