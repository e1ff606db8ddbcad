"""What defines a text run (:class:`LMConfig`, :class:`ClassifyConfig`) and what fitting learns
(:class:`LMState`, :class:`ClassifyState`: sizes, the split, the tokeniser and the vocabulary).

The states are ``config.json["data"]``; their tokeniser and vocabulary are objects, written with
their own ``to_dict`` and rebuilt with ``tokenizer_from_dict`` / ``Vocabulary.from_dict``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from typing import TYPE_CHECKING

from lstmkit.config import DictConfig, check_positive_ints
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

if TYPE_CHECKING:  # imported where used: the command line reads these configs without torch
    from lstmkit.data.text import CharTokenizer, Vocabulary, WordTokenizer

POOLINGS = ("max", "mean", "last")  # lstmkit.nn.pooling.masked_pool's modes

LEVELS = ("word", "char")


# ---------------------------------------------------------------------------------- language model
@dataclass
class LMConfig(DictConfig):
    """A language-modelling run. ``None`` means "the level's default" (see ``__post_init__``)."""

    level: str = "word"  # "word" or "char"
    lower: bool | None = None  # default: True for words, False for characters
    min_freq: int | None = None  # default: 2 for words (a word seen once is noise), 1 for characters
    max_vocab: int | None = 20000  # entries, the four specials included
    embedding_dim: int | None = None  # default: hidden_size (required by tie_weights)
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.3  # on the embeddings, between LSTM layers and before the output layer
    cell: str = "lstm"  # the recurrent cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sequence (training only)
    zoneout: float = 0.0
    tie_weights: bool = True
    bptt: int | None = None  # tokens per truncated-BPTT segment; default 35 (words), 100 (characters)
    batch_size: int = 32  # parallel rows of the stream
    train_fraction: float = 0.8
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    ngram_orders: list[int] | None = None  # Kneser-Ney baselines; default [2, 3] (words), [3, 5] (chars)
    # Training: Adam, a few passes over the text; the learning rate halves when the validation loss
    # stalls and early stopping keeps the best epoch's weights.
    epochs: int = 10
    patience: int = 2
    lr: float = 3e-3
    weight_decay: float = 0.0
    clip_grad_norm: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.level not in LEVELS:
            raise ConfigError(f"level must be 'word' or 'char', got {self.level!r}")
        word = self.level == "word"
        if self.lower is None:
            self.lower = word
        if self.min_freq is None:
            self.min_freq = 2 if word else 1
        if self.bptt is None:
            self.bptt = 35 if word else 100
        if self.ngram_orders is None:
            self.ngram_orders = [2, 3] if word else [3, 5]
        check_positive_ints(self, ("hidden_size", "num_layers", "bptt", "batch_size", "epochs", "patience",
                                    "min_freq"))
        if self.embedding_dim is not None and (not isinstance(self.embedding_dim, int) or self.embedding_dim < 1):
            raise ConfigError(f"embedding_dim must be a positive integer or None, got {self.embedding_dim!r}")
        if self.tie_weights and self.embedding_dim not in (None, self.hidden_size):
            raise ConfigError(f"tie_weights needs embedding_dim == hidden_size ({self.hidden_size}), got "
                              f"{self.embedding_dim}; drop --embedding-dim or pass --no-tie-weights")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ConfigError(f"max_vocab must be larger than 4 (the special tokens), got {self.max_vocab!r}")
        if any(not isinstance(n, int) or n < 1 for n in self.ngram_orders):
            raise ConfigError(f"ngram_orders must be positive integers, got {self.ngram_orders!r}")
        fractions = (self.train_fraction, self.val_fraction, self.test_fraction)
        if not (0 < self.train_fraction <= 1 and all(0 <= f <= 1 for f in fractions)
                and abs(sum(fractions) - 1) <= 1e-6):
            raise ConfigError("train_fraction, val_fraction and test_fraction must be fractions summing to 1 "
                              f"(train above 0), got {fractions}")
        check_cell_options(self)

    def tokenizer(self) -> WordTokenizer | CharTokenizer:
        from lstmkit.data.text import CharTokenizer, WordTokenizer

        if self.level == "word":
            return WordTokenizer(lower=self.lower, punctuation=True, lines=True)
        return CharTokenizer(lower=self.lower)


# -------------------------------------------------------------------------------------- classifier
@dataclass
class ClassifyConfig(DictConfig):
    """A text-classification run."""

    text_column: str = "text"
    label_column: str = "label"
    lower: bool = True
    min_freq: int = 2  # a word seen once in training gets no embedding of its own: <unk>
    max_vocab: int | None = 30000  # entries, the four specials included
    max_length: int = 400  # tokens read per text (the rest is cut)
    embedding_dim: int = 100
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    pooling: str = "max"
    dropout: float = 0.5  # on the embeddings, between LSTM layers and before the output layer
    cell: str = "lstm"  # the recurrent cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sequence (training only)
    zoneout: float = 0.0
    val_fraction: float = 0.1
    test_fraction: float = 0.2
    # Early stopping (and the weights kept) by validation accuracy, the metric reported: on sentiment
    # snippets the validation loss turns up while the accuracy still rises (the model grows overconfident
    # on the examples it gets right), so stopping on the loss ended 2-3 points lower (Rotten Tomatoes).
    monitor: str = "accuracy"  # "accuracy" or "loss"
    epochs: int = 20
    patience: int = 3
    lr: float = 2e-3
    weight_decay: float = 0.0
    batch_size: int = 32
    clip_grad_norm: float = 1.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_ints(self, ("min_freq", "max_length", "embedding_dim", "hidden_size", "num_layers", "epochs",
                                    "patience", "batch_size"))
        if self.pooling not in POOLINGS:
            raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}, got {self.pooling!r}")
        if self.monitor not in ("accuracy", "loss"):
            raise ConfigError(f"monitor must be 'accuracy' or 'loss', got {self.monitor!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not (0 < self.val_fraction < 1 and 0 < self.test_fraction < 1
                and self.val_fraction + self.test_fraction < 1):
            raise ConfigError("val_fraction and test_fraction must be fractions in (0, 1) with a sum below 1, got "
                              f"{self.val_fraction} and {self.test_fraction}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ConfigError(f"max_vocab must be larger than 4 (the special tokens), got {self.max_vocab!r}")
        check_cell_options(self)

    def tokenizer(self) -> WordTokenizer:
        from lstmkit.data.text import WordTokenizer

        return WordTokenizer(lower=self.lower, punctuation=True)


# ------------------------------------------------------------------------------------------ states
class TextState(DictConfig):
    """Mixin for a state holding a ``tokenizer`` and a ``vocabulary``: both go to JSON through their
    ``to_dict`` and come back as objects; a damaged one is a :class:`~lstmkit.errors.ConfigError`."""

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["tokenizer"] = self.tokenizer.to_dict()
        values["vocabulary"] = self.vocabulary.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict):
        from lstmkit.data.text import Vocabulary, tokenizer_from_dict

        values = dict(values)
        try:
            if "tokenizer" in values:
                values["tokenizer"] = tokenizer_from_dict(values["tokenizer"])
            if "vocabulary" in values:
                values["vocabulary"] = Vocabulary.from_dict(values["vocabulary"])
        except (TypeError, ValueError) as error:  # DataError is a ValueError
            raise ConfigError(f"{cls.__name__}: the saved tokenizer or vocabulary is damaged: {error}") from None
        return super().from_dict(values)


@dataclass
class LMState(TextState):
    """What :class:`~lstmkit.tasks.text.LanguageModel` learns: ``split`` holds the token ranges
    ``{"train": [0, a], "val": [a, b], "test": [b, n]}`` of the corpus."""

    tokens: int
    vocab_size: int
    split: dict
    tokenizer: WordTokenizer | CharTokenizer
    vocabulary: Vocabulary


@dataclass
class ClassifyState(TextState):
    """What :class:`~lstmkit.tasks.text.TextClassifier` learns: ``classes`` in output order, ``split``
    the row counts ``{"train", "val", "test", "seed", "stratified"}``."""

    rows: int
    classes: list[str]
    vocab_size: int
    split: dict
    tokenizer: WordTokenizer
    vocabulary: Vocabulary
