r"""Language modelling: predict the next word (or character) of a text with an LSTM.

Model (Zaremba et al. 2014; Press & Wolf 2017 for the tying)::

    ids (N, T) -> embedding (N, T, E) -> dropout -> stacked LSTM (N, T, H), dropout between layers
               -> dropout -> linear (N, T, V) -> softmax over the vocabulary

With ``tie_weights`` the output layer reuses the embedding matrix (E = H), which has fewer parameters
and, on small corpora, a lower perplexity.

Data. The corpus is tokenised as one continuous stream (word level: every line ends with ``<eos>``)
and split in order into train / validation / test parts (:func:`lstmkit.data.temporal_split`); the
vocabulary is fitted on the training part only, so words first met later are ``<unk>``. For training
the stream is cut into ``batch_size`` parallel rows, and the Trainer reads them ``bptt`` tokens at a
time with ``carry_state=True``: row i of one batch continues row i of the previous one, its final
state (detached: truncated BPTT) starts the next.

Metrics. Perplexity :math:`\exp(-\frac{1}{n}\sum_i \log p(w_i \mid w_{<i}))` over every token of the
validation and test parts, each read from its start as one sequence (state carried token to token,
starting at a line start); at character level also bits per character (:math:`\log_2` of the same
mean). Interpolated Kneser-Ney n-gram models (:mod:`lstmkit.tasks.text_ngram`) fitted on the same
training ids are scored on the same tokens.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lstmkit.data import DataError, temporal_split
from lstmkit.data.text import EOS, CharTokenizer, Vocabulary, WordTokenizer, detokenize, tokenizer_from_dict
from lstmkit.nn import LSTM
from lstmkit.registry import register_model
from lstmkit.runtime import seed_everything
from lstmkit.tasks.text_ngram import KneserNeyLM
from lstmkit.train import TrainConfig, Trainer, load_model, read_config, save_model, write_task_config
from lstmkit.config import DictConfig

logger = logging.getLogger(__name__)

TASK_NAME = "text_lm"
LEVELS = ("word", "char")


# ---------------------------------------------------------------------------------------- config
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
            raise ValueError(f"level must be 'word' or 'char', got {self.level!r}")
        word = self.level == "word"
        if self.lower is None:
            self.lower = word
        if self.min_freq is None:
            self.min_freq = 2 if word else 1
        if self.bptt is None:
            self.bptt = 35 if word else 100
        if self.ngram_orders is None:
            self.ngram_orders = [2, 3] if word else [3, 5]
        for name in ("hidden_size", "num_layers", "bptt", "batch_size", "epochs", "patience", "min_freq"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if self.embedding_dim is not None and (not isinstance(self.embedding_dim, int) or self.embedding_dim < 1):
            raise ValueError(f"embedding_dim must be a positive integer or None, got {self.embedding_dim!r}")
        if self.tie_weights and self.embedding_dim not in (None, self.hidden_size):
            raise ValueError(f"tie_weights needs embedding_dim == hidden_size ({self.hidden_size}), got "
                             f"{self.embedding_dim}; drop --embedding-dim or pass --no-tie-weights")
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout!r}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ValueError(f"max_vocab must be larger than 4 (the special tokens), got {self.max_vocab!r}")
        if any(not isinstance(n, int) or n < 1 for n in self.ngram_orders):
            raise ValueError(f"ngram_orders must be positive integers, got {self.ngram_orders!r}")

    def tokenizer(self) -> WordTokenizer | CharTokenizer:
        if self.level == "word":
            return WordTokenizer(lower=self.lower, punctuation=True, lines=True)
        return CharTokenizer(lower=self.lower)



# ----------------------------------------------------------------------------------------- model
@register_model("text_lm")
class LSTMLanguageModel(torch.nn.Module):
    """Embedding -> stacked :class:`lstmkit.nn.LSTM` -> linear over the vocabulary.

    ``forward(ids, state=None)``: ids (N, T) int64 -> ``(logits (N, T, V), (h, c))``, the stateful
    protocol of :class:`lstmkit.train.Trainer`; ``state`` None starts from zeros.
    """

    def __init__(self, vocab_size: int, embedding_dim: int | None = None, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.3, tie_weights: bool = True):
        super().__init__()
        embedding_dim = embedding_dim or hidden_size
        if tie_weights and embedding_dim != hidden_size:
            raise ValueError(f"tie_weights needs embedding_dim == hidden_size, got {embedding_dim} and {hidden_size}")
        self.vocab_size, self.embedding_dim, self.hidden_size = vocab_size, embedding_dim, hidden_size
        self.num_layers, self.dropout_p, self.tie_weights = num_layers, float(dropout), bool(tie_weights)
        self.embedding = torch.nn.Embedding(vocab_size, embedding_dim)
        self.lstm = LSTM(embedding_dim, hidden_size, num_layers, batch_first=True,
                         dropout=self.dropout_p if num_layers > 1 else 0.0)
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
                "num_layers": self.num_layers, "dropout": self.dropout_p, "tie_weights": self.tie_weights}

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


class StreamBatches(torch.utils.data.Dataset):
    """A token stream as ``streams`` parallel rows, read ``bptt`` tokens at a time.

    Row i holds tokens ``[i L, (i + 1) L)`` (L = (n - 1) // streams), so block b + 1 of a row continues
    block b: the order ``carry_state`` needs. Item b is ``(x, y)``, both (streams, <= bptt), with y the
    token after each x. Use with ``DataLoader(..., batch_size=None)`` (items are whole batches).
    """

    def __init__(self, ids: torch.Tensor, streams: int, bptt: int):
        ids = torch.as_tensor(ids, dtype=torch.int64)
        length = (len(ids) - 1) // streams
        if length < 1:
            raise DataError(f"{len(ids)} tokens are too few for {streams} parallel rows; use a smaller batch size")
        self.x = ids[: streams * length].view(streams, length)
        self.y = ids[1 : streams * length + 1].view(streams, length)
        self.bptt = bptt

    def __len__(self) -> int:
        return math.ceil(self.x.shape[1] / self.bptt)

    def __getitem__(self, b: int):
        if not 0 <= b < len(self):
            raise IndexError(b)
        cols = slice(b * self.bptt, (b + 1) * self.bptt)
        return self.x[:, cols], self.y[:, cols]


# ------------------------------------------------------------------------------------------ task
class LanguageModel:
    """Fit, evaluate, continue and save an LSTM language model on a plain-text corpus.

    >>> lm = LanguageModel(LMConfig(level="word")).fit(text)
    >>> lm.evaluate(text)["model"]["test_perplexity"]; lm.next_words("to be or not to")
    """

    def __init__(self, config: LMConfig):
        self.config = config
        self.tokenizer = config.tokenizer()
        self.vocab: Vocabulary | None = None
        self.model: LSTMLanguageModel | None = None
        self.state: dict = {}  # split and sizes, saved as config.json["data"]
        self.history: list[dict] = []
        self._tokens_of: tuple[str, list[str]] | None = None

    # ---- data ------------------------------------------------------------------------------------
    def _split_ids(self, text: str, *, fit_vocab: bool) -> tuple[np.ndarray, object]:
        if not isinstance(text, str):
            raise DataError(f"the corpus must be text (str), got {type(text).__name__}")
        if self._tokens_of is not None and self._tokens_of[0] is text:
            tokens = self._tokens_of[1]  # fit, then evaluate, on the same string: tokenise it once
        else:
            tokens = self.tokenizer(text)
            self._tokens_of = (text, tokens)
        if not tokens:
            raise DataError("the corpus is empty: it holds no words" if self.config.level == "word"
                            else "the corpus is empty")
        cfg = self.config
        needed = max(cfg.bptt, 10) * 3
        if len(tokens) < needed:
            raise DataError(f"the corpus has {len(tokens)} {cfg.level} tokens, too few to split into training, "
                            f"validation and test parts (at least {needed}); use a longer text")
        split = temporal_split(len(tokens), train=cfg.train_fraction, val=cfg.val_fraction, test=cfg.test_fraction)
        if fit_vocab:
            self.vocab = Vocabulary(min_freq=cfg.min_freq, max_size=cfg.max_vocab).fit([tokens[split.train]])
        ids = np.asarray(self.vocab.encode(tokens), dtype=np.int64)
        return ids, split

    @property
    def start_id(self) -> int:
        """The token a fresh context starts after: the line break (``<eos>``, or ``\\n`` for characters)."""
        if self.config.level == "char" and "\n" in self.vocab:
            return self.vocab["\n"]
        return self.vocab.eos_id

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, text: str, *, run_dir: str | Path | None = None) -> "LanguageModel":
        """Fit the vocabulary and the model on the training part of ``text``, stopping early on the
        validation part (the best epoch's weights are kept)."""
        cfg = self.config
        ids, split = self._split_ids(text, fit_vocab=True)
        train_ids, val_ids = torch.from_numpy(ids[split.train]), torch.from_numpy(ids[split.val])
        streams = max(1, min(cfg.batch_size, (len(train_ids) - 1) // (2 * cfg.bptt)))
        if streams < cfg.batch_size:
            logger.info("training part of %d tokens: %d parallel rows instead of %d", len(train_ids), streams,
                        cfg.batch_size)
        train_set = StreamBatches(train_ids, streams, cfg.bptt)
        val_set = StreamBatches(val_ids, max(1, min(cfg.batch_size, (len(val_ids) - 1) // (4 * cfg.bptt))), cfg.bptt)
        self.state = {"tokens": int(len(ids)), "vocab_size": len(self.vocab),
                      "split": {"train": [0, split.train.stop], "val": [split.val.start, split.val.stop],
                                "test": [split.test.start, split.test.stop]}}
        seed_everything(cfg.seed)
        self.model = LSTMLanguageModel(len(self.vocab), cfg.embedding_dim, cfg.hidden_size, cfg.num_layers,
                                       cfg.dropout, cfg.tie_weights)
        train_config = TrainConfig(
            epochs=cfg.epochs, optimizer="adam", lr=cfg.lr, weight_decay=cfg.weight_decay,
            clip_grad_norm=cfg.clip_grad_norm, schedule="plateau", plateau_patience=0, plateau_factor=0.5,
            patience=cfg.patience, restore_best=True, shuffle=False, carry_state=True, tbptt_steps=cfg.bptt,
            seed=cfg.seed, device="cpu", progress=False,
        )
        loader = lambda ds: torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False)  # noqa: E731
        if run_dir is not None:
            Path(run_dir).mkdir(parents=True, exist_ok=True)
            self._write_config(run_dir, train_config)
        trainer = Trainer(self.model, lm_loss, train_config, run_dir=run_dir)
        self.history = trainer.fit(loader(train_set), loader(val_set))
        self.model = trainer.model.eval()
        if run_dir is not None:
            self._write_config(run_dir, train_config)
        return self

    def _require_fitted(self) -> None:
        if self.model is None or self.vocab is None:
            raise RuntimeError("this LanguageModel is not fitted yet: call fit() or LanguageModel.load()")

    # ---- scoring ---------------------------------------------------------------------------------
    @torch.no_grad()
    def cross_entropy(self, ids, *, chunk: int = 512) -> float:
        """Mean negative log-likelihood (nats per token) of ``ids`` read as one text from a line start."""
        self._require_fitted()
        model = self.model.eval()
        y = torch.as_tensor(np.asarray(ids), dtype=torch.int64)
        x = torch.cat([torch.tensor([self.start_id]), y[:-1]])
        total, state = 0.0, None
        for s in range(0, len(y), chunk):
            logits, state = model(x[None, s : s + chunk], state)  # (1, t, V)
            total += float(F.cross_entropy(logits[0].double(), y[s : s + chunk], reduction="sum"))
        return total / len(y)

    def evaluate(self, text: str) -> dict:
        """Perplexity of the model and the n-gram baselines on the validation and test parts of ``text``.

        Returns ``{"model": {...}, "baselines": {"kneser_ney_<n>gram": {...}}, "split": {...}}`` with the
        same metric names everywhere (``val_perplexity``, ``test_perplexity``, ``test_cross_entropy`` in
        nats per token, and at character level ``test_bits_per_char``).
        """
        self._require_fitted()
        cfg = self.config
        ids, split = self._split_ids(text, fit_vocab=False)
        parts = {"val": ids[split.val], "test": ids[split.test]}
        result = {"model": self._metrics({name: self.cross_entropy(part) for name, part in parts.items()})}
        result["baselines"] = {}
        for order in cfg.ngram_orders:
            try:
                kn = KneserNeyLM(order).fit(ids[split.train], len(self.vocab))
            except ValueError as error:
                logger.warning("Kneser-Ney %d-gram baseline skipped: %s", order, error)
                continue
            ce = {name: kn.cross_entropy(part, start_id=self.start_id) for name, part in parts.items()}
            result["baselines"][f"kneser_ney_{order}gram"] = self._metrics(ce)
        unk = self.vocab.unk_id
        result["split"] = {**self.state.get("split", {}), "tokens": int(len(ids)), "level": cfg.level,
                           "vocab_size": len(self.vocab), "test_tokens": int(len(parts["test"])),
                           "test_unk_rate": float(np.mean(parts["test"] == unk))}
        return result

    def _metrics(self, ce: dict[str, float]) -> dict:
        out = {"val_perplexity": math.exp(ce["val"]), "test_perplexity": math.exp(ce["test"]),
               "test_cross_entropy": ce["test"]}
        if self.config.level == "char":
            out["test_bits_per_char"] = ce["test"] / math.log(2)
        return out

    # ---- prompts ---------------------------------------------------------------------------------
    def _prompt_ids(self, prompt: str) -> list[int]:
        """Ids of the context: a line start, then the prompt (lines joined by ``<eos>`` at word level)."""
        if not isinstance(prompt, str):
            raise DataError(f"the prompt must be text, got {type(prompt).__name__}")
        if self.config.level == "word":
            tok = WordTokenizer(lower=self.tokenizer.lower, punctuation=True)
            lines = [tok(line) for line in prompt.split("\n")]
            tokens = [t for i, line in enumerate(lines) for t in ([EOS] if i else []) + line]
        else:
            tokens = self.tokenizer(prompt)
        words = [t for t in tokens if t != EOS]
        unknown = self.vocab.unknown(words)
        if words and len(unknown) == len(set(words)):
            what = "words" if self.config.level == "word" else "characters"
            shown = ", ".join(repr(u) for u in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise DataError(f"none of the prompt's {what} is in the model's vocabulary ({shown}): the model would "
                            f"see only <unk>; use {what} from its training text")
        if unknown:
            logger.warning("unknown to the model, read as <unk>: %s", ", ".join(unknown[:10]))
        return [self.start_id] + self.vocab.encode(tokens)

    def _streamer(self):
        """Step the LSTM token by token, carrying (h, c): :meth:`lstmkit.nn.LSTM.streamer`."""
        model = self.model.eval()
        streamer = model.lstm.streamer(batch_size=1)
        emb = model.embedding.weight.detach().numpy()  # (V, E), the model's dtype
        w = model.decoder.weight.detach().numpy().astype(np.float64)  # (V, H)
        b = model.decoder.bias.detach().numpy().astype(np.float64)

        def step(token_id: int) -> np.ndarray:
            h = streamer.step(emb[token_id][None])  # (1, H)
            return w @ h[0].astype(np.float64) + b  # (V,) logits

        return step

    def next_distribution(self, prompt: str) -> np.ndarray:
        """P(next token | prompt) over the vocabulary, (V,) float64."""
        self._require_fitted()
        step = self._streamer()
        for token_id in self._prompt_ids(prompt):
            logits = step(token_id)
        return _softmax(logits)

    def next_words(self, prompt: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``prompt`` with their probabilities (``<pad>`` and
        ``<bos>``, which never follow anything, left out; ``<eos>`` means "the line ends")."""
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a positive integer, got {k!r}")
        probs = self.next_distribution(prompt)
        probs[[self.vocab.pad_id, self.vocab.bos_id]] = 0.0
        order = np.argsort(-probs, kind="stable")[:k]
        return [(self.vocab.itos_[i], float(probs[i])) for i in order]

    def generate(self, prompt: str = "", length: int = 50, *, temperature: float = 1.0, top_k: int | None = None,
                 seed: int | None = None) -> str:
        """Sample ``length`` tokens after ``prompt`` and return them as text (the prompt not repeated).

        Each token is drawn from softmax(logits / temperature) restricted to the ``top_k`` most likely
        (``temperature=0``: always the most likely), then fed back with the carried LSTM state.
        ``<unk>`` and the specials are never drawn. The same ``seed`` gives the same text.
        """
        self._require_fitted()
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be a positive integer, got {length!r}")
        if not temperature >= 0:
            raise ValueError(f"temperature must be >= 0, got {temperature!r}")
        if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
            raise ValueError(f"top_k must be a positive integer or None, got {top_k!r}")
        rng = np.random.default_rng(seed)
        banned = [self.vocab.pad_id, self.vocab.unk_id, self.vocab.bos_id]
        if self.config.level == "char":
            banned.append(self.vocab.eos_id)
        step = self._streamer()
        for token_id in self._prompt_ids(prompt):
            logits = step(token_id)
        out: list[int] = []
        for _ in range(length):
            logits = logits.copy()
            logits[banned] = -np.inf
            if top_k is not None and top_k < len(logits):
                cutoff = np.partition(logits, -top_k)[-top_k]
                logits[logits < cutoff] = -np.inf
            if temperature == 0:
                token_id = int(np.argmax(logits))
            else:
                token_id = int(rng.choice(len(logits), p=_softmax(logits / temperature)))
            out.append(token_id)
            logits = step(token_id)
        return detokenize(self.vocab.decode(out), level=self.config.level)

    # ---- files -----------------------------------------------------------------------------------
    def _write_config(self, run_dir, train_config: TrainConfig | None = None) -> None:
        write_task_config(run_dir, TASK_NAME, self.config, {**self.state, "tokenizer": self.tokenizer.to_dict(), "vocabulary": self.vocab.to_dict()}, train_config)

    def save(self, directory: str | Path) -> Path:
        """``config.json`` (task, tokenizer, vocabulary, model) + ``model.safetensors``."""
        self._require_fitted()
        directory = Path(directory)
        save_model(self.model, directory)
        self._write_config(directory)
        return directory

    @classmethod
    def load(cls, directory: str | Path) -> "LanguageModel":
        config = read_config(directory)
        task = dict(config.get("task") or {})
        if task.pop("name", None) != TASK_NAME or "vocabulary" not in (config.get("data") or {}):
            raise DataError(f"{directory} does not hold a language model (config.json has no {TASK_NAME} task); "
                            "train one with `lstmkit text lm train`")
        lm = cls(LMConfig.from_dict(task))
        data = dict(config["data"])
        lm.tokenizer = tokenizer_from_dict(data.pop("tokenizer"))
        lm.vocab = Vocabulary.from_dict(data.pop("vocabulary"))
        lm.state = data
        lm.model = load_model(directory).eval()
        return lm


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - np.max(logits)
    p = np.exp(z)
    return p / p.sum()


# ---------------------------------------------------------------------------------- run directory
def train_run(config: LMConfig, text: str, out: str | Path) -> dict:
    """``lstmkit text lm train``: fit, evaluate, write the run directory.

    Writes ``config.json``, ``model.safetensors``, ``history.csv`` (the Trainer), ``metrics.json`` and
    ``sample.txt`` (a seeded continuation of the corpus's first line). The corpus is checked before
    anything is written, so bad input leaves no files.
    """
    from lstmkit.train.checkpoint import check_run_dir, write_json
    from lstmkit.train.checkpoint import atomic_write_text

    out = check_run_dir(out, resume=False)
    lm = LanguageModel(config)
    lm._split_ids(text, fit_vocab=True)  # validate first: nothing is written for bad input
    lm.fit(text, run_dir=out)
    result = lm.evaluate(text)
    result["epochs"] = len(lm.history)
    write_json(out / "metrics.json", result)
    first_line = next((line for line in text.splitlines() if line.strip()), "")
    prompt = " ".join(first_line.split()[:3]) if config.level == "word" else first_line[:20]
    try:
        sample = lm.generate(prompt, length=60 if config.level == "word" else 300, temperature=0.8, seed=config.seed)
    except DataError:
        prompt, sample = "", lm.generate("", length=60 if config.level == "word" else 300, temperature=0.8,
                                         seed=config.seed)
    atomic_write_text(out / "sample.txt", join_prompt(prompt, sample, config.level) + "\n")
    return result


def join_prompt(prompt: str, continuation: str, level: str) -> str:
    """The prompt as typed followed by the generated text, with a space between words."""
    if not prompt or level == "char" or not continuation or continuation[0] in "\n.,;:!?)]}'%":
        return prompt + continuation
    return prompt + " " + continuation
