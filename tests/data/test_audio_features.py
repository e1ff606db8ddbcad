"""Speech features against NumPy written from the formulas (mel filterbank, per-frame DFT, DCT); streaming,
batches, normalisation and SpecAugment."""
import numpy as np
import pytest
import torch

from lstmkit.data.audio_features import (
    FeatureConfig,
    StreamingFeatures,
    features,
    fit_feature_stats,
    mel_filterbank,
    normalize_utterance,
    num_frames,
    spec_augment,
)
from lstmkit.errors import ConfigError, DataError


def htk_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate):
    """Triangles on the HTK mel scale, one band and one bin at a time."""
    def mel(f):
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def hz(m):
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)

    low, high = mel(f_min), mel(f_max)
    edges = [hz(low + (high - low) * i / (n_mels + 1)) for i in range(n_mels + 2)]
    bank = np.zeros((n_freqs, n_mels))
    for k in range(n_freqs):
        f = k * (sample_rate / 2) / (n_freqs - 1)
        for m in range(n_mels):
            left, centre, right = edges[m], edges[m + 1], edges[m + 2]
            if left < f <= centre:
                bank[k, m] = (f - left) / (centre - left)
            elif centre < f < right:
                bank[k, m] = (right - f) / (right - centre)
    return bank


def numpy_log_mel(x, config):
    """Pre-emphasis, then for each frame a periodic Hann window and a DFT summed term by term."""
    x = np.asarray(x, dtype=np.float64)
    x = x - config.preemphasis * np.concatenate([[0.0], x[:-1]])
    win, hop, n_fft = config.win_length, config.hop_length, config.n_fft
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(win) / win)  # periodic: period win, not win - 1
    n = np.arange(win)
    bank = htk_filterbank(n_fft // 2 + 1, config.f_min, config.top_frequency, config.n_mels, config.sample_rate)
    rows = []
    for start in range(0, len(x) - win + 1, hop):
        frame = window * x[start:start + win]
        power = np.array([abs(np.sum(frame * np.exp(-2j * np.pi * f * n / n_fft))) ** 2 for f in range(n_fft // 2 + 1)])
        rows.append(np.log(power @ bank + 1e-6))
    return np.array(rows).reshape(-1, config.n_mels)


def speechlike(seconds=0.25, rate=16000, seed=0):
    """Harmonics of a wandering pitch plus a little noise: a spectrum with structure in every band."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(pitch) / rate
    x = sum(np.sin(h * phase) / h for h in range(1, 20)) * 0.2 + 0.01 * rng.standard_normal(len(t))
    return x


@pytest.mark.parametrize("n_fft,f_min,f_max,n_mels,rate", [(512, 20.0, 8000.0, 40, 16000), (256, 0.0, 3800.0, 23, 8000),
                                                           (1024, 64.0, 7600.0, 80, 16000)])
def test_mel_filterbank_matches_the_htk_formulas(n_fft, f_min, f_max, n_mels, rate):
    n_freqs = n_fft // 2 + 1
    ours = mel_filterbank(n_freqs, f_min, f_max, n_mels, rate, dtype=torch.float64)
    assert ours.shape == (n_freqs, n_mels)
    np.testing.assert_allclose(ours.numpy(), htk_filterbank(n_freqs, f_min, f_max, n_mels, rate), rtol=0, atol=1e-12)
    assert mel_filterbank(n_freqs, f_min, f_max, n_mels, rate).dtype == torch.float32


@pytest.mark.parametrize("config", [FeatureConfig(),
                                    FeatureConfig(sample_rate=8000, n_fft=256, n_mels=23, f_max=3800.0),
                                    FeatureConfig(preemphasis=0.0, f_min=0.0, n_mels=26)], ids=["16k", "8k", "plain"])
def test_log_mel_matches_a_numpy_dft_per_frame(config):
    x = speechlike(0.08, config.sample_rate)
    ours = features(torch.tensor(x), config)  # float64 in, float64 out
    expected = numpy_log_mel(x, config)
    assert ours.dtype == torch.float64 and ours.shape == expected.shape == (num_frames(len(x), config), config.n_mels)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-9)


def test_mfcc_is_the_orthonormal_dct_of_log_mel():
    config = FeatureConfig(kind="mfcc", n_mfcc=13)
    x = torch.tensor(speechlike())
    log_mels = features(x, FeatureConfig()).numpy()
    try:
        from scipy.fft import dct

        expected = dct(log_mels, type=2, norm="ortho", axis=-1)[:, :13]
    except ImportError:  # the same transform as a matrix: D[c, m] = s_c cos(pi c (m + 1/2) / M)
        m = log_mels.shape[1]
        d = np.array([[np.sqrt((1 if c == 0 else 2) / m) * np.cos(np.pi * c * (k + 0.5) / m) for k in range(m)]
                      for c in range(13)])
        expected = log_mels @ d.T
    ours = features(x, config)
    assert ours.shape == (num_frames(len(x), config), 13)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=0, atol=1e-9)


def test_a_tone_peaks_in_the_band_centred_nearest_it():
    config = FeatureConfig(preemphasis=0.0)
    edges = 700 * (10 ** (np.linspace(2595 * np.log10(1 + 20 / 700), 2595 * np.log10(1 + 8000 / 700), 42) / 2595) - 1)
    for freq in (300.0, 1000.0, 3000.0):
        x = np.sin(2 * np.pi * freq * np.arange(4000) / 16000).astype(np.float32)
        band = features(x, config).mean(0).argmax().item()
        assert band == np.argmin(np.abs(edges[1:-1] - freq))


def test_num_frames_and_short_waveforms():
    config = FeatureConfig()  # 400-sample window, 160-sample hop
    assert [num_frames(n, config) for n in (0, 399, 400, 559, 560, 16000)] == [0, 0, 1, 1, 2, 98]
    assert num_frames(torch.tensor([0, 399, 400, 560, 16000]), config).tolist() == [0, 0, 1, 2, 98]
    assert features(torch.zeros(399), config).shape == (0, 40)
    assert features(torch.zeros(2, 100), config).shape == (2, 0, 40)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
@pytest.mark.parametrize("chunk", [1, 37, 160, 4000])
def test_streaming_equals_offline(kind, chunk):
    config = FeatureConfig(kind=kind)
    x = speechlike(0.3)  # 4800 samples: the 4000-sample chunks split it too
    for dtype, atol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        whole = features(torch.tensor(x, dtype=dtype), config)
        stream = StreamingFeatures(config)
        pieces = [stream.push(torch.tensor(x[i:i + chunk], dtype=dtype)) for i in range(0, len(x), chunk)]
        assert all(p.shape[1] == config.num_features for p in pieces)
        got = torch.cat(pieces)
        assert got.shape == whole.shape and stream.frames_emitted == len(whole) and stream.samples_seen == len(x)
        torch.testing.assert_close(got, whole, rtol=0, atol=atol)


def test_streaming_takes_numpy_and_resets():
    config = FeatureConfig()
    x = speechlike(0.2).astype(np.float32)
    stream = StreamingFeatures(config)
    first = torch.cat([stream.push(x[:1000]), stream.push(x[1000:])])
    stream.reset()
    again = torch.cat([stream.push(x[:2345]), stream.push(x[2345:])])
    torch.testing.assert_close(first, again, rtol=0, atol=1e-5)
    torch.testing.assert_close(first, features(x, config), rtol=0, atol=1e-5)


@pytest.mark.parametrize("kind", ["logmel", "mfcc"])
def test_a_batch_equals_its_utterances_one_by_one(kind):
    config = FeatureConfig(kind=kind)
    lengths = [4000, 2500, 401]
    waves = [speechlike(n / 16000, seed=i) for i, n in enumerate(lengths)]
    batch = torch.zeros(3, max(lengths), dtype=torch.float32)
    for i, w in enumerate(waves):
        batch[i, :len(w)] = torch.tensor(w)
    out = features(batch, config)
    frames = num_frames(torch.tensor(lengths), config)
    assert out.shape == (3, num_frames(max(lengths), config), config.num_features)
    for i, w in enumerate(waves):
        single = features(torch.tensor(w, dtype=torch.float32), config)
        assert len(single) == frames[i]
        # center=False: an utterance's own frames never read the pads after it.
        torch.testing.assert_close(out[i, :frames[i]], single, rtol=0, atol=1e-5)


def test_normalize_utterance_ignores_pads():
    rng = torch.Generator().manual_seed(0)
    feats = torch.randn(3, 50, 4, generator=rng, dtype=torch.float64) * 3 + 5
    lengths = torch.tensor([50, 20, 1])
    feats[1, 20:] = 1e6  # pads that must not reach the statistics
    out = normalize_utterance(feats, lengths)
    for i, n in enumerate(lengths.tolist()):
        real = feats[i, :n]
        expected = (real - real.mean(0)) / torch.sqrt(real.var(0, unbiased=False) + 1e-5)
        torch.testing.assert_close(out[i, :n], expected)
        assert (out[i, n:] == 0).all()
        torch.testing.assert_close(normalize_utterance(feats[i, :n]), expected)
    with pytest.raises(DataError, match=r"lengths must lie in \[0, 50\]"):
        normalize_utterance(feats, torch.tensor([51, 1, 1]))


def test_fit_feature_stats_over_all_frames():
    rng = np.random.default_rng(0)
    utterances = [rng.normal(2.0, 3.0, (n, 5)).astype(np.float32) for n in (10, 33, 1, 0)]
    utterances[0][:, 4] = 7.0  # a constant feature in one utterance is not constant overall
    mean, std = fit_feature_stats([torch.tensor(u) for u in utterances])
    everything = np.concatenate(utterances)
    np.testing.assert_allclose(mean.numpy(), everything.mean(0), rtol=1e-6)
    np.testing.assert_allclose(std.numpy(), everything.std(0), rtol=1e-6)
    assert mean.dtype == std.dtype == torch.float32 and mean.shape == (5,)
    _, constant = fit_feature_stats([np.ones((4, 2))])
    assert (constant == 1e-5).all()
    with pytest.raises(DataError, match="needs at least one utterance"):
        fit_feature_stats([])
    with pytest.raises(DataError, match="only empty utterances"):
        fit_feature_stats([np.zeros((0, 3))])
    with pytest.raises(DataError, match=r"\(T, F\) arrays with one F"):
        fit_feature_stats([np.zeros((2, 3)), np.zeros((2, 4))])


def masked_runs(row_mask):
    """Lengths of the runs of True in a 1-D boolean array."""
    runs, current = [], 0
    for value in row_mask.tolist() + [False]:
        if value:
            current += 1
        elif current:
            runs.append(current)
            current = 0
    return runs


def test_spec_augment_time_masks_stay_within_each_length_and_bound():
    lengths = torch.tensor([100, 60, 7, 0])
    widths_seen = []
    for seed in range(60):
        feats = torch.full((4, 100, 10), 7.0)  # nothing is 0 before masking
        out = spec_augment(feats, time_masks=2, time_width=0.1, freq_masks=0, lengths=lengths,
                           generator=torch.Generator().manual_seed(seed))
        masked = out == 0
        assert (out[~masked] == 7.0).all()
        for i, n in enumerate(lengths.tolist()):
            rows = masked[i].all(1)
            assert (masked[i].any(1) == rows).all()  # a time mask covers whole frames
            assert not rows[n:].any()  # never a pad
            bound = int(0.1 * n)
            runs = masked_runs(rows[:n])
            assert sum(runs) <= 2 * bound and len(runs) <= 2
            widths_seen += runs if i == 0 else []
    assert max(widths_seen) >= 8  # the widths do reach up to the bound (10 frames for 100)
    # An int is a number of frames, capped by the utterance's length.
    out = spec_augment(torch.ones(1, 50, 3), time_masks=1, time_width=80, freq_masks=0,
                       generator=torch.Generator().manual_seed(1))
    assert 0 < masked_runs((out[0] == 0).all(1))[0] <= 50


def test_spec_augment_frequency_masks_stay_within_bounds_and_lengths():
    lengths = torch.tensor([30, 12])
    widths_seen = []
    for seed in range(60):
        feats = torch.full((2, 30, 40), 3.0)
        feats[1, 12:] = -1.0  # pads
        out = spec_augment(feats, time_masks=0, freq_masks=2, freq_width=8, lengths=lengths,
                           generator=torch.Generator().manual_seed(seed))
        assert (out[1, 12:] == -1.0).all()
        for i, n in enumerate(lengths.tolist()):
            columns = (out[i, :n] == 0).all(0)
            assert ((out[i, :n] == 0).any(0) == columns).all()  # a frequency mask covers every real frame
            runs = masked_runs(columns)
            assert sum(runs) <= 16 and len(runs) <= 2
            widths_seen += runs
    assert max(widths_seen) >= 7


def test_spec_augment_single_utterance_seeded_and_checked():
    feats = torch.randn(200, 40) + 10
    first = spec_augment(feats, generator=torch.Generator().manual_seed(3))
    again = spec_augment(feats, generator=torch.Generator().manual_seed(3))
    assert first.shape == feats.shape and torch.equal(first, again) and (feats != 0).all()  # input untouched
    assert (first == 0).any()
    assert torch.equal(spec_augment(feats, time_masks=0, freq_masks=0), feats)
    with pytest.raises(ConfigError, match=r"time_width must be a share of the utterance in \[0, 1\]"):
        spec_augment(feats, time_width=1.5)
    with pytest.raises(ConfigError, match="freq_masks must be 0 or a positive integer"):
        spec_augment(feats, freq_masks=-1)
    with pytest.raises(DataError, match=r"lengths must be 2 integers"):
        spec_augment(feats[None].expand(2, -1, -1), lengths=torch.tensor([1.0, 2.0]))


def test_feature_config_round_trip_and_checks():
    config = FeatureConfig(kind="mfcc", f_max=3800.0)
    assert FeatureConfig.from_dict(config.to_dict()) == config
    assert (config.win_length, config.hop_length, config.num_features) == (400, 160, 13)
    bad = [
        ({"kind": "fbank"}, "kind must be one of logmel, mfcc"),
        ({"n_fft": 256}, r"n_fft \(256\) must be at least the window length \(400 samples"),
        ({"f_max": 9000.0}, r"0 <= f_min < f_max <= 8000 Hz"),
        ({"f_min": 500.0, "f_max": 400.0}, "f_min < f_max"),
        ({"kind": "mfcc", "n_mfcc": 50}, r"n_mfcc \(50\) cannot exceed n_mels \(40\)"),
        ({"preemphasis": 1.0}, r"preemphasis must lie in \[0, 1\)"),
        ({"n_mels": 0}, "n_mels must be a positive integer"),
        ({"hop_ms": 0}, "hop_ms must be a positive number of milliseconds"),
        ({"dither": -1.0}, "dither must be 0 or a positive"),
        ({"n_mels": 128, "n_fft": 512}, r"of the 128 mel bands fall between FFT bins .* use fewer mels"),
    ]
    for fields, message in bad:
        with pytest.raises(ConfigError, match=message):
            FeatureConfig(**fields)
    with pytest.raises(ConfigError, match="unknown fields"):
        FeatureConfig.from_dict({"n_melz": 40})


def test_features_refuse_integer_samples_and_odd_shapes():
    with pytest.raises(DataError, match="must hold float samples"):
        features(np.zeros(1000, dtype=np.int16), FeatureConfig())
    with pytest.raises(DataError, match=r"\(samples,\) or a batch \(B, samples\)"):
        features(torch.zeros(2, 2, 1000), FeatureConfig())


def test_dither_is_seeded_noise():
    config = FeatureConfig(dither=1 / 32768)
    silence = torch.zeros(1600)
    a = features(silence, config, generator=torch.Generator().manual_seed(0))
    b = features(silence, config, generator=torch.Generator().manual_seed(0))
    c = features(silence, config, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.mean() > np.log(1e-6) + 0.5  # the noise lifts the bands off the log floor
    assert (features(silence, FeatureConfig()) == torch.log(torch.tensor(1e-6))).all()
