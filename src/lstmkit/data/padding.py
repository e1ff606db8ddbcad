r"""Padding variable-length sequences into one batch tensor, and undoing it.

A batch of :math:`N` sequences of lengths :math:`L_0, \dots, L_{N-1}` becomes one tensor of shape
``(N, T, *F)`` with :math:`T = \max_i L_i` (or ``maxlen``), plus the ``lengths`` tensor. With
``padding="post"`` sequence :math:`i` occupies steps :math:`0 \le t < L_i` and the pad value fills
the rest; with ``padding="pre"`` it occupies :math:`T - L_i \le t < T`. ``lengths`` is what
``torch.nn.utils.rnn.pack_padded_sequence`` needs (int64, on the CPU) so that the pads never reach a
result; :func:`sequence_mask` gives the same information as a boolean mask for losses and pooling.

Shapes: N batch, T time, F features (zero or more trailing dimensions, equal for all sequences).
"""
from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from lstmkit.data.errors import DataError

__all__ = ["BucketBatchSampler", "LabelledSequences", "collate", "collate_labelled", "pad_sequences", "sequence_mask",
           "unpad_sequences"]

logger = logging.getLogger(__name__)

_SIDES = ("pre", "post")


def _check_side(name: str, side: str) -> None:
    if side not in _SIDES:
        raise ValueError(f"{name} must be 'pre' or 'post', got {side!r}")


def _to_tensor(seq: Any, i: int) -> torch.Tensor:
    if isinstance(seq, torch.Tensor):
        return seq
    if isinstance(seq, np.ndarray):
        if seq.dtype == object or not (np.issubdtype(seq.dtype, np.number) or seq.dtype == bool):
            raise DataError(f"sequence {i} has non-numeric dtype {seq.dtype}")
        if not seq.flags.writeable:
            # e.g. a window from make_windows; pad_sequences only reads it, so sharing is safe.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*not writable.*")
                return torch.from_numpy(seq)
        return torch.from_numpy(seq)
    if isinstance(seq, (list, tuple)):
        return torch.as_tensor(seq)
    raise TypeError(f"sequence {i} must be a torch.Tensor, numpy array or list, got {type(seq).__name__}")


def pad_sequences(
    sequences: Sequence[Any],
    *,
    maxlen: int | None = None,
    padding: str = "post",
    truncating: str = "post",
    value: float = 0.0,
    dtype: torch.dtype | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad a list of sequences of shape ``(L_i, *F)`` into ``(N, T, *F)``; return it and the lengths.

    Args:
        sequences: a non-empty list of 1-D ``(L_i,)`` or 2-D ``(L_i, F)`` tensors, numpy arrays or
            lists; all with the same number of dimensions, trailing shape, device and (unless
            ``dtype`` is given) dtype.
        maxlen: ``T``; defaults to the longest length. Longer sequences are truncated.
        padding: ``"post"`` puts the pads after each sequence, ``"pre"`` before it.
        truncating: ``"post"`` keeps the first ``maxlen`` steps of a long sequence, ``"pre"`` the
            last ``maxlen`` (as Keras ``pad_sequences``).
        value: the pad value.
        dtype: output dtype. ``None`` keeps the sequences' common dtype; sequences of different
            dtypes are an error rather than a silent promotion.

    Returns:
        ``(padded, lengths)``: ``padded`` is ``(N, T, *F)`` on the sequences' device; ``lengths`` is
        int64 ``(N,)`` on the CPU and counts the steps kept after truncation.
    """
    if isinstance(sequences, (torch.Tensor, np.ndarray)):
        raise TypeError(
            "pad_sequences expects a list of sequences, got a single "
            f"{type(sequences).__name__}; wrap it in a list or pass list(batch)"
        )
    if len(sequences) == 0:
        raise ValueError("pad_sequences needs at least one sequence, got an empty list")
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    if maxlen is not None and (not isinstance(maxlen, int) or isinstance(maxlen, bool) or maxlen < 1):
        raise ValueError(f"maxlen must be a positive integer or None, got {maxlen!r}")

    tensors = [_to_tensor(s, i) for i, s in enumerate(sequences)]
    first = tensors[0]
    if first.ndim == 0:
        raise DataError("sequence 0 is a scalar; each sequence needs a time dimension (L,) or (L, F)")
    for i, t in enumerate(tensors[1:], start=1):
        if t.ndim == 0 or t.shape[1:] != first.shape[1:]:
            raise DataError(
                f"sequence {i} has shape {tuple(t.shape)} but sequence 0 has {tuple(first.shape)}; "
                "all sequences need the same feature shape (L_i, *F)"
            )
        if dtype is None and t.dtype != first.dtype:
            raise DataError(
                f"sequence {i} has dtype {t.dtype} but sequence 0 has {first.dtype}; "
                "pass dtype= to convert them all explicitly"
            )
        if t.device != first.device:
            raise DataError(f"sequence {i} is on {t.device} but sequence 0 is on {first.device}")
    out_dtype = first.dtype if dtype is None else dtype
    if not (out_dtype.is_floating_point or out_dtype.is_complex) and float(value) != int(value):
        raise ValueError(f"pad value {value!r} is not representable in integer dtype {out_dtype}")

    raw_lengths = [t.shape[0] for t in tensors]
    steps = max(raw_lengths) if maxlen is None else maxlen
    lengths = torch.tensor([min(n, steps) for n in raw_lengths], dtype=torch.int64)
    padded = torch.full(
        (len(tensors), steps, *first.shape[1:]), value, dtype=out_dtype, device=first.device
    )  # (N, T, *F)
    for i, t in enumerate(tensors):
        n = int(lengths[i])
        if n == 0:
            continue
        kept = t[:n] if truncating == "post" else t[t.shape[0] - n :]
        if padding == "post":
            padded[i, :n] = kept
        else:
            padded[i, steps - n :] = kept
    return padded, lengths


def unpad_sequences(padded: torch.Tensor, lengths: Any, *, padding: str = "post") -> list[torch.Tensor]:
    """Inverse of :func:`pad_sequences`: the list of ``(L_i, *F)`` views into ``padded``."""
    _check_side("padding", padding)
    lengths = torch.as_tensor(lengths)
    if padded.ndim < 2:
        raise DataError(f"padded must have shape (N, T, *F), got {tuple(padded.shape)}")
    if lengths.shape != (padded.shape[0],):
        raise DataError(
            f"lengths has shape {tuple(lengths.shape)} but padded has N={padded.shape[0]} sequences"
        )
    steps = padded.shape[1]
    if len(lengths) and (int(lengths.min()) < 0 or int(lengths.max()) > steps):
        raise DataError(f"lengths must lie in [0, T={steps}], got min {int(lengths.min())} max {int(lengths.max())}")
    if padding == "post":
        return [padded[i, : int(n)] for i, n in enumerate(lengths)]
    return [padded[i, steps - int(n) :] for i, n in enumerate(lengths)]


def sequence_mask(lengths: Any, maxlen: int | None = None, *, padding: str = "post") -> torch.Tensor:
    r"""Boolean mask ``(N, T)``, True at real (not padded) steps.

    .. math::
        m_{i,t} = [t < L_i] \text{ (post)}, \qquad m_{i,t} = [t \ge T - L_i] \text{ (pre)}

    ``T`` is ``maxlen`` or ``max(lengths)``; the mask is on ``lengths``' device.
    """
    _check_side("padding", padding)
    lengths = torch.as_tensor(lengths)
    if lengths.ndim != 1:
        raise DataError(f"lengths must be 1-D (N,), got shape {tuple(lengths.shape)}")
    if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
        raise DataError(f"lengths must be integers, got dtype {lengths.dtype}")
    longest = int(lengths.max()) if len(lengths) else 0
    steps = longest if maxlen is None else maxlen
    if longest > steps:
        raise DataError(f"a length {longest} exceeds maxlen={steps}")
    t = torch.arange(steps, device=lengths.device)  # (T,)
    if padding == "post":
        return t[None, :] < lengths[:, None]
    return t[None, :] >= (steps - lengths)[:, None]


def collate(
    batch: Sequence[Any],
    *,
    padding: str = "post",
    maxlen: int | None = None,
    truncating: str = "post",
    value: float = 0.0,
    dtype: torch.dtype | None = None,
    pad_targets: bool = False,
    target_value: float = 0.0,
) -> tuple[torch.Tensor, ...]:
    """``collate_fn`` for a :class:`torch.utils.data.DataLoader` over variable-length sequences.

    Each dataset item is either a sequence ``x`` or a pair ``(x, y)``; the return value is

    * items ``x``: ``(x_padded, lengths)``;
    * items ``(x, y)``: ``(x_padded, lengths, y)`` with the targets stacked, which needs equal target
      shapes (one label or one vector per sequence);
    * items ``(x, y)`` with ``pad_targets=True``: ``(x_padded, lengths, y_padded, y_lengths)``, the
      targets padded (and truncated) the same way, with ``target_value`` (per-step labels, or a
      target sequence).

    Options go through :func:`functools.partial`, which keeps it picklable for worker processes::

        DataLoader(ds, batch_size=32, collate_fn=partial(collate, pad_targets=True, target_value=-100))
    """
    if len(batch) == 0:
        raise ValueError("collate got an empty batch")
    paired = [isinstance(item, (tuple, list)) and len(item) == 2 and not _is_number_list(item) for item in batch]
    if any(paired) and not all(paired):
        raise DataError("collate: some items are (x, y) pairs and some are not; a dataset must be one or the other")
    options = dict(padding=padding, maxlen=maxlen, truncating=truncating)
    if not paired[0]:
        return pad_sequences(list(batch), value=value, dtype=dtype, **options)
    xs = [item[0] for item in batch]
    ys = [item[1] for item in batch]
    x, lengths = pad_sequences(xs, value=value, dtype=dtype, **options)
    if pad_targets:
        y, y_lengths = pad_sequences(ys, value=target_value, **options)
        return x, lengths, y, y_lengths
    targets = [y if isinstance(y, torch.Tensor) else torch.as_tensor(np.asarray(y)) for y in ys]
    for i, t in enumerate(targets[1:], start=1):
        if t.shape != targets[0].shape:
            raise DataError(
                f"collate: target {i} has shape {tuple(t.shape)} but target 0 has {tuple(targets[0].shape)}; "
                "pass pad_targets=True to pad variable-length targets"
            )
    return x, lengths, torch.stack(targets)


def _is_number_list(item: Any) -> bool:
    # A plain list of two numbers is a length-2 sequence, not an (x, y) pair.
    return isinstance(item, list) and all(isinstance(v, (int, float)) for v in item)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of indices whose sequences have similar lengths, so little compute goes to padding.

    With ``shuffle=True`` (training) every epoch draws a random permutation, cuts it into pools of
    ``bucket_size`` indices, sorts each pool by length and cuts it into batches, then shuffles the
    order of all batches: batches are random but their members have similar lengths. With
    ``shuffle=False`` (evaluation) all indices are sorted by length (stable) and cut in order.
    ``bucket_size`` is a multiple of ``batch_size``, so at most one batch is incomplete and
    ``len(sampler)`` is exact: ``ceil(N / batch_size)``, or ``floor`` with ``drop_last``.

    Use as ``DataLoader(ds, batch_sampler=BucketBatchSampler(lengths, 32), collate_fn=collate)``.

    Args:
        lengths: the length of every item in the dataset, in dataset order.
        batch_size: indices per batch.
        shuffle: random batches (as above) or a deterministic, length-sorted order.
        drop_last: drop the incomplete batch, if any.
        bucket_size: indices per pool; default ``100 * batch_size``. Smaller pools are more random,
            larger ones pad less.
        generator: the :class:`torch.Generator` to draw from; default torch's global generator, so
            ``lstmkit.runtime.seed_everything`` makes the order reproducible.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        bucket_size: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if bucket_size is None:
            bucket_size = 100 * batch_size
        if not isinstance(bucket_size, int) or bucket_size < batch_size or bucket_size % batch_size:
            raise ValueError(
                f"bucket_size must be a positive multiple of batch_size={batch_size}, got {bucket_size!r}"
            )
        self.lengths = torch.as_tensor(np.asarray(lengths, dtype=np.int64))
        if self.lengths.ndim != 1 or len(self.lengths) == 0:
            raise ValueError("lengths must be a non-empty 1-D sequence of integers")
        if int(self.lengths.min()) < 0:
            raise DataError(f"lengths must be non-negative, found {int(self.lengths.min())}")
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.bucket_size = bucket_size
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.lengths)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n = len(self.lengths)
        if not self.shuffle:
            order = torch.argsort(self.lengths, stable=True)
            batches = list(torch.split(order, self.batch_size))
        else:
            perm = torch.randperm(n, generator=self.generator)
            batches = []
            for pool in torch.split(perm, self.bucket_size):
                pool = pool[torch.argsort(self.lengths[pool], stable=True)]
                batches.extend(torch.split(pool, self.batch_size))
        if self.drop_last and batches and len(batches[-1]) < self.batch_size:
            # Only the last pool can hold an incomplete batch, and it is the last one cut.
            batches = batches[:-1]
        if self.shuffle:
            batches = [batches[int(i)] for i in torch.randperm(len(batches), generator=self.generator)]
        for b in batches:
            yield b.tolist()


class LabelledSequences(torch.utils.data.Dataset):
    """Sequences of different lengths, each with one class index: items ``(x_i, y_i)`` for
    :func:`collate_labelled` (a text's token ids, a clip's frames, a sensor recording)."""

    def __init__(self, sequences: Sequence[torch.Tensor], labels: Sequence[int] | np.ndarray):
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        self.sequences, self.labels = list(sequences), torch.as_tensor(np.asarray(labels), dtype=torch.int64)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, i):
        return self.sequences[i], self.labels[i]


def collate_labelled(batch: Sequence[Any]) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
    """``collate_fn`` for :class:`LabelledSequences`: ``((x_padded, lengths), y)``, the model's input
    first, as :class:`lstmkit.train.Trainer` splits a batch into inputs and targets."""
    x, lengths, y = collate(batch)
    return (x, lengths), y
