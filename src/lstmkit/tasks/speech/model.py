r"""The speech network: features -> [stride-2 convolution] -> stacked (Bi)LSTM -> characters or one label.

``"speech_net"``::

    features (N, T, F) normalised, lengths (N,)
        -> SpecAugment masks (training only)
        -> optional conv1d (kernel k, stride 2) -> layer norm -> ReLU      (N, ceil(T/2), conv_channels)
        -> dropout -> LSTM layers with lengths                             (N, T', D*H)
        -> ctc:      dropout -> linear -> log-softmax over blank + alphabet (N, T', 1 + V), lengths T'
        -> keywords: masked mean over time -> dropout -> linear            (N, C)

The CTC output (Graves et al. 2006) is a distribution over the alphabet plus a blank at every frame;
the probability of a transcript :math:`y` sums over every frame labelling :math:`\pi` that collapses
to it (merge repeats, then drop blanks), :math:`p(y|x) = \sum_{\pi \in B^{-1}(y)} \prod_t p_t(\pi_t)`,
and training minimises :math:`-\log p(y|x)` (``torch.nn.functional.ctc_loss``). Label 0 is the blank.

The convolution halves the frame rate: output frame j reads input frames around 2j. A bidirectional
model pads it on both sides ("same"); a streaming model (``bidirectional=False``) pads only on the left,
so frame j reads input frames 2j - k + 1 .. 2j and never the future, and a stream can be transcribed
chunk by chunk with exactly the offline result (:mod:`lstmkit.tasks.speech.stream`). Either way an
utterance of T frames gives ceil(T/2) output frames, and pads are zeroed before the convolution reads
them, so a sequence's output does not depend on the batch it is in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from lstmkit.nn import recurrent_layer
from lstmkit.nn.pooling import masked_pool
from lstmkit.registry import register_model

__all__ = ["BLANK", "SpeechNet", "ctc_loss", "conv_lengths"]

BLANK = 0  # the CTC blank's output index; the alphabet's characters are 1..V


def conv_lengths(lengths: Tensor, conv: bool) -> Tensor:
    """Output frames per utterance: ceil(T / 2) after the stride-2 convolution, T without it."""
    return (lengths + 1) // 2 if conv else lengths


class SpecAugment(torch.nn.Module):
    """Time and frequency masking of normalised features while training (Park et al. 2019); identity in eval."""

    def __init__(self, time_masks: int, time_width: float, freq_masks: int, freq_width: int):
        super().__init__()
        self.time_masks, self.time_width, self.freq_masks, self.freq_width = time_masks, time_width, freq_masks, freq_width

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        if not self.training or (self.time_masks == 0 and self.freq_masks == 0):
            return x
        from lstmkit.data.audio_features import spec_augment

        return spec_augment(x, lengths=lengths, time_masks=self.time_masks, time_width=self.time_width,
                            freq_masks=self.freq_masks, freq_width=self.freq_width)


@register_model("speech_net")
class SpeechNet(torch.nn.Module):
    """``forward((features, lengths))`` -> ``(log_probs (N, T', 1 + V), lengths (N,))`` for ``task="ctc"``,
    logits (N, C) for ``task="keywords"``; ``num_outputs`` is 1 + V (blank + alphabet) or C."""

    def __init__(self, task: str, input_size: int, num_outputs: int, hidden_size: int = 128, num_layers: int = 2,
                 bidirectional: bool = True, conv_channels: int = 128, conv_kernel: int = 5, dropout: float = 0.2,
                 cell: str = "lstm", recurrent_dropout: float = 0.0, zoneout: float = 0.0, time_masks: int = 2,
                 time_width: float = 0.05, freq_masks: int = 2, freq_width: int = 6):
        super().__init__()
        if task not in ("ctc", "keywords"):
            raise ValueError(f"task must be 'ctc' or 'keywords', got {task!r}")
        if conv_channels and conv_kernel % 2 == 0:
            raise ValueError(f"conv_kernel must be odd (ceil(T/2) output frames either way), got {conv_kernel}")
        self.task, self.input_size, self.num_outputs = task, input_size, num_outputs
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bool(bidirectional)
        self.conv_channels, self.conv_kernel, self.dropout_p = conv_channels, conv_kernel, float(dropout)
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        self.augment_options = {"time_masks": time_masks, "time_width": float(time_width), "freq_masks": freq_masks,
                                "freq_width": freq_width}
        self.augment = SpecAugment(time_masks, time_width, freq_masks, freq_width)
        if conv_channels:
            # Streaming: all the padding on the left (causal); offline: "same" padding around each frame.
            self.conv_padding = (conv_kernel - 1, 0) if not self.bidirectional else (conv_kernel // 2, conv_kernel // 2)
            self.conv = torch.nn.Conv1d(input_size, conv_channels, conv_kernel, stride=2)
            self.conv_norm = torch.nn.LayerNorm(conv_channels)
        else:
            self.conv = None
        self.drop = torch.nn.Dropout(self.dropout_p)
        self.lstm = recurrent_layer(cell, conv_channels or input_size, hidden_size, num_layers, batch_first=True,
                                    bidirectional=self.bidirectional,
                                    dropout=self.dropout_p if num_layers > 1 else 0.0,
                                    recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout)
        self.head = torch.nn.Linear(hidden_size * (2 if self.bidirectional else 1), num_outputs)

    def get_config(self) -> dict:
        return {"task": self.task, "input_size": self.input_size, "num_outputs": self.num_outputs,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "bidirectional": self.bidirectional,
                "conv_channels": self.conv_channels, "conv_kernel": self.conv_kernel, "dropout": self.dropout_p,
                "cell": self.cell, "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout,
                **self.augment_options}

    @classmethod
    def from_config(cls, config: dict) -> "SpeechNet":
        return cls(**config)

    def frontend(self, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """Features (N, T, F) -> what the LSTM reads (N, T', C) and T' per utterance; zero past each length."""
        lengths = lengths.to(x.device)
        valid = torch.arange(x.shape[1], device=x.device) < lengths.unsqueeze(1)
        x = self.augment(x * valid.unsqueeze(-1), lengths)
        if self.conv is None:
            return x, lengths
        out_lengths = conv_lengths(lengths, True)
        y = F.pad(x.transpose(1, 2), self.conv_padding)
        y = self.conv(y).transpose(1, 2)[:, : int(out_lengths.max()) if len(out_lengths) else 0]
        return self.conv_step(y), out_lengths

    def conv_step(self, y: Tensor) -> Tensor:
        """Layer norm over the channels and ReLU on the convolution's output (per frame: streaming-safe)."""
        return torch.relu(self.conv_norm(y))

    def outputs(self, hidden: Tensor) -> Tensor:
        """LSTM outputs (N, T', D*H) -> per-frame log-probabilities (N, T', 1 + V) (ctc)."""
        return torch.log_softmax(self.head(self.drop(hidden)), dim=-1)

    def extra_repr(self) -> str:
        return f"task={self.task!r}, outputs={self.num_outputs}"

    def forward(self, inputs):
        x, lengths = inputs
        z, out_lengths = self.frontend(x, lengths)
        hidden, _ = self.lstm(self.drop(z), lengths=out_lengths)
        if self.task == "keywords":
            pooled = masked_pool(hidden, out_lengths, "mean")
            return self.head(self.drop(pooled))
        return self.outputs(hidden), out_lengths


def ctc_loss(prediction, target) -> Tensor:
    """Mean over the batch of -log p(transcript | audio), each divided by its transcript's length (torch's
    ``reduction="mean"``). ``prediction`` = (log_probs (N, T', 1 + V), lengths), ``target`` = (labels (N, L)
    padded, label lengths (N,)). ``zero_infinity``: an utterance too short for its transcript (fewer frames
    than labels plus repeats) contributes nothing instead of an infinite loss; the corpus check refuses
    such utterances before training (``SpeechRecognizer.fit``), so this guards direct use of the model."""
    log_probs, lengths = prediction
    labels, label_lengths = target
    return F.ctc_loss(log_probs.transpose(0, 1).float(), labels, lengths, label_lengths, blank=BLANK,
                      reduction="mean", zero_infinity=True)
