r"""Language modelling: predict the next word (or character) of a text with an LSTM.

The network is :class:`~lstmkit.tasks.text.models.LSTMLanguageModel` (embedding -> stacked LSTM ->
linear over the vocabulary, optionally tied weights).

Data. The corpus is tokenised as one continuous stream (word level: every line ends with ``<eos>``)
and split in order into train / validation / test parts (:func:`lstmkit.data.temporal_split`); the
vocabulary is fitted on the training part only, so words first met later are ``<unk>``. For training
the stream is cut into ``batch_size`` parallel rows, and the Trainer reads them ``bptt`` tokens at a
time with ``carry_state=True``: row i of one batch continues row i of the previous one, its final
state (detached: truncated BPTT) starts the next.

Metrics (:mod:`lstmkit.metrics.language`). Perplexity
:math:`\exp(-\frac{1}{n}\sum_i \log p(w_i \mid w_{<i}))` over every token of the validation and test
parts, each read from its start as one sequence (state carried token to token, starting at a line
start); at character level also bits per character (:math:`\log_2` of the same mean). Interpolated
Kneser-Ney n-gram models (:mod:`lstmkit.tasks.text.ngram`) fitted on the same training ids are scored
on the same tokens.

Generation steps the recurrent layer one token at a time (its ``streamer``, :meth:`lstmkit.nn.LSTM.streamer`
for the LSTM) and picks each
token with :func:`lstmkit.decoding.sampling.sample_token`.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import torch

from lstmkit.data import DataError, temporal_split
from lstmkit.data.text import EOS, Vocabulary, WordTokenizer, detokenize
from lstmkit.decoding.sampling import check_sampling, sample_token, softmax
from lstmkit.errors import ConfigError
from lstmkit.files import atomic_write_text
from lstmkit.metrics.language import bits_per_char, nll_sum, perplexity
from lstmkit.runtime import seed_everything
from lstmkit.tasks.text.tokens import TextApplication
from lstmkit.tasks.text.config import LMConfig, LMState
from lstmkit.tasks.text.models import LSTMLanguageModel, lm_loss
from lstmkit.tasks.text.ngram import KneserNeyLM
from lstmkit.train import TrainConfig

__all__ = ["LanguageModel", "StreamBatches", "join_prompt"]

logger = logging.getLogger(__name__)


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


class LanguageModel(TextApplication):
    """Fit, evaluate, continue and save an LSTM language model on a plain-text corpus.

    >>> lm = LanguageModel(LMConfig(level="word")).fit(text)
    >>> lm.evaluate(text)["model"]["test_perplexity"]; lm.next_words("to be or not to")
    """

    name = "text_lm"
    config_class = LMConfig
    state_class = LMState
    description = "a language model"
    train_command = "lstmkit text lm train"

    def __init__(self, config: LMConfig):
        super().__init__(config)
        self._tokens_of: tuple[str, list[str]] | None = None

    # ---- data ------------------------------------------------------------------------------------
    def _tokens(self, text: str) -> list[str]:
        """The corpus's tokens, checked: text, not empty, long enough for three parts."""
        if not isinstance(text, str):
            raise DataError(f"the corpus must be text (str), got {type(text).__name__}")
        if self._tokens_of is not None and self._tokens_of[0] is text:
            return self._tokens_of[1]  # fit, then evaluate, on the same string: tokenise it once
        tokens = self.tokenizer(text)
        if not tokens:
            raise DataError("the corpus is empty: it holds no words" if self.config.level == "word"
                            else "the corpus is empty")
        needed = max(self.config.bptt, 10) * 3
        if len(tokens) < needed:
            raise DataError(f"the corpus has {len(tokens)} {self.config.level} tokens, too few to split into "
                            f"training, validation and test parts (at least {needed}); use a longer text")
        self._tokens_of = (text, tokens)
        return tokens

    def _split(self, tokens: list[str]):
        cfg = self.config
        return temporal_split(len(tokens), train=cfg.train_fraction, val=cfg.val_fraction, test=cfg.test_fraction)

    def check_input(self, text: str) -> None:
        self._split(self._tokens(text))

    @property
    def start_id(self) -> int:
        """The token a fresh context starts after: the line break (``<eos>``, or ``\\n`` for characters)."""
        if self.config.level == "char" and "\n" in self.vocab:
            return self.vocab["\n"]
        return self.vocab.eos_id

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, text: str, *, run_dir: str | Path | None = None, resume: bool = False) -> "LanguageModel":
        """Fit the vocabulary and the model on the training part of ``text``, stopping early on the
        validation part (the best epoch's weights are kept). ``run_dir``/``resume``: see
        :meth:`lstmkit.tasks.base.Application.train_model`."""
        cfg = self.config
        tokens = self._tokens(text)
        split = self._split(tokens)
        vocab = Vocabulary(min_freq=cfg.min_freq, max_size=cfg.max_vocab).fit([tokens[split.train]])
        ids = np.asarray(vocab.encode(tokens), dtype=np.int64)
        train_ids, val_ids = torch.from_numpy(ids[split.train]), torch.from_numpy(ids[split.val])
        streams = max(1, min(cfg.batch_size, (len(train_ids) - 1) // (2 * cfg.bptt)))
        if streams < cfg.batch_size:
            logger.info("training part of %d tokens: %d parallel rows instead of %d", len(train_ids), streams,
                        cfg.batch_size)
        train_set = StreamBatches(train_ids, streams, cfg.bptt)
        val_set = StreamBatches(val_ids, max(1, min(cfg.batch_size, (len(val_ids) - 1) // (4 * cfg.bptt))), cfg.bptt)
        self.state = LMState(tokens=int(len(ids)), vocab_size=len(vocab),
                             split={"train": [0, split.train.stop], "val": [split.val.start, split.val.stop],
                                    "test": [split.test.start, split.test.stop]},
                             tokenizer=cfg.tokenizer(), vocabulary=vocab)
        seed_everything(cfg.seed)
        model = LSTMLanguageModel(len(vocab), cfg.embedding_dim, cfg.hidden_size, cfg.num_layers, cfg.dropout,
                                  cfg.tie_weights, cfg.cell, cfg.recurrent_dropout, cfg.zoneout)
        train_config = TrainConfig(
            epochs=cfg.epochs, optimizer="adam", lr=cfg.lr, weight_decay=cfg.weight_decay,
            clip_grad_norm=cfg.clip_grad_norm, schedule="plateau", plateau_patience=0, plateau_factor=0.5,
            patience=cfg.patience, restore_best=True, shuffle=False, carry_state=True, tbptt_steps=cfg.bptt,
            seed=cfg.seed, device="cpu", progress=False,
        )
        loader = lambda ds: torch.utils.data.DataLoader(ds, batch_size=None, shuffle=False)  # noqa: E731
        self.train_model(model, lm_loss, train_config, loader(train_set), loader(val_set), run_dir=run_dir,
                         resume=resume)
        return self

    # ---- scoring ---------------------------------------------------------------------------------
    @torch.no_grad()
    def cross_entropy(self, ids, *, chunk: int = 512) -> float:
        """Mean negative log-likelihood (nats per token) of ``ids`` read as one text from a line start."""
        self.require_fitted()
        model = self.model.eval()
        y = torch.as_tensor(np.asarray(ids), dtype=torch.int64)
        x = torch.cat([torch.tensor([self.start_id]), y[:-1]])
        total, state = 0.0, None
        for s in range(0, len(y), chunk):
            logits, state = model(x[None, s : s + chunk], state)  # (1, t, V)
            total += nll_sum(logits[0], y[s : s + chunk])
        return total / len(y)

    def evaluate(self, text: str) -> dict:
        """Perplexity of the model and the n-gram baselines on the validation and test parts of ``text``.

        Returns ``{"model": {...}, "baselines": {"kneser_ney_<n>gram": {...}}, "split": {...}}`` with the
        same metric names everywhere (``val_perplexity``, ``test_perplexity``, ``test_cross_entropy`` in
        nats per token, and at character level ``test_bits_per_char``).
        """
        self.require_fitted()
        cfg = self.config
        tokens = self._tokens(text)
        split = self._split(tokens)
        ids = np.asarray(self.vocab.encode(tokens), dtype=np.int64)
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
        result["split"] = {**self.state.split, "tokens": int(len(ids)), "level": cfg.level,
                           "vocab_size": len(self.vocab), "test_tokens": int(len(parts["test"])),
                           "test_unk_rate": float(np.mean(parts["test"] == unk))}
        return result

    def _metrics(self, ce: dict[str, float]) -> dict:
        out = {"val_perplexity": perplexity(ce["val"]), "test_perplexity": perplexity(ce["test"]),
               "test_cross_entropy": ce["test"]}
        if self.config.level == "char":
            out["test_bits_per_char"] = bits_per_char(ce["test"])
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
        """Step the recurrent layer token by token, carrying its state (``(h, c)``, or ``h`` for the GRU and
        the RNN): the layer's ``streamer`` (:meth:`lstmkit.nn.LSTM.streamer`)."""
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
        self.require_fitted()
        step = self._streamer()
        for token_id in self._prompt_ids(prompt):
            logits = step(token_id)
        return softmax(logits)

    def next_words(self, prompt: str, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely next tokens after ``prompt`` with their probabilities (``<pad>`` and
        ``<bos>``, which never follow anything, left out; ``<eos>`` means "the line ends")."""
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ConfigError(f"k must be a positive integer, got {k!r}")
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
        self.require_fitted()
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise ConfigError(f"length must be a positive integer, got {length!r}")
        check_sampling(temperature, top_k)
        rng = np.random.default_rng(seed)
        banned = [self.vocab.pad_id, self.vocab.unk_id, self.vocab.bos_id]
        if self.config.level == "char":
            banned.append(self.vocab.eos_id)
        step = self._streamer()
        for token_id in self._prompt_ids(prompt):
            logits = step(token_id)
        out: list[int] = []
        for _ in range(length):
            token_id = sample_token(logits, rng, temperature=temperature, top_k=top_k, banned=banned)
            out.append(token_id)
            logits = step(token_id)
        return detokenize(self.vocab.decode(out), level=self.config.level)

    # ---- run directory ---------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, text: str) -> None:
        """``sample.txt``: a seeded continuation (temperature 0.8) of the corpus's first line."""
        level, seed = self.config.level, self.config.seed
        length = 60 if level == "word" else 300
        first_line = next((line for line in text.splitlines() if line.strip()), "")
        prompt = " ".join(first_line.split()[:3]) if level == "word" else first_line[:20]
        try:
            sample = self.generate(prompt, length=length, temperature=0.8, seed=seed)
        except DataError:
            prompt, sample = "", self.generate("", length=length, temperature=0.8, seed=seed)
        atomic_write_text(out / "sample.txt", join_prompt(prompt, sample, level) + "\n")


def join_prompt(prompt: str, continuation: str, level: str) -> str:
    """The prompt as typed followed by the generated text, with a space between words."""
    if not prompt or level == "char" or not continuation or continuation[0] in "\n.,;:!?)]}'%":
        return prompt + continuation
    return prompt + " " + continuation
