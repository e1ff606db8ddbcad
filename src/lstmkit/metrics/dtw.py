"""1-nearest-neighbour dynamic time warping: the classic baseline of time series classification.

The distance is dependent multivariate DTW (DTW_D in the UEA archive's terms): the channels of a
step warp together, and the local cost of matching step i of a query ``x`` with step j of a
reference ``y`` is the squared Euclidean distance between their channel vectors,
``c(i, j) = sum_k (x[i, k] - y[j, k]) ** 2``. The accumulated cost

    D[-1, -1] = 0,   D[i, -1] = D[-1, j] = inf,
    D[i, j] = c(i, j) + min(D[i-1, j], D[i, j-1], D[i-1, j-1])

is returned at the last cell, D[n-1, m-1], without a square root and without dividing by the path
length, as the archive's DTW_D does (the ranking of neighbours, and so 1-NN, is the same either way).

Speed comes from numpy, not from a compiled loop: all (query, reference) pairs of a block are
computed together, one anti-diagonal of the cost matrix at a time, so Python iterates n + m - 1 times
per block whatever the number of pairs.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from lstmkit.errors import DataError

__all__ = ["dtw_distances", "nearest_neighbour"]

_BLOCK_BYTES = 200 * 2**20  # bound on the working memory of one block of pairs


def _as_sequences(sequences: Sequence[np.ndarray], name: str) -> list[np.ndarray]:
    """float64 arrays (length, channels); a 1-D array is one channel."""
    out = []
    for k, seq in enumerate(sequences):
        array = np.asarray(seq, dtype=np.float64)
        array = array[:, None] if array.ndim == 1 else array
        if array.ndim != 2 or len(array) == 0:
            raise DataError(f"{name}[{k}]: expected a non-empty (length, channels) array, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise DataError(f"{name}[{k}]: contains NaN or infinite values; fill or drop them first")
        out.append(array)
    return out


def _pad(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """Stack into (count, length, channels); the padding value is never read (see _block)."""
    out = np.zeros((len(sequences), length, sequences[0].shape[1]))
    for k, seq in enumerate(sequences):
        out[k, : len(seq)] = seq
    return out


def _radius(window: float, n: int, m: int) -> int:
    # The epsilon keeps a whole radius whole when floating point falls just short (0.29 * 100 = 28.999...).
    return int(math.floor(window * max(n, m) + 1e-9))


def _block(queries: list[np.ndarray], references: list[np.ndarray], window: float | None) -> np.ndarray:
    """DTW_D of every pair (query, reference) of one block: an array (len(queries), len(references)).

    The pairs are padded to common lengths N and M and the whole N x M grid (or the union of their
    bands) is filled. Padding cannot leak into a result: D[i, j] depends only on cells (i', j') with
    i' <= i and j' <= j, all inside the real sequences when i < n and j < m, so each pair's
    D[n-1, m-1] is exactly its unpadded distance; cells beyond a sequence's end are computed and ignored.
    """
    # Time first, pairs last: the cells of one diagonal are then one contiguous slice of each array.
    q = _pad(queries, max(map(len, queries))).transpose(1, 0, 2)[:, :, None, :].copy()  # (N, nq, 1, C)
    r_rev = _pad(references, max(map(len, references)))[:, ::-1, :].transpose(1, 0, 2)[:, None, :, :].copy()
    n_len = np.array([len(s) for s in queries])[:, None]
    m_len = np.array([len(s) for s in references])[None, :]
    (big_n, nq, _, _), (big_m, _, nr, _) = q.shape, r_rev.shape
    lo, hi = -(big_m - 1), big_n - 1  # smallest and largest i - j of the cells to compute
    if window is not None:
        # Sakoe-Chiba band: |i - j| <= radius, widened by the length difference on the side where the
        # longer sequence needs it, so that the last cell (n-1, m-1) is always reachable.
        radius = np.vectorize(lambda n, m: _radius(window, n, m))(n_len, m_len)
        low = -radius - np.maximum(0, m_len - n_len)  # smallest allowed i - j, per pair
        high = radius + np.maximum(0, n_len - m_len)  # largest allowed i - j, per pair
        lo, hi = int(low.min()), int(high.max())
    # Diagonal d holds the cells i + j = d; position p of a buffer is row i = p - 1, so position 0 is
    # the border row i = -1 (D = inf). Three buffers rotate: diagonals d - 2, d - 1 and d.
    buffers = np.full((3, big_n + 1, nq, nr), np.inf)
    buffers[0, 0] = 0.0  # D[-1, -1] = 0, on diagonal -2
    result = np.empty((nq, nr))
    for d in range(big_n + big_m - 1):
        before, last, current = buffers[d % 3], buffers[(d + 1) % 3], buffers[(d + 2) % 3]
        # The rows of this diagonal inside the grid and inside the band: lo <= i - j = 2i - d <= hi.
        i0 = max(0, d - big_m + 1, -((-d - lo) // 2))  # ceil((d + lo) / 2)
        i1 = min(big_n - 1, d, (d + hi) // 2)
        # The cells just outside [i0, i1] are read by the next two diagonals and may hold values of
        # diagonal d - 3 (the buffers rotate): they are outside the band or the grid, so D = inf there.
        current[i0] = np.inf
        if i1 + 2 <= big_n:
            current[i1 + 2] = np.inf
        if i0 <= i1:
            diff = q[i0 : i1 + 1] - r_rev[big_m - 1 - d + i0 : big_m - d + i1]
            cells = np.einsum("kabc,kabc->kab", diff, diff)  # c(i, j) for j = d - i
            # D[i-1, j]: diagonal d-1, row i-1; D[i, j-1]: diagonal d-1, row i; D[i-1, j-1]: diagonal d-2, row i-1
            best = np.minimum(last[i0 : i1 + 1], last[i0 + 1 : i1 + 2])
            np.minimum(best, before[i0 : i1 + 1], out=best)
            cells += best
            if window is not None:
                i_minus_j = (2 * np.arange(i0, i1 + 1) - d)[:, None, None]
                cells[(i_minus_j < low) | (i_minus_j > high)] = np.inf
            current[i0 + 1 : i1 + 2] = cells
        if d == 0:
            before[0] = np.inf  # D[-1, -1] served the first cell only; this buffer is reused
        done = (n_len + m_len - 2) == d  # pairs whose last cell (n-1, m-1) is on this diagonal
        if done.any():
            a, b = np.nonzero(done)
            result[a, b] = current[n_len[a, 0], a, b]  # position n = row n - 1
    return result


def dtw_distances(
    queries: Sequence[np.ndarray], references: Sequence[np.ndarray], *, window: float | None = None
) -> np.ndarray:
    """Dependent multivariate DTW (DTW_D) between every query and every reference: shape (nq, nr).

    Sequences are arrays ``(length, channels)`` (a 1-D array is one channel) of any lengths, all with
    the same number of channels. ``window`` is the Sakoe-Chiba band as a fraction of the longer
    sequence of a pair: the warping path keeps ``|i - j| <= floor(window * max(n, m))``, widened by
    ``|n - m|`` on the side of the longer sequence when the lengths differ (so a path always exists).
    ``window=0`` on equal lengths is the squared Euclidean distance; ``None`` is no band.

    The recurrence, filled one anti-diagonal (i + j = d) at a time for all pairs of a block at once:
    ``D[i, j] = c(i, j) + min(D[i-1, j], D[i, j-1], D[i-1, j-1])``, with ``c`` the squared Euclidean
    distance between step i of the query and step j of the reference; the result is ``D[n-1, m-1]``.

    Raises:
        DataError: an empty sequence, NaN or infinite values, or differing channel counts.
    """
    if window is not None and not (0 <= window <= 1):
        raise DataError(f"window must be a fraction between 0 and 1 (or None for no band), got {window!r}")
    qs, rs = _as_sequences(queries, "queries"), _as_sequences(references, "references")
    if not qs or not rs:
        return np.zeros((len(qs), len(rs)))
    channels = {s.shape[1] for s in qs + rs}
    if len(channels) > 1:
        raise DataError(f"all sequences need the same number of channels, found {sorted(channels)}")
    # Sorting by length keeps the padding of a block small when lengths vary (JapaneseVowels: 7 to 29).
    q_order = np.argsort([len(s) for s in qs], kind="stable")
    r_order = np.argsort([len(s) for s in rs], kind="stable")
    big_n, big_m, c = max(map(len, qs)), max(map(len, rs)), channels.pop()
    # Per pair: 3 diagonal buffers of N+1 cells, and the difference, cost and minimum of one diagonal.
    pair_bytes = 8 * (3 * (big_n + 1) + min(big_n, big_m) * (c + 4))
    pairs = max(1, _BLOCK_BYTES // pair_bytes)
    r_block = min(len(rs), pairs)
    q_block = max(1, min(len(qs), pairs // r_block))
    out = np.empty((len(qs), len(rs)))
    for a in range(0, len(qs), q_block):
        qi = q_order[a : a + q_block]
        for b in range(0, len(rs), r_block):
            ri = r_order[b : b + r_block]
            out[np.ix_(qi, ri)] = _block([qs[k] for k in qi], [rs[k] for k in ri], window)
    return out


def nearest_neighbour(
    train_x: Sequence[np.ndarray],
    train_y: Sequence[Any],
    test_x: Sequence[np.ndarray],
    *,
    window: float | None = None,
) -> np.ndarray:
    """The label of each test sequence's nearest training sequence under DTW_D (1-NN).

    Labels may be of any kind (strings, class indices); the result is ``np.asarray(train_y)`` indexed
    by the nearest references. Ties go to the first training sequence in the order given.
    """
    if len(train_x) != len(train_y):
        raise DataError(f"{len(train_x)} training sequences but {len(train_y)} labels")
    if not len(train_x):
        raise DataError("no training sequences: 1-NN needs at least one")
    distances = dtw_distances(test_x, train_x, window=window)
    return np.asarray(train_y)[np.argmin(distances, axis=1)] if len(test_x) else np.asarray(train_y)[:0]
