r"""Sentences to token ids and back, for one side of a translation: subwords (BPE, default) or words.

Why subwords by default. A word-level vocabulary fitted on a few thousand sentences leaves many test
words unknown (names, inflections, compounds: Spanish alone has dozens of forms per verb), and an
unknown word can only be copied through the attention, never translated. Byte-pair encoding (Sennrich,
Haddow & Birch 2016) starts from characters and merges the most frequent adjacent pair, again and
again, until ``vocab_size`` pieces exist: frequent words stay whole, rare and unseen ones are spelled
with the pieces of their parts (``snowball`` -> ``▁snow`` ``ball`` when only *snow* and *ball* were
seen), so an unseen word made of seen characters is never ``<unk>``. The vocabulary, and with it the
output softmax that dominates training time on a CPU, stays small.

Why the ``tokenizers`` library (Hugging Face, Rust): it trains a BPE model on tens of thousands of
sentences in well under a second, its models are deterministic and serialise to one JSON document (so
the tokeniser is stored in ``config.json["data"]`` like every other fitted state, no side files), and
the same object encodes and decodes. SentencePiece would do as well but writes a binary model file.

The BPE pipeline here: whitespace collapsed to single spaces, Unicode NFKC; each word is prefixed with
``▁`` (the "metaspace", so that decoding knows where spaces were: detokenisation is exact, not a
heuristic) and punctuation is split off; case is kept. Ids 0-3 are ``<pad>``, ``<unk>``, ``<bos>``,
``<eos>`` on both sides, as in :class:`lstmkit.data.text.Vocabulary`. A character never seen in
training is ``<unk>``.

Word level (``tokenizer="word"``) is :class:`lstmkit.data.text.WordTokenizer` with a
:class:`lstmkit.data.text.Vocabulary` per side: rarer words are ``<unk>``, and the translator replaces
an output ``<unk>`` by the source word it attends to most (``replace_unk``).
"""
from __future__ import annotations

import json
from typing import Iterable, Sequence

from lstmkit.data.text import SPECIALS, UNK, Vocabulary, WordTokenizer, tokenizer_from_dict as word_tokenizer_from_dict
from lstmkit.errors import MissingDependencyError

__all__ = ["SubwordTokenizer", "WordVocabulary", "detokenize_words", "tokenizer_from_dict", "train_tokenizer"]

METASPACE = "\u2581"  # ▁


def _import_tokenizers():
    try:
        import tokenizers
    except ImportError:
        raise MissingDependencyError("subword tokenisation needs the tokenizers package: "
                                     "pip install 'lstmkit[translate]' (or use --tokenizer word)") from None
    return tokenizers


def clean(text: str) -> str:
    """Whitespace runs (newlines and tabs too) become one space; the ends are stripped."""
    return " ".join(text.split())


class SubwordTokenizer:
    """A BPE model (``tokenizers.Tokenizer``) for one side; see the module docstring.

    >>> bpe = SubwordTokenizer.train(["the snow fell", "a ball"], vocab_size=40)
    >>> bpe.tokenize("snowball")       # ['▁snow', 'ball'] once both were merged
    """

    kind = "bpe"
    pad_id, unk_id, bos_id, eos_id = 0, 1, 2, 3

    def __init__(self, tokenizer):
        self._tok = tokenizer
        self._itos = [tokenizer.id_to_token(i) for i in range(tokenizer.get_vocab_size())]
        if tuple(self._itos[:4]) != SPECIALS:
            raise ValueError(f"a BPE model for lstmkit must start with the specials {list(SPECIALS)}, "
                             f"got {self._itos[:4]}")
        self._stoi = {t: i for i, t in enumerate(self._itos)}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4000, min_frequency: int = 2) -> "SubwordTokenizer":
        """Learn a BPE model of at most ``vocab_size`` pieces (specials included) from ``texts``.
        Merges of pairs seen fewer than ``min_frequency`` times are not made."""
        tk = _import_tokenizers()
        from tokenizers import decoders, models, normalizers, pre_tokenizers, trainers

        tokenizer = tk.Tokenizer(models.BPE(unk_token=UNK))
        tokenizer.normalizer = normalizers.NFKC()
        tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always"),
            pre_tokenizers.Punctuation(),
        ])
        tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always")
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=list(SPECIALS),
                                      show_progress=False)
        tokenizer.train_from_iterator([clean(t) for t in texts], trainer)
        return cls(tokenizer)

    # ---- text <-> tokens <-> ids -------------------------------------------------------------------
    def tokenize(self, text: str) -> list[str]:
        return self._tok.encode(clean(text), add_special_tokens=False).tokens

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [e.tokens for e in self._tok.encode_batch([clean(t) for t in texts], add_special_tokens=False)]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        get, unk = self._stoi.get, self.unk_id
        return [get(t, unk) for t in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self._itos[int(i)] for i in ids]

    def detokenize(self, tokens: Sequence[str]) -> str:
        """Pieces back to text: joined, each ``▁`` a space (exact inverse of :meth:`tokenize` on clean text)."""
        return "".join(tokens).replace(METASPACE, " ").strip()

    def display(self, token: str) -> str:
        """A piece as plot labels show it (the ``▁`` word start kept: it tells pieces from words)."""
        return token

    def __len__(self) -> int:
        return len(self._itos)

    @property
    def itos(self) -> list[str]:
        return self._itos

    # ---- JSON ------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"kind": self.kind, "model": json.loads(self._tok.to_str())}

    @classmethod
    def from_dict(cls, values: dict) -> "SubwordTokenizer":
        tk = _import_tokenizers()
        try:
            tokenizer = tk.Tokenizer.from_str(json.dumps(values["model"]))
        except Exception as error:  # the Rust side raises plain Exceptions for a bad document
            raise ValueError(f"not a tokenizers BPE model: {error}") from None
        return cls(tokenizer)

    def __repr__(self) -> str:
        return f"SubwordTokenizer(vocab_size={len(self)})"


class WordVocabulary:
    """Word level: a :class:`~lstmkit.data.text.WordTokenizer` and a :class:`~lstmkit.data.text.Vocabulary`."""

    kind = "word"
    pad_id, unk_id, bos_id, eos_id = 0, 1, 2, 3

    def __init__(self, tokenizer: WordTokenizer, vocabulary: Vocabulary):
        self.tokenizer, self.vocabulary = tokenizer, vocabulary

    @classmethod
    def train(cls, texts: Iterable[str], *, lower: bool = False, min_freq: int = 2,
              max_size: int | None = None) -> "WordVocabulary":
        tokenizer = WordTokenizer(lower=lower, punctuation=True)
        vocabulary = Vocabulary(min_freq=min_freq, max_size=max_size).fit(tokenizer(t) for t in texts)
        return cls(tokenizer, vocabulary)

    def tokenize(self, text: str) -> list[str]:
        return self.tokenizer(text)

    def tokenize_batch(self, texts: Sequence[str]) -> list[list[str]]:
        return [self.tokenizer(t) for t in texts]

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return self.vocabulary.encode(tokens)

    def decode(self, ids: Iterable[int]) -> list[str]:
        return self.vocabulary.decode(ids)

    def detokenize(self, tokens: Sequence[str]) -> str:
        return detokenize_words(tokens)

    def display(self, token: str) -> str:
        return token

    def __len__(self) -> int:
        return len(self.vocabulary)

    @property
    def itos(self) -> list[str]:
        return self.vocabulary.itos_

    def to_dict(self) -> dict:
        return {"kind": self.kind, "tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocabulary.to_dict()}

    @classmethod
    def from_dict(cls, values: dict) -> "WordVocabulary":
        return cls(word_tokenizer_from_dict(values["tokenizer"]), Vocabulary.from_dict(values["vocabulary"]))

    def __repr__(self) -> str:
        return f"WordVocabulary(size={len(self)}, lower={self.tokenizer.lower})"


_GLUE = {"-", "'", "/"}  # no space on either side: quarante-deux, and/or
_OPEN = set("([{$¿¡«\u201c\u2018")  # no space after
_CLOSE = set(".,;:!?)]}%»\u201d\u2019")  # no space before


def detokenize_words(tokens: Sequence[str]) -> str:
    """Word tokens back to text for word-level translation: spaces between words, none before closing
    punctuation, after opening marks (``¿``, ``¡``, ``«``, brackets) or around hyphens and slashes."""
    out: list[str] = []
    glue = True
    for token in tokens:
        if token in _GLUE:
            out.append(token)
            glue = True
            continue
        if not glue and token not in _CLOSE:
            out.append(" ")
        out.append(token)
        glue = token in _OPEN
    return "".join(out)


def train_tokenizer(texts: Sequence[str], config) -> SubwordTokenizer | WordVocabulary:
    """The tokeniser ``config`` (a :class:`~lstmkit.tasks.translate.TranslateConfig`) asks for, fitted on ``texts``."""
    if config.tokenizer == "bpe":
        return SubwordTokenizer.train(texts, vocab_size=config.vocab_size)
    return WordVocabulary.train(texts, lower=config.lower, min_freq=config.min_freq, max_size=config.max_vocab)


def tokenizer_from_dict(values: dict) -> SubwordTokenizer | WordVocabulary:
    """Rebuild either kind from its ``to_dict()``."""
    if not isinstance(values, dict):
        raise TypeError(f"expected a saved tokenizer (a JSON object), got {type(values).__name__}")
    kind = values.get("kind")
    if kind == "bpe":
        return SubwordTokenizer.from_dict(values)
    if kind == "word":
        return WordVocabulary.from_dict(values)
    raise ValueError(f"unknown tokenizer kind {kind!r}; expected 'bpe' or 'word'")
