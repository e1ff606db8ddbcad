r"""An LSTM encoder-decoder with a bottleneck: a sequence in, a fixed-size code, a sequence out.

The encoder LSTM reads the input; its top layer's last hidden state goes through a linear layer and a
tanh into a code of ``code_size`` numbers,

.. math:: c = \tanh(W_c h_T + b_c),

small enough that the model cannot simply copy its input. The decoder LSTM, starting from a zero
state, reads the code at every step (optionally next to a per-step input, e.g. the previous target
for teacher forcing) and a linear head turns its hidden states into outputs,
:math:`\hat y_t = W_o h'_t + b_o`. With ``reverse=True`` the decoder emits the sequence back to front
(its first step is the input's last) and the result is flipped into time order: the order Malhotra et
al. (2016, EncDec-AD) found easiest to learn, since the last steps read are the first rebuilt.

Used by the anomaly detector's ``SequenceAutoencoder``; the parameters are created in the order
encoder, ``to_code``, decoder, ``head`` (their ``state_dict`` names), so a model seeded the same way
starts from the same numbers.
"""
from __future__ import annotations

import torch

from lstmkit.nn.variants import last_hidden, recurrent_layer

__all__ = ["EncoderDecoder"]


class EncoderDecoder(torch.nn.Module):
    """``forward(x) -> y``: x (N, T, input_size) to y (N, T, output_size), through a code (N, code_size).

    Args:
        input_size: features per input step.
        hidden_size: hidden units of both LSTMs.
        num_layers: layers of both LSTMs.
        code_size: size of the bottleneck code.
        output_size: features per output step (default: ``input_size``, an autoencoder).
        decoder_input_size: features of an optional per-step decoder input read next to the code
            (0: the decoder reads the code alone).
        reverse: decode back to front and flip the result into time order (see the module docstring).
        cell: the recurrent cell of both (:data:`lstmkit.nn.CELLS`, default ``"lstm"``).
        **layer_options: passed to both recurrent layers (``recurrent_dropout``, ``zoneout``, ...).
    """

    def __init__(self, input_size: int, hidden_size: int = 32, num_layers: int = 1, code_size: int = 8,
                 output_size: int | None = None, decoder_input_size: int = 0, reverse: bool = True,
                 cell: str = "lstm", **layer_options):
        super().__init__()
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.code_size = code_size
        self.output_size = input_size if output_size is None else output_size
        self.decoder_input_size, self.reverse = decoder_input_size, reverse
        # Creation order = state_dict order = the seeded initialisation: keep it.
        self.cell, self.layer_options = cell, dict(layer_options)
        self.encoder = recurrent_layer(cell, input_size, hidden_size, num_layers, batch_first=True, **layer_options)
        self.to_code = torch.nn.Linear(hidden_size, code_size)
        self.decoder = recurrent_layer(cell, code_size + decoder_input_size, hidden_size, num_layers,
                                       batch_first=True, **layer_options)
        self.head = torch.nn.Linear(hidden_size, self.output_size)

    def get_config(self) -> dict:
        return {"input_size": self.input_size, "hidden_size": self.hidden_size, "num_layers": self.num_layers,
                "code_size": self.code_size, "output_size": self.output_size,
                "decoder_input_size": self.decoder_input_size, "reverse": self.reverse, "cell": self.cell,
                **self.layer_options}

    @classmethod
    def from_config(cls, config: dict) -> "EncoderDecoder":
        return cls(**config)

    def encode(self, x: torch.Tensor, lengths=None) -> torch.Tensor:
        """x (N, T, input_size) -> code (N, code_size): :math:`\\tanh(W_c h_T + b_c)` of the top layer.

        ``lengths`` (N,): each sequence's true length; its last hidden state is taken at that step."""
        _, state = self.encoder(x, lengths=lengths)  # h_n (L, N, H): each sequence's last step
        return torch.tanh(self.to_code(last_hidden(state)[-1]))

    def decode(self, code: torch.Tensor, steps: int, inputs: torch.Tensor | None = None) -> torch.Tensor:
        """code (N, code_size) -> (N, steps, output_size) in time order.

        ``inputs`` (N, steps, decoder_input_size), in the order the decoder reads them (back to front
        with ``reverse``), is read next to the code when ``decoder_input_size`` > 0."""
        decoder_in = code.unsqueeze(1).expand(-1, steps, -1)  # (N, steps, code)
        if self.decoder_input_size:
            if inputs is None:
                raise ValueError(f"decode: this decoder reads {self.decoder_input_size} input feature(s) per step; "
                                 "pass inputs=")
            decoder_in = torch.cat([decoder_in, inputs], dim=2)
        out, _ = self.decoder(decoder_in)  # (N, steps, H)
        y = self.head(out)
        return y.flip(1) if self.reverse else y  # decoded back to front -> time order

    def forward(self, x: torch.Tensor, decoder_inputs: torch.Tensor | None = None) -> torch.Tensor:
        return self.decode(self.encode(x), x.shape[1], decoder_inputs)
