"""What defines a translation run (:class:`TranslateConfig`) and what fitting learns (:class:`TranslateState`).

The state is ``config.json["data"]``: the split, both sides' tokenisers (a BPE model as the JSON the
``tokenizers`` library writes, or a word tokeniser with its vocabulary) and the word-by-word lexicon
of the lexical baseline, so ``lstmkit translate run`` and ``evaluate`` need nothing but the run
directory.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from lstmkit.config import DictConfig, check_positive_ints
from lstmkit.errors import ConfigError
from lstmkit.tasks.cells import check_cell_options

TOKENIZERS = ("bpe", "word")
ATTENTIONS = ("luong", "bahdanau")
SCORES = ("general", "dot")  # Luong's score functions; Bahdanau's is always additive
BRIDGES = ("copy", "dense", "zero")


@dataclass
class TranslateConfig(DictConfig):
    """A translation run: data, tokenisation, network, training and decoding defaults.

    ``None`` means "derived" (see ``__post_init__``): ``replace_unk`` is on for word level, off for
    BPE (whose pieces leave almost nothing unknown).
    """

    # ---- data --------------------------------------------------------------------------------------
    src_column: str | None = None  # default: the first column (that is not the group column)
    tgt_column: str | None = None  # default: the second
    group_column: str | None = None  # documents/books: whole groups go to one part of the split
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    max_length: int = 60  # training pairs with more tokens on either side are left out of training
    # ---- tokenisation ------------------------------------------------------------------------------
    tokenizer: str = "bpe"  # "bpe" (subwords, tokenizers library) or "word"
    vocab_size: int = 3000  # BPE: pieces per side, specials included
    lower: bool = False  # word level only (BPE keeps the case; BLEU is case-sensitive)
    min_freq: int = 2  # word level: rarer words are <unk>
    max_vocab: int | None = 30000  # word level: entries per side, specials included
    # ---- network -----------------------------------------------------------------------------------
    embedding_dim: int = 128
    hidden_size: int = 128  # decoder units; encoder outputs (both directions together) have the same size
    num_layers: int = 1  # encoder and decoder layers
    bidirectional: bool = True  # encoder; each direction then has hidden_size / 2 units
    attention: str = "luong"  # "luong" (multiplicative, current state) or "bahdanau" (additive, previous state)
    score: str = "general"  # Luong's score: "general" (h^T W h_s) or "dot" (h^T h_s)
    input_feed: bool = True  # Luong: feed the previous attentional vector to the next step
    bridge: str = "copy"  # encoder final state -> decoder initial state: "copy", "dense" (tanh layer) or "zero"
    dropout: float = 0.2
    cell: str = "lstm"  # encoder and decoder cell (lstmkit.tasks.cells.CELL_NAMES)
    recurrent_dropout: float = 0.0  # on h inside the recurrence, one mask per sentence (training only)
    zoneout: float = 0.0
    label_smoothing: float = 0.1
    # ---- training ----------------------------------------------------------------------------------
    # Sizes and steps chosen by measurement for ~10k short pairs in under 10 minutes on 2 cores
    # (benchmarks/bench_translate.py, 9.8k Bible verse pairs, 9 minutes on one thread each): 128 units with
    # batches of 32 at 3e-3 reached 17.4 test BLEU (beam 5); 256 units with the same steps 4.4, and 256
    # units with batches of 64 at 2e-3 5.0 after 15 epochs. Small batches give more updates per epoch, and
    # the attention only learns to align after a few thousand updates. 18 epochs: 8.0 minutes on one
    # thread (what --threads auto gives 128 units), 17.9 BLEU; the validation loss gains < 0.3% per epoch
    # after epoch 16.
    epochs: int = 18
    patience: int = 3
    batch_size: int = 32
    lr: float = 3e-3
    clip_grad_norm: float = 1.0
    # Stop before an epoch that would end past this many minutes of training (None: no limit). The number
    # of epochs then depends on the machine's speed, so such a run is not reproducible bit for bit.
    max_minutes: float | None = None
    seed: int = 0
    # ---- decoding defaults (lstmkit translate run / evaluate) --------------------------------------
    beam: int = 5
    length_penalty: float = 0.6  # GNMT alpha; 0 = raw log-probability
    coverage_penalty: float = 0.0  # GNMT beta
    no_repeat_ngram_size: int = 0
    max_len_a: float = 1.5  # hypotheses end at a * source tokens + b target tokens
    max_len_b: int = 10
    replace_unk: bool | None = None  # <unk> -> the source token with the most attention; default: word level

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(f"tokenizer must be 'bpe' or 'word', got {self.tokenizer!r}")
        if self.attention not in ATTENTIONS:
            raise ConfigError(f"attention must be 'luong' or 'bahdanau', got {self.attention!r}")
        if self.score not in SCORES:
            raise ConfigError(f"score must be 'general' or 'dot', got {self.score!r}")
        if self.bridge not in BRIDGES:
            raise ConfigError(f"bridge must be one of {', '.join(BRIDGES)}, got {self.bridge!r}")
        check_positive_ints(self, ("max_length", "vocab_size", "min_freq", "embedding_dim", "hidden_size", "num_layers",
                             "epochs", "patience", "batch_size", "beam", "max_len_b"))
        if self.bidirectional and self.hidden_size % 2:
            raise ConfigError(f"a bidirectional encoder splits hidden_size between its two directions: it must be "
                              f"even, got {self.hidden_size}")
        if self.vocab_size < 16:
            raise ConfigError(f"vocab_size must be at least 16 (the specials and some letters), got {self.vocab_size}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ConfigError(f"max_vocab must be larger than 4 (the special tokens), got {self.max_vocab!r}")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if not 0 <= self.label_smoothing < 1:
            raise ConfigError(f"label_smoothing must lie in [0, 1), got {self.label_smoothing!r}")
        val, test = self.val_fraction, self.test_fraction
        if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
            raise ConfigError("val_fraction and test_fraction must be fractions in (0, 1) with a sum below 1, got "
                              f"{self.val_fraction} and {self.test_fraction}")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise ConfigError(f"max_minutes must be positive, got {self.max_minutes!r}")
        if self.lr <= 0 or self.clip_grad_norm <= 0:
            raise ConfigError(f"lr and clip_grad_norm must be positive, got {self.lr} and {self.clip_grad_norm}")
        check_decoding(length_penalty=self.length_penalty, coverage_penalty=self.coverage_penalty,
                       no_repeat_ngram_size=self.no_repeat_ngram_size, max_len_a=self.max_len_a)
        check_cell_options(self)
        if self.replace_unk is None:
            self.replace_unk = self.tokenizer == "word"


def check_decoding(*, length_penalty: float = 0.0, coverage_penalty: float = 0.0, no_repeat_ngram_size: int = 0,
                   max_len_a: float = 1.0) -> None:
    """:class:`~lstmkit.errors.ConfigError` for decoding options out of range."""
    if not length_penalty >= 0 or not coverage_penalty >= 0:
        raise ConfigError(f"length_penalty and coverage_penalty must be >= 0, got {length_penalty} and "
                          f"{coverage_penalty}")
    if not isinstance(no_repeat_ngram_size, int) or isinstance(no_repeat_ngram_size, bool) or no_repeat_ngram_size < 0:
        raise ConfigError(f"no_repeat_ngram_size must be an integer >= 0, got {no_repeat_ngram_size!r}")
    if not max_len_a >= 0:
        raise ConfigError(f"max_len_a must be >= 0, got {max_len_a!r}")


@dataclass
class TranslateState(DictConfig):
    """What :class:`~lstmkit.tasks.translate.Translator` learns from the training part.

    ``split``: pair counts, how the split was made and (with a group column) the groups of each part;
    ``source``/``target``: the two sides' tokenisers (:mod:`lstmkit.tasks.translate.tokenize`);
    ``lexicon``: the lexical baseline's source word -> target word table.
    """

    pairs: int
    columns: dict  # {"src": name, "tgt": name, "group": name or None}
    split: dict
    source: object  # a tokenize.SubwordTokenizer or tokenize.WordVocabulary
    target: object
    lexicon: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["source"] = self.source.to_dict()
        values["target"] = self.target.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict):
        from lstmkit.tasks.translate.tokenize import tokenizer_from_dict

        values = dict(values)
        try:
            for side in ("source", "target"):
                if side in values:
                    values[side] = tokenizer_from_dict(values[side])
        except (TypeError, ValueError, KeyError) as error:
            raise ConfigError(f"{cls.__name__}: the saved {side} tokenizer is damaged: {error}") from None
        return super().from_dict(values)
