r"""Translation metrics: corpus BLEU and chrF, computed by sacrebleu on detokenised text.

Both compare hypotheses with one reference per sentence over the whole test set (not a mean of
sentence scores), on 0-100 scales, higher is better.

* BLEU (Papineni et al. 2002): the geometric mean of the modified n-gram precisions
  :math:`p_1 \dots p_4` (each hypothesis n-gram counted at most as often as the reference has it),
  times a brevity penalty: :math:`\mathrm{BLEU} = \mathrm{BP} \cdot \exp(\frac14 \sum_n \ln p_n)`,
  :math:`\mathrm{BP} = \min(1, e^{1 - r/c})` for hypothesis length :math:`c` and reference length
  :math:`r`. sacrebleu tokenises both sides itself (``13a``), so the score does not depend on how
  the model tokenised: it is comparable with other systems' scores on the same references.
* chrF (Popović 2015): the F-score (:math:`\beta = 2`, recall weighted twice) of character n-grams,
  n = 1..6, spaces ignored. It gives partial credit for a word with the right stem and the wrong
  ending, which BLEU does not, and is more reliable on single sentences and small test sets.

``signatures()`` gives sacrebleu's description of each metric (version, tokenisation, smoothing) to
report next to the numbers.
"""
from __future__ import annotations

from typing import Sequence

from lstmkit.errors import MissingDependencyError

__all__ = ["bleu", "chrf", "signatures", "translation_metrics"]


def _sacrebleu():
    try:
        import sacrebleu
    except ImportError:
        raise MissingDependencyError("BLEU and chrF need sacrebleu: pip install 'lstmkit[translate]'") from None
    return sacrebleu


def _check(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    hypotheses, references = list(hypotheses), list(references)
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    if not references:
        raise ValueError("no sentences to score")
    return hypotheses, references


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus BLEU (0-100) of detokenised ``hypotheses`` against one reference each."""
    hypotheses, references = _check(hypotheses, references)
    return float(_sacrebleu().corpus_bleu(hypotheses, [references]).score)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100) of ``hypotheses`` against one reference each."""
    hypotheses, references = _check(hypotheses, references)
    return float(_sacrebleu().corpus_chrf(hypotheses, [references]).score)


def translation_metrics(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """``{"bleu": ..., "chrf": ...}`` (0-100) on the same sentences."""
    return {"bleu": bleu(hypotheses, references), "chrf": chrf(hypotheses, references)}


def signatures() -> dict[str, str]:
    """sacrebleu's signature of each metric, e.g. ``nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0``."""
    sb = _sacrebleu()
    out = {}
    for name, metric in (("bleu", sb.metrics.BLEU()), ("chrf", sb.metrics.CHRF())):
        metric.corpus_score(["a"], [["a"]])  # the signature names the reference count once one is seen
        out[name] = str(metric.get_signature())
    return out
