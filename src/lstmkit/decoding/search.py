"""The import point of the searches (the translation contract names it): everything is re-exported here.

* :mod:`lstmkit.decoding.common`: the step-function protocol, :class:`Hypothesis`, :func:`select_rows`
  (how the searches reorder a decoder's state), :func:`max_lengths` (``a * src + b``).
* :mod:`lstmkit.decoding.greedy`: :func:`greedy_search`, :func:`sample_search` (temperature, top-k,
  top-p) and :func:`top_k_top_p_filter`.
* :mod:`lstmkit.decoding.beam`: :func:`beam_search` (GNMT length and coverage penalties, n-best,
  n-gram blocking, exact early stop) and the two penalties.

All of them are batched over sentences (and beams): one step call per time step for all rows, and a
sentence's output does not depend on the batch it is decoded in, beyond what the step function's own
arithmetic gives its rows.
"""
from lstmkit.decoding.beam import beam_search, gnmt_coverage_penalty, gnmt_length_penalty
from lstmkit.decoding.common import Hypothesis, Step, max_lengths, select_rows
from lstmkit.decoding.greedy import greedy_search, sample_search, top_k_top_p_filter

__all__ = ["Hypothesis", "Step", "select_rows", "max_lengths", "greedy_search", "sample_search",
           "top_k_top_p_filter", "beam_search", "gnmt_length_penalty", "gnmt_coverage_penalty"]
