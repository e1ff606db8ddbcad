"""Turning a model's scores into outputs, one token at a time.

* :mod:`lstmkit.decoding.sampling`: softmax, greedy choice (temperature 0), and temperature + top-k
  sampling with banned ids, seeded by a NumPy ``Generator`` (what ``lstmkit text lm generate`` runs).

Beam search and CTC decoding (best path, prefix beam) will live beside it.
"""
from lstmkit.decoding.sampling import check_sampling, sample_token, softmax

__all__ = ["check_sampling", "sample_token", "softmax"]
