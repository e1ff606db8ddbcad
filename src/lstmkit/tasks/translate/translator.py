r"""Machine translation with an attentional LSTM encoder-decoder: fit, translate, evaluate, save, load.

Fitting (:meth:`Translator.fit`): read the pairs (:func:`~lstmkit.tasks.translate.data.read_pairs`),
split them by group, seeded (:func:`~lstmkit.tasks.translate.data.split_pairs`; no group straddles two
parts), learn each side's tokeniser and the lexical baseline's dictionary from the training part only,
then train :class:`~lstmkit.tasks.translate.model.Seq2SeqAttention` with teacher forcing (Adam, the
learning rate halved when the validation loss stalls, early stopping with the best epoch's weights
kept). Training pairs longer than ``max_length`` tokens on either side are left out of training (they
cost the most time and teach the least); validation and test pairs are all kept.

Translating (:meth:`Translator.search`): sentences are tokenised, batched by length and decoded with
:mod:`lstmkit.decoding.search`: greedy, beam search (``n_best``, GNMT length and coverage penalties,
``no_repeat_ngram_size``) or sampling, each hypothesis at most ``max_len_a * source tokens +
max_len_b`` tokens long. A sentence's translation does not depend on the batch it is decoded in. With
``replace_unk`` an output ``<unk>`` is replaced by the source token that step attended to most (Luong et
al. 2015's unknown-word replacement): names and numbers outside a word vocabulary come through.

Evaluation (:meth:`Translator.evaluate`): corpus BLEU and chrF (:mod:`lstmkit.metrics.translation`,
sacrebleu) on the test part for greedy and beam search, next to the copy and lexical baselines
(:mod:`lstmkit.tasks.translate.baselines`) on the same sentences.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from lstmkit.errors import ConfigError, DataError, UsageError
from lstmkit.files import atomic_write_text
from lstmkit.runtime import seed_everything
from lstmkit.tasks.base import Application
from lstmkit.tasks.translate.baselines import copy_baseline, fit_lexicon, lexical_baseline
from lstmkit.tasks.translate.config import TranslateConfig, TranslateState, check_decoding
from lstmkit.tasks.translate.data import Pairs, pair_loader, read_pairs, split_pairs
from lstmkit.tasks.translate.model import Seq2SeqAttention, token_accuracy, translation_loss
from lstmkit.tasks.translate.tokenize import train_tokenizer
from lstmkit.train import TrainConfig

__all__ = ["Translation", "Translator"]

logger = logging.getLogger(__name__)

METHODS = ("greedy", "beam", "sample")
UNK = "<unk>"


@dataclass
class Translation:
    """One hypothesis for one sentence.

    ``tokens``: the output tokens (after ``<unk>`` replacement); ``source_tokens``: the tokenised
    source; ``attention``: (len(tokens) (+1 for ``<eos>`` when ``finished``), len(source_tokens)) weights;
    ``score``: what ranked it (beam: the GNMT score; otherwise the log-probability).
    """

    text: str
    tokens: list[str]
    source_tokens: list[str]
    score: float
    log_prob: float
    attention: np.ndarray | None
    finished: bool

    @property
    def target_labels(self) -> list[str]:
        """The rows of ``attention``: the tokens, then ``<eos>`` when the hypothesis ended with it."""
        return self.tokens + (["<eos>"] if self.finished else [])


def _check_sentences(texts) -> list[str]:
    if isinstance(texts, str):
        texts = [texts]
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise DataError(f"sentence {i} is a {type(text).__name__}, not text")
        if not text.strip():
            raise UsageError(f"sentence {i} is empty: give a sentence to translate" if len(texts) > 1
                             else "the sentence is empty: give a sentence to translate")
    return texts


class TimeLimit:
    """Trainer callback: stop once another epoch (as long as the mean one so far) would end past ``minutes``."""

    def __init__(self, minutes: float):
        self.seconds = 60.0 * minutes

    def on_train_begin(self, trainer) -> None:
        self.start, self.epochs = time.perf_counter(), 0

    def on_epoch_end(self, trainer, row: dict) -> None:
        self.epochs += 1
        elapsed = time.perf_counter() - self.start
        if elapsed + elapsed / self.epochs > self.seconds:
            logger.info("max_minutes: stopping after epoch %d (%.1f min of training)", row["epoch"], elapsed / 60)
            trainer.should_stop = True


class Translator(Application):
    """Fit, translate, evaluate, save and load an attentional LSTM translator.

    >>> tr = Translator(TranslateConfig(src_column="en", tgt_column="es", group_column="book")).fit("bible.tsv")
    >>> tr.translate("In the beginning was the Word.")             # beam search, the config's width
    >>> tr.search(["Hello."], method="beam", beam=5, n_best=3)[0]    # three Translation objects
    """

    name = "translate"
    config_class = TranslateConfig
    state_class = TranslateState
    description = "a translation model"
    train_command = "lstmkit translate train"

    # ---- data ------------------------------------------------------------------------------------
    def read(self, data, *, src_column: str | None = None, tgt_column: str | None = None,
             groups: bool = True) -> Pairs:
        """The pairs of ``data`` (see :func:`~lstmkit.tasks.translate.data.read_pairs`), with the columns
        given here or else the config's; ``groups=False`` ignores the group column (no split needed)."""
        cfg = self.config
        return read_pairs(data, src_column or cfg.src_column, tgt_column or cfg.tgt_column,
                          cfg.group_column if groups else None)

    def split(self, pairs: Pairs):
        cfg = self.config
        return split_pairs(pairs, val_fraction=cfg.val_fraction, test_fraction=cfg.test_fraction, seed=cfg.seed)

    def check_input(self, data) -> None:
        self.split(self.read(data))

    def encode(self, texts: Sequence[str], side: str = "source") -> tuple[list[list[str]], list[list[int]]]:
        """(tokens, ids) of ``texts`` with the fitted ``"source"`` or ``"target"`` tokeniser."""
        tokenizer = self.state.source if side == "source" else self.state.target
        tokens = [t or [UNK] for t in tokenizer.tokenize_batch(list(texts))]
        return tokens, [tokenizer.encode(t) for t in tokens]

    # ---- fit -------------------------------------------------------------------------------------
    def fit(self, data, *, run_dir: str | Path | None = None, resume: bool = False) -> "Translator":
        """Learn the tokenisers, the baseline dictionary and the network from the training part of ``data``
        (a TSV/CSV path, a DataFrame, two aligned files or :class:`Pairs`), stopping early on the
        validation part. ``run_dir``/``resume``: see :meth:`lstmkit.tasks.base.Application.train_model`."""
        cfg = self.config
        self.state = None
        pairs = self.read(data)
        train, val, test, info = self.split(pairs)
        train_src, train_tgt = [pairs.src[i] for i in train], [pairs.tgt[i] for i in train]
        source = train_tokenizer(train_src, cfg)
        target = train_tokenizer(train_tgt, cfg)
        self.state = TranslateState(pairs=len(pairs), columns=dict(pairs.columns), split=info, source=source,
                                    target=target, lexicon=fit_lexicon(train_src, train_tgt))
        _, src_ids = self.encode(train_src)
        _, tgt_ids = self.encode(train_tgt, "target")
        kept = [i for i, (s, t) in enumerate(zip(src_ids, tgt_ids)) if max(len(s), len(t)) <= cfg.max_length]
        if not kept:
            raise DataError(f"every training pair is longer than max_length={cfg.max_length} tokens; "
                            "raise --max-length")
        info["train_used"] = len(kept)
        info["train_left_out_long"] = len(train) - len(kept)
        _, val_src = self.encode([pairs.src[i] for i in val])
        _, val_tgt = self.encode([pairs.tgt[i] for i in val], "target")
        info["source_vocab"], info["target_vocab"] = len(source), len(target)
        seed_everything(cfg.seed)
        model = Seq2SeqAttention(len(source), len(target), cfg.embedding_dim, cfg.hidden_size, cfg.num_layers,
                                 cfg.bidirectional, cfg.attention, cfg.score, cfg.input_feed, cfg.bridge, cfg.dropout,
                                 cfg.cell, cfg.recurrent_dropout, cfg.zoneout)
        train_config = TrainConfig(epochs=cfg.epochs, batch_size=cfg.batch_size, optimizer="adam", lr=cfg.lr,
                                   clip_grad_norm=cfg.clip_grad_norm, patience=cfg.patience, restore_best=True,
                                   schedule="plateau", plateau_patience=1, plateau_factor=0.5, monitor="val_loss",
                                   mode="min", seed=cfg.seed, device="cpu", progress=False)
        limit = [TimeLimit(cfg.max_minutes)] if cfg.max_minutes else []
        self.callbacks.extend(limit)
        try:
            self.train_model(model, translation_loss(cfg.label_smoothing), train_config,
                             pair_loader([src_ids[i] for i in kept], [tgt_ids[i] for i in kept], cfg.batch_size,
                                         shuffle=True),
                             pair_loader(val_src, val_tgt, cfg.batch_size, shuffle=False),
                             run_dir=run_dir, resume=resume, metrics={"token_accuracy": token_accuracy})
        finally:
            for callback in limit:
                self.callbacks.remove(callback)
        return self

    # ---- translation -----------------------------------------------------------------------------
    @torch.no_grad()
    def search(self, texts: Sequence[str] | str, *, method: str = "beam", beam: int | None = None, n_best: int = 1,
               length_penalty: float | None = None, coverage_penalty: float | None = None,
               no_repeat_ngram_size: int | None = None, max_len_a: float | None = None, max_len_b: int | None = None,
               min_len: int = 0, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
               seed: int | None = None, replace_unk: bool | None = None,
               batch_size: int | None = None) -> list[list[Translation]]:
        """For each sentence, its hypotheses (``n_best`` for beam search, one otherwise), best first.

        Options left ``None`` take the config's values (``beam``, ``length_penalty``, ...). ``method``:
        ``"greedy"``, ``"beam"`` or ``"sample"`` (``temperature``, ``top_k``, ``top_p``, ``seed``).
        """
        from lstmkit.decoding.search import beam_search, greedy_search, max_lengths, sample_search

        self.require_fitted()
        cfg = self.config
        if method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
        beam = cfg.beam if beam is None else beam
        options = dict(length_penalty=cfg.length_penalty if length_penalty is None else length_penalty,
                       coverage_penalty=cfg.coverage_penalty if coverage_penalty is None else coverage_penalty,
                       no_repeat_ngram_size=(cfg.no_repeat_ngram_size if no_repeat_ngram_size is None
                                             else no_repeat_ngram_size))
        a = cfg.max_len_a if max_len_a is None else max_len_a
        b = cfg.max_len_b if max_len_b is None else max_len_b
        check_decoding(max_len_a=a, **options)
        if method == "beam" and (not isinstance(n_best, int) or n_best > beam):
            raise ConfigError(f"n_best ({n_best}) cannot exceed the beam width ({beam}); "
                              "raise --beam or lower --n-best")
        if method != "beam" and n_best != 1:
            raise ConfigError(f"n_best ({n_best}) needs beam search; {method} decoding gives one translation")
        replace = cfg.replace_unk if replace_unk is None else replace_unk
        texts = _check_sentences(texts)
        src_tokens, src_ids = self.encode(texts)
        target = self.state.target
        model = self.model.eval()
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        if batch_size is None:
            batch_size = 64 if method != "beam" else max(1, 256 // beam)
        order = np.argsort([len(s) for s in src_ids], kind="stable")
        results: list[list[Translation]] = [[] for _ in texts]
        for start in range(0, len(order), batch_size):
            rows = [int(i) for i in order[start : start + batch_size]]
            lengths = torch.tensor([len(src_ids[i]) for i in rows], dtype=torch.int64)
            src = torch.zeros(len(rows), int(lengths.max()), dtype=torch.int64)
            for k, i in enumerate(rows):
                src[k, : lengths[k]] = torch.tensor(src_ids[i])
            state = model.initial_state(src, lengths)
            max_len = max_lengths(lengths, a, b)
            common = dict(bos=target.bos_id, eos=target.eos_id, max_len=max_len, src_lengths=lengths)
            if method == "greedy":
                found = [[h] for h in greedy_search(model.step, state, **common)]
            elif method == "sample":
                found = [[h] for h in sample_search(model.step, state, temperature=temperature, top_k=top_k,
                                                    top_p=top_p, generator=generator, **common)]
            else:
                found = beam_search(model.step, state, beam=beam, n_best=n_best, min_len=min_len, **options, **common)
            for k, i in enumerate(rows):
                results[i] = [self._translation(h, src_tokens[i], replace) for h in found[k]]
        return results

    def _translation(self, hyp, source_tokens: list[str], replace_unk: bool) -> Translation:
        target = self.state.target
        tokens = target.decode(hyp.tokens)
        attention = None if hyp.attention is None else hyp.attention.double().numpy()
        if replace_unk and attention is not None:
            tokens = [source_tokens[int(np.argmax(attention[j]))] if tok == UNK else tok
                      for j, tok in enumerate(tokens)]
        return Translation(target.detokenize(tokens), tokens, source_tokens, float(hyp.score), float(hyp.log_prob),
                           attention, bool(hyp.finished))

    def translate(self, texts: Sequence[str] | str, **options) -> list[str] | str:
        """The best translation of each sentence (a str for a str); ``options`` as :meth:`search`
        (default: beam search with the config's width)."""
        found = self.search(texts, **options)
        best = [hyps[0].text for hyps in found]
        return best[0] if isinstance(texts, str) else best

    # ---- evaluation ------------------------------------------------------------------------------
    def score_pairs(self, pairs: Pairs, *, beam: int | None = None) -> dict:
        """BLEU and chrF of greedy and beam search and of both baselines on every pair of ``pairs``;
        ``result["translations"]`` holds a DataFrame of every output."""
        self.require_fitted()
        beam = self.config.beam if beam is None else beam
        sources, references = list(pairs.src), list(pairs.tgt)
        from lstmkit.metrics.translation import signatures, translation_metrics

        greedy = [h[0].text for h in self.search(sources, method="greedy")]
        beamed = [h[0].text for h in self.search(sources, method="beam", beam=beam)]
        copied = copy_baseline(sources)
        lexical = lexical_baseline(sources, self.state.lexicon)
        cfg = self.config
        return {
            "model": {"greedy": translation_metrics(greedy, references),
                      "beam": translation_metrics(beamed, references)},
            "baselines": {"copy": translation_metrics(copied, references),
                          "lexical": translation_metrics(lexical, references)},
            "decoding": {"beam": beam, "length_penalty": cfg.length_penalty, "coverage_penalty": cfg.coverage_penalty,
                         "no_repeat_ngram_size": cfg.no_repeat_ngram_size, "max_len": [cfg.max_len_a, cfg.max_len_b],
                         "replace_unk": cfg.replace_unk},
            "signatures": signatures(),
            "translations": pd.DataFrame({"source": sources, "reference": references, "greedy": greedy, "beam": beamed,
                                          "lexical": lexical}),
        }

    def evaluate(self, data, *, beam: int | None = None) -> dict:
        """Scores on the test part of ``data`` (the split of :meth:`fit`): ``{"model": {"greedy": {"bleu",
        "chrf"}, "beam": {...}}, "baselines": {"copy": {...}, "lexical": {...}}, "split": {...}, ...}``."""
        self.require_fitted()
        pairs = self.read(data)
        _, _, test, info = self.split(pairs)
        result = self.score_pairs(pairs.subset(test), beam=beam)
        result["split"] = {**self.state.split, **{k: info[k] for k in ("train", "val", "test")}}
        return result

    # ---- run directory ---------------------------------------------------------------------------
    def write_results(self, out: Path, result: dict, data) -> None:
        """``translations.csv`` (every test sentence: reference, greedy, beam, lexical) and ``attention.png``
        (beam search's attention for up to three test sentences of 4-20 source tokens)."""
        translations = result.pop("translations")
        atomic_write_text(out / "translations.csv", translations.to_csv(index=False))
        chosen = self.choose_examples(list(translations["source"]))
        if chosen:
            from lstmkit.tasks.translate.plots import attention_plot

            attention_plot([hyps[0] for hyps in self.search(chosen, method="beam")], out / "attention.png")

    def choose_examples(self, sentences: Sequence[str], k: int = 3, low: int = 4, high: int = 20) -> list[str]:
        """Up to ``k`` sentences of ``low``-``high`` source tokens (in order), or the shortest ones."""
        if not sentences:
            return []
        tokens, _ = self.encode(sentences)
        fitting = [s for s, t in zip(sentences, tokens) if low <= len(t) <= high]
        if len(fitting) >= k:
            return fitting[:k]
        order = np.argsort([len(t) for t in tokens], kind="stable")
        return [sentences[int(i)] for i in order[:k]]
