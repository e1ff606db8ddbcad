from functools import partial

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence
from torch.utils.data import DataLoader

from lstmkit.data import (
    BucketBatchSampler,
    DataError,
    collate,
    pad_sequences,
    sequence_mask,
    unpad_sequences,
)

FAST = settings(max_examples=40, deadline=None)


@st.composite
def sequence_lists(draw):
    features = draw(st.sampled_from([(), (1,), (3,)]))
    lengths = draw(st.lists(st.integers(0, 7), min_size=1, max_size=6))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    # Values in [1, 2): never equal to the pad value 0, so pads are recognisable.
    return [1 + rng.random((n, *features)) for n in lengths]


@FAST
@given(
    seqs=sequence_lists(),
    padding=st.sampled_from(["pre", "post"]),
    truncating=st.sampled_from(["pre", "post"]),
    maxlen=st.none() | st.integers(1, 8),
    as_torch=st.booleans(),
)
def test_pad_then_unpad_returns_the_input(seqs, padding, truncating, maxlen, as_torch):
    inputs = [torch.from_numpy(s) for s in seqs] if as_torch else seqs
    padded, lengths = pad_sequences(inputs, maxlen=maxlen, padding=padding, truncating=truncating)
    steps = max(len(s) for s in seqs) if maxlen is None else maxlen
    assert padded.shape == (len(seqs), steps, *seqs[0].shape[1:])
    assert padded.dtype == torch.float64
    assert lengths.dtype == torch.int64 and lengths.device.type == "cpu"
    assert lengths.tolist() == [min(len(s), steps) for s in seqs]

    for got, s in zip(unpad_sequences(padded, lengths, padding=padding), seqs):
        n = min(len(s), steps)
        expected = s[:n] if truncating == "post" else s[len(s) - n :]
        np.testing.assert_array_equal(got.numpy(), expected)

    # The mask marks exactly the real steps: everything else is the pad value.
    mask = sequence_mask(lengths, steps, padding=padding)
    assert mask.shape == (len(seqs), steps)
    assert torch.all(padded[~mask] == 0)
    assert torch.all(padded[mask] >= 1)


def test_post_padding_matches_torch_pad_sequence():
    seqs = [torch.randn(n, 3) for n in (4, 1, 6)]
    padded, lengths = pad_sequences(seqs, value=-1.5)
    torch.testing.assert_close(padded, pad_sequence(seqs, batch_first=True, padding_value=-1.5), rtol=0, atol=0)
    # lengths are exactly what pack_padded_sequence wants; unpacking gives the same batch back.
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    unpacked, unpacked_lengths = pad_packed_sequence(packed, batch_first=True, padding_value=-1.5)
    torch.testing.assert_close(unpacked, padded, rtol=0, atol=0)
    assert unpacked_lengths.tolist() == [4, 1, 6]


def test_pre_padding_and_truncation_golden():
    padded, lengths = pad_sequences(
        [np.array([1, 2, 3, 4]), np.array([5])], maxlen=3, padding="pre", truncating="pre", value=9
    )
    assert padded.tolist() == [[2, 3, 4], [9, 9, 5]]
    assert padded.dtype == torch.int64
    assert lengths.tolist() == [3, 1]


def test_sequence_mask_golden():
    assert sequence_mask([2, 0, 3]).tolist() == [[True, True, False], [False, False, False], [True, True, True]]
    assert sequence_mask([2, 0, 3], padding="pre").tolist() == [
        [False, True, True],
        [False, False, False],
        [True, True, True],
    ]
    assert sequence_mask([1], maxlen=3).tolist() == [[True, False, False]]


def test_explicit_dtype_converts_mixed_inputs():
    padded, _ = pad_sequences([np.ones(2, np.float64), torch.ones(3, dtype=torch.float32)], dtype=torch.float32)
    assert padded.dtype == torch.float32


@pytest.mark.parametrize(
    ("sequences", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "at least one sequence"),
        (torch.zeros(2, 3), {}, TypeError, "expects a list of sequences"),
        ([np.zeros((2, 3)), np.zeros((2, 4))], {}, DataError, r"sequence 1 has shape \(2, 4\) but sequence 0 has \(2, 3\)"),
        ([np.zeros(2, np.float32), np.zeros(2, np.float64)], {}, DataError, "pass dtype= to convert"),
        ([np.zeros(2)], {"padding": "left"}, ValueError, "padding must be 'pre' or 'post'"),
        ([np.zeros(2)], {"truncating": "end"}, ValueError, "truncating must be 'pre' or 'post'"),
        ([np.zeros(2)], {"maxlen": 0}, ValueError, "maxlen must be a positive integer"),
        ([np.zeros(2, np.int64)], {"value": 0.5}, ValueError, "not representable in integer dtype"),
        ([np.array(["a", "b"])], {}, DataError, "non-numeric dtype"),
        ([np.array(1.0)], {}, DataError, "sequence 0 is a scalar"),
        ([1.0], {}, TypeError, "must be a torch.Tensor, numpy array or list"),
    ],
)
def test_pad_sequences_errors(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(sequences, **kwargs)


def test_unpad_and_mask_errors():
    padded = torch.zeros(2, 3)
    with pytest.raises(DataError, match="padded has N=2 sequences"):
        unpad_sequences(padded, [1, 2, 3])
    with pytest.raises(DataError, match=r"lengths must lie in \[0, T=3\]"):
        unpad_sequences(padded, [1, 4])
    with pytest.raises(DataError, match="a length 4 exceeds maxlen=3"):
        sequence_mask([4], maxlen=3)
    with pytest.raises(DataError, match="lengths must be integers"):
        sequence_mask(torch.tensor([1.0]))


# ---- collate and DataLoader ---------------------------------------------------------------


class _Sequences(torch.utils.data.Dataset):
    def __init__(self, lengths, features=2, per_step_targets=False):
        gen = torch.Generator().manual_seed(0)
        self.x = [torch.rand(n, features, generator=gen) + 1 for n in lengths]
        self.per_step = per_step_targets

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        y = torch.full((len(self.x[i]),), i) if self.per_step else i
        return self.x[i], y


@FAST
@given(lengths=st.lists(st.integers(1, 9), min_size=1, max_size=20), batch_size=st.integers(1, 6))
def test_collate_with_dataloader_gives_back_every_item(lengths, batch_size):
    ds = _Sequences(lengths)
    seen = []
    for x, lens, y in DataLoader(ds, batch_size=batch_size, collate_fn=collate):
        assert x.shape == (len(y), int(lens.max()), 2)
        for seq, i in zip(unpad_sequences(x, lens), y.tolist()):
            torch.testing.assert_close(seq, ds.x[i], rtol=0, atol=0)
            seen.append(i)
    assert seen == list(range(len(lengths)))


def test_collate_pads_per_step_targets_and_plain_items():
    ds = _Sequences([3, 1, 2], per_step_targets=True)
    loader = DataLoader(ds, batch_size=3, collate_fn=partial(collate, pad_targets=True, target_value=-100))
    x, lengths, y, y_lengths = next(iter(loader))
    assert y.tolist() == [[0, 0, 0], [1, -100, -100], [2, 2, -100]]
    assert lengths.tolist() == y_lengths.tolist() == [3, 1, 2]

    x, lengths = collate([torch.ones(2), torch.ones(4)])
    assert x.shape == (2, 4) and lengths.tolist() == [2, 4]
    x, lengths = collate([[1.0, 2.0], [3.0, 4.0, 5.0]])  # plain lists of numbers are sequences
    assert x.tolist() == [[1.0, 2.0, 0.0], [3.0, 4.0, 5.0]]


def test_collate_errors():
    with pytest.raises(DataError, match="pass pad_targets=True"):
        collate([(torch.ones(2), torch.ones(2)), (torch.ones(3), torch.ones(3))])
    with pytest.raises(DataError, match="some items are"):
        collate([(torch.ones(2), 0), torch.ones(3)])
    with pytest.raises(ValueError, match="empty batch"):
        collate([])


# ---- bucketing ---------------------------------------------------------------------------------


@FAST
@given(
    lengths=st.lists(st.integers(0, 50), min_size=1, max_size=80),
    batch_size=st.integers(1, 8),
    pools=st.integers(1, 4),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_bucket_sampler_covers_every_index_once(lengths, batch_size, pools, shuffle, drop_last):
    sampler = BucketBatchSampler(
        lengths, batch_size, shuffle=shuffle, drop_last=drop_last, bucket_size=pools * batch_size,
        generator=torch.Generator().manual_seed(1),
    )
    batches = list(sampler)
    assert len(batches) == len(sampler)
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))
    if drop_last:
        assert all(len(b) == batch_size for b in batches)
        assert len(flat) == len(lengths) // batch_size * batch_size
    else:
        assert sorted(flat) == list(range(len(lengths)))
        assert sum(len(b) < batch_size for b in batches) <= 1


def test_bucket_sampler_pads_less_than_random_batches():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=1000).tolist()

    def padding_waste(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    random_batches = np.array_split(rng.permutation(1000), 1000 // 20)
    bucketed = list(BucketBatchSampler(lengths, 20, generator=torch.Generator().manual_seed(0)))
    assert padding_waste(bucketed) < 0.1 * padding_waste(random_batches)
    # Without shuffling the order is fully sorted: the minimum possible padding for this batch size.
    ordered = list(BucketBatchSampler(lengths, 20, shuffle=False))
    assert [lengths[b[0]] for b in ordered] == sorted(lengths[b[0]] for b in ordered)


def test_bucket_sampler_is_reproducible_and_reshuffles_each_epoch():
    lengths = list(range(100))
    a = BucketBatchSampler(lengths, 10, bucket_size=20, generator=torch.Generator().manual_seed(3))
    b = BucketBatchSampler(lengths, 10, bucket_size=20, generator=torch.Generator().manual_seed(3))
    first = list(a)
    assert first == list(b)
    assert first != list(a)  # a second epoch draws a new order


def test_bucket_sampler_with_dataloader_and_collate():
    lengths = [5, 1, 4, 2, 3, 6, 7]
    ds = _Sequences(lengths)
    loader = DataLoader(ds, batch_sampler=BucketBatchSampler(lengths, 2, shuffle=False), collate_fn=collate)
    assert [lens.tolist() for _, lens, _ in loader] == [[1, 2], [3, 4], [5, 6], [7]]


def test_bucket_sampler_errors():
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        BucketBatchSampler([1, 2], 0)
    with pytest.raises(ValueError, match="bucket_size must be a positive multiple of batch_size=4"):
        BucketBatchSampler([1, 2], 4, bucket_size=6)
    with pytest.raises(DataError, match="lengths must be non-negative"):
        BucketBatchSampler([1, -2], 1)


def test_labelled_sequences_collate_into_model_input_and_targets():
    from lstmkit.data import LabelledSequences, collate_labelled

    data = LabelledSequences([torch.ones(3, 2), torch.full((5, 2), 2.0)], np.array([1, 0]))
    (x, lengths), y = collate_labelled([data[0], data[1]])
    assert x.shape == (2, 5, 2) and lengths.tolist() == [3, 5] and y.tolist() == [1, 0]
    assert torch.all(x[0, 3:] == 0) and torch.all(x[1] == 2)
    with pytest.raises(ValueError, match="2 sequences but 1 labels"):
        LabelledSequences([torch.ones(3, 2), torch.ones(2, 2)], [0])
