"""Turning a model's scores into outputs, one token at a time.

* :mod:`lstmkit.decoding.sampling`: softmax, greedy choice (temperature 0), and temperature + top-k
  sampling with banned ids, seeded by a NumPy ``Generator`` (what ``lstmkit text lm generate`` runs).
* :mod:`lstmkit.decoding.search`: batched searches over a decoder step function (torch): greedy, beam
  search with GNMT length and coverage penalties, n-best, n-gram blocking, and temperature/top-k/top-p
  sampling (what translation runs); it re-exports :mod:`~lstmkit.decoding.common`,
  :mod:`~lstmkit.decoding.greedy` and :mod:`~lstmkit.decoding.beam`.

:mod:`lstmkit.decoding.ctc`: CTC best path (with emission frames) and prefix beam search over (T, V)
log-probabilities, optionally fused with a label language model (:mod:`lstmkit.decoding.label_lm`:
:class:`NGramCharLM`, or :class:`CharLM` over ``lstmkit text lm --level char``): what speech runs.
"""
from lstmkit.decoding.ctc import (
    CharLM, CTCHypothesis, LabelLM, NGramCharLM, ctc_best_path, ctc_best_path_frames, ctc_collapse,
    ctc_prefix_beam_search,
)
from lstmkit.decoding.sampling import check_sampling, sample_token, softmax
from lstmkit.decoding.search import (
    Hypothesis, beam_search, gnmt_coverage_penalty, gnmt_length_penalty, greedy_search, max_lengths,
    sample_search, select_rows, top_k_top_p_filter,
)

__all__ = ["CTCHypothesis", "CharLM", "LabelLM", "NGramCharLM", "ctc_best_path", "ctc_best_path_frames",
           "ctc_collapse", "ctc_prefix_beam_search",
           "check_sampling", "sample_token", "softmax", "Hypothesis", "beam_search", "gnmt_coverage_penalty",
           "gnmt_length_penalty", "greedy_search", "max_lengths", "sample_search", "select_rows",
           "top_k_top_p_filter"]
