r"""Baselines scored on the same test pairs as the translator.

* **copy**: the source sentence itself. Between related languages it earns some BLEU and more chrF
  (names, numbers, punctuation and shared words); a model must at least beat it.
* **lexical**: word-by-word translation with a dictionary learned from the training pairs alone.
  For source word :math:`s` and target word :math:`t` let :math:`n_s`, :math:`n_t` be the numbers of
  training pairs whose source holds :math:`s` (target holds :math:`t`) and :math:`n_{st}` those holding
  both; the Dice coefficient

  .. math:: \mathrm{Dice}(s, t) = \frac{2\, n_{st}}{n_s + n_t}

  is 1 when the two words always occur together and 0 when never. Each source word is translated by
  its highest-Dice target word (ties: the more frequent pair, then the earlier word); a word never seen
  in training is copied. Words are compared lower-cased; the target word is written in its most
  frequent spelling, capitalised when the source word was. No reordering, no fertility: what is left
  to a real model.
"""
from __future__ import annotations

import warnings
from collections import Counter
from typing import Sequence

import numpy as np
import torch

from lstmkit.data.text import WordTokenizer, detokenize

__all__ = ["copy_baseline", "fit_lexicon", "lexical_baseline"]

_TOKENIZER = WordTokenizer(lower=False, punctuation=True)


def copy_baseline(sources: Sequence[str]) -> list[str]:
    """The sources as they are."""
    return [" ".join(s.split()) for s in sources]


def fit_lexicon(sources: Sequence[str], targets: Sequence[str], *, max_words: int | None = None) -> dict[str, str]:
    """``{source word (lower-cased): target word}`` by the Dice coefficient over sentence co-occurrence.

    Counted with sparse matrix products (torch), so 30,000 verse pairs take about a second.
    ``max_words``: keep the most frequent source words only (None: all).
    """
    src_tokens = [[t.lower() for t in _TOKENIZER(s)] for s in sources]
    tgt_raw = [_TOKENIZER(t) for t in targets]
    tgt_tokens = [[t.lower() for t in sent] for sent in tgt_raw]
    spelling: dict[str, Counter] = {}
    for sent in tgt_raw:
        for token in sent:
            spelling.setdefault(token.lower(), Counter())[token] += 1
    src_index = {w: i for i, w in enumerate(dict.fromkeys(w for s in src_tokens for w in s))}
    tgt_index = {w: i for i, w in enumerate(dict.fromkeys(w for s in tgt_tokens for w in s))}
    if not src_index or not tgt_index:
        return {}
    X = _incidence(src_tokens, src_index)  # (pairs, V_src), 1 where the sentence holds the word
    Y = _incidence(tgt_tokens, tgt_index)
    n_s = torch.sparse.sum(X, 0).to_dense()
    n_t = torch.sparse.sum(Y, 0).to_dense()
    with warnings.catch_warnings():  # torch calls its sparse kernels "beta"; the product is exact
        warnings.simplefilter("ignore", UserWarning)
        joint = torch.sparse.mm(X.t().coalesce(), Y).coalesce()  # (V_src, V_tgt) co-occurrence counts
    s_idx, t_idx = joint.indices()
    n_st = joint.values()
    dice = 2 * n_st / (n_s[s_idx] + n_t[t_idx])
    # Best target per source word: sort by (source, -dice, -n_st, target) and take each source's first.
    order = np.lexsort((t_idx.numpy(), -n_st.numpy(), -dice.numpy(), s_idx.numpy()))
    s_sorted = s_idx.numpy()[order]
    first = order[np.r_[True, s_sorted[1:] != s_sorted[:-1]]]
    src_words = list(src_index)
    tgt_words = list(tgt_index)
    lexicon = {src_words[int(s_idx[i])]: tgt_words[int(t_idx[i])] for i in first}
    if max_words is not None:
        frequent = set(sorted(src_index, key=lambda w: -float(n_s[src_index[w]]))[:max_words])
        lexicon = {w: t for w, t in lexicon.items() if w in frequent}
    return {w: spelling[t].most_common(1)[0][0] for w, t in lexicon.items()}


def _incidence(sentences: list[list[str]], index: dict[str, int]) -> torch.Tensor:
    rows, cols = [], []
    for i, sent in enumerate(sentences):
        ids = sorted({index[w] for w in sent})
        rows.extend([i] * len(ids))
        cols.extend(ids)
    values = torch.ones(len(rows), dtype=torch.float64)
    return torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.int64).reshape(2, -1), values,
                                   (len(sentences), len(index)), check_invariants=True).coalesce()


def lexical_baseline(sources: Sequence[str], lexicon: dict[str, str]) -> list[str]:
    """Each source word replaced by its lexicon entry (unknown words copied), detokenised."""
    out = []
    for sentence in sources:
        words = []
        for token in _TOKENIZER(sentence):
            word = lexicon.get(token.lower(), token)
            if token[:1].isupper() and word[:1].islower():
                word = word[:1].upper() + word[1:]
            words.append(word)
        out.append(detokenize(words))
    return out
