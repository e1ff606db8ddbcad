"""Machine translation with an attentional LSTM encoder-decoder (``lstmkit translate``).

* :mod:`~lstmkit.tasks.translate.data`: sentence pairs from a TSV/CSV or two aligned files, a split by
  document (or by distinct source sentence) that cannot leak, batches of similar lengths; the
  English-Spanish Bible (Debian's SWORD packages) and number words (``num2words``).
* :mod:`~lstmkit.tasks.translate.tokenize`: byte-pair-encoded subwords (default) or words, per side.
* :mod:`~lstmkit.tasks.translate.model`: :class:`Seq2SeqAttention`, a (bi)LSTM encoder and an LSTM
  decoder with Luong (dot, general) or Bahdanau (additive) attention and input feeding.
* :mod:`~lstmkit.tasks.translate.translator`: :class:`Translator`, the application: fit, translate
  (greedy, beam, sampling through :mod:`lstmkit.decoding`), evaluate (BLEU, chrF) against the copy and
  lexical baselines (:mod:`~lstmkit.tasks.translate.baselines`), save and load.
* :mod:`~lstmkit.tasks.translate.plots`: the attention matrix of chosen sentences.

A run directory is written by :func:`lstmkit.tasks.base.train_run`::

    train_run(Translator(TranslateConfig(src_column="en", tgt_column="es")), "pairs.tsv", "runs/mt")

Command line: ``lstmkit translate train|run|evaluate|export``. Names are imported on first use
(:mod:`lstmkit.lazy`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from lstmkit.lazy import lazy_exports

if TYPE_CHECKING:
    from lstmkit.tasks.translate.baselines import copy_baseline, fit_lexicon, lexical_baseline
    from lstmkit.tasks.translate.config import TranslateConfig, TranslateState
    from lstmkit.tasks.translate.data import (Pairs, load_bible_pairs, number_pairs, pair_loader, read_pairs,
                                              split_pairs)
    from lstmkit.tasks.translate.model import Attention, Seq2SeqAttention, translation_loss
    from lstmkit.tasks.translate.plots import attention_figure, attention_plot
    from lstmkit.tasks.translate.tokenize import SubwordTokenizer, WordVocabulary
    from lstmkit.tasks.translate.translator import Translation, Translator

_WHERE = {
    "Attention": "lstmkit.tasks.translate.model",
    "Pairs": "lstmkit.tasks.translate.data",
    "Seq2SeqAttention": "lstmkit.tasks.translate.model",
    "SubwordTokenizer": "lstmkit.tasks.translate.tokenize",
    "TranslateConfig": "lstmkit.tasks.translate.config",
    "TranslateState": "lstmkit.tasks.translate.config",
    "Translation": "lstmkit.tasks.translate.translator",
    "Translator": "lstmkit.tasks.translate.translator",
    "WordVocabulary": "lstmkit.tasks.translate.tokenize",
    "attention_figure": "lstmkit.tasks.translate.plots",
    "attention_plot": "lstmkit.tasks.translate.plots",
    "copy_baseline": "lstmkit.tasks.translate.baselines",
    "fit_lexicon": "lstmkit.tasks.translate.baselines",
    "lexical_baseline": "lstmkit.tasks.translate.baselines",
    "load_bible_pairs": "lstmkit.tasks.translate.data",
    "number_pairs": "lstmkit.tasks.translate.data",
    "pair_loader": "lstmkit.tasks.translate.data",
    "read_pairs": "lstmkit.tasks.translate.data",
    "split_pairs": "lstmkit.tasks.translate.data",
    "translation_loss": "lstmkit.tasks.translate.model",
}
__all__ = sorted(_WHERE)
__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
