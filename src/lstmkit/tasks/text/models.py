r"""The two text networks, registered for ``lstmkit.train.load_model``, and the language model's loss.

Language model (Zaremba et al. 2014; Press & Wolf 2017 for the tying), ``"text_lm"``::

    ids (N, T) -> embedding (N, T, E) -> dropout -> stacked LSTM (N, T, H), dropout between layers
               -> dropout -> linear (N, T, V) -> softmax over the vocabulary

With ``tie_weights`` the output layer reuses the embedding matrix (E = H), which has fewer parameters
and, on small corpora, a lower perplexity.

Classifier, ``"text_classifier"``::

    ids (N, T), lengths (N,) -> embedding (N, T, E) -> dropout -> (bi)LSTM with lengths (N, T, D*H)
        -> pooled over each text's own steps (N, D*H) -> dropout -> linear (N, C) -> softmax

Pooling (:func:`lstmkit.nn.pooling.masked_pool`): ``"max"`` (default) takes each feature's maximum
over the valid steps, ``"mean"`` their mean, ``"last"`` the final states (each direction's own last
step). Texts of different lengths share a padded batch; the ``lengths`` go to
:class:`lstmkit.nn.LSTM` (pads never enter a state) and to the pooling mask, so a text's logits do
not depend on the batch it is in.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from lstmkit.nn import recurrent_layer
from lstmkit.nn.pooling import POOLINGS, masked_pool
from lstmkit.registry import register_model

__all__ = ["LSTMLanguageModel", "LSTMTextClassifier", "lm_loss"]


@register_model("text_lm")
class LSTMLanguageModel(torch.nn.Module):
    """Embedding -> stacked :class:`lstmkit.nn.LSTM` -> linear over the vocabulary.

    ``forward(ids, state=None)``: ids (N, T) int64 -> ``(logits (N, T, V), state)``, the stateful
    protocol of :class:`lstmkit.train.Trainer`; ``state`` None starts from zeros. ``cell``,
    ``recurrent_dropout`` and ``zoneout`` choose the recurrent layer (:func:`lstmkit.nn.recurrent_layer`,
    the attribute ``lstm`` whatever the cell); ``state`` is ``(h, c)`` for the LSTM family, ``h`` for
    the GRU and the RNN.
    """

    def __init__(self, vocab_size: int, embedding_dim: int | None = None, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.3, tie_weights: bool = True, cell: str = "lstm",
                 recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__()
        embedding_dim = embedding_dim or hidden_size
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(f"tie_weights needs embedding_dim == hidden_size, got {embedding_dim} and {hidden_size}")
        self.vocab_size, self.embedding_dim, self.hidden_size = vocab_size, embedding_dim, hidden_size
        self.num_layers, self.dropout_p, self.tie_weights = num_layers, float(dropout), bool(tie_weights)
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim)
        self.lstm = recurrent_layer(cell, embedding_dim, hidden_size, num_layers, batch_first=True,
                                    dropout=self.dropout_p if num_layers > 1 else 0.0,
                                    recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout)
        self.drop = torch.nn.Dropout(self.dropout_p)
        self.decoder = torch.nn.Linear(hidden_size, vocab_size)
        with torch.no_grad():
            # Small uniform embeddings (Zaremba et al. 2014): the initial logits are near zero, i.e. the
            # model starts at the uniform distribution, perplexity ~ V.
            self.embedding.weight.uniform_(-0.1, 0.1)
            self.decoder.bias.zero_()
            if not tie_weights:
                self.decoder.weight.uniform_(-0.1, 0.1)
        if tie_weights:
            self.decoder.weight = self.embedding.weight

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "embedding_dim": self.embedding_dim, "hidden_size": self.hidden_size,
                "num_layers": self.num_layers, "dropout": self.dropout_p, "tie_weights": self.tie_weights,
                "cell": self.cell, "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "LSTMLanguageModel":
        return cls(**config)

    def forward(self, ids: torch.Tensor, state=None):
        x = self.drop(self.embedding(ids))  # (N, T, E)
        out, state = self.lstm(x, state)  # (N, T, H)
        return self.decoder(self.drop(out)), state  # (N, T, V)


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position: logits (N, T, V), targets (N, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@register_model("text_classifier")
class LSTMTextClassifier(torch.nn.Module):
    """Embedding -> (bi)LSTM -> masked pooling -> linear.

    ``forward((ids, lengths))``: ids (N, T) int64 padded with 0, lengths (N,) -> logits (N, C).
    ``cell``, ``recurrent_dropout`` and ``zoneout`` choose the recurrent layer
    (:func:`lstmkit.nn.recurrent_layer`, the attribute ``lstm`` whatever the cell).
    """

    def __init__(self, vocab_size: int, num_classes: int, embedding_dim: int = 100, hidden_size: int = 128,
                 num_layers: int = 1, bidirectional: bool = False, dropout: float = 0.5, pooling: str = "max",
                 cell: str = "lstm", recurrent_dropout: float = 0.0, zoneout: float = 0.0):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
        self.vocab_size, self.num_classes, self.embedding_dim = vocab_size, num_classes, embedding_dim
        self.hidden_size, self.num_layers, self.bidirectional = hidden_size, num_layers, bool(bidirectional)
        self.dropout_p, self.pooling = float(dropout), pooling
        self.cell, self.recurrent_dropout, self.zoneout = cell, float(recurrent_dropout), float(zoneout)
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.lstm = recurrent_layer(cell, embedding_dim, hidden_size, num_layers, batch_first=True,
                                    bidirectional=bidirectional, dropout=self.dropout_p if num_layers > 1 else 0.0,
                                    recurrent_dropout=self.recurrent_dropout, zoneout=self.zoneout)
        self.drop = torch.nn.Dropout(self.dropout_p)
        self.head = torch.nn.Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def get_config(self) -> dict:
        return {"vocab_size": self.vocab_size, "num_classes": self.num_classes, "embedding_dim": self.embedding_dim,
                "hidden_size": self.hidden_size, "num_layers": self.num_layers, "bidirectional": self.bidirectional,
                "dropout": self.dropout_p, "pooling": self.pooling, "cell": self.cell,
                "recurrent_dropout": self.recurrent_dropout, "zoneout": self.zoneout}

    @classmethod
    def from_config(cls, config: dict) -> "LSTMTextClassifier":
        return cls(**config)

    def forward(self, inputs) -> torch.Tensor:
        ids, lengths = inputs  # (N, T), (N,)
        x = self.drop(self.embedding(ids))  # (N, T, E)
        out, _ = self.lstm(x, lengths=lengths)  # (N, T, D*H), zero past each length
        # (N, D*H); "last" = the top layer's final state per direction
        pooled = masked_pool(out, lengths, self.pooling, directions=2 if self.bidirectional else 1)
        return self.head(self.drop(pooled))  # (N, C)
