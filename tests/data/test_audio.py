"""Audio in: resampling against the equation summed directly (and scipy), files through soundfile, raw PCM streams."""
import io
import math
import sys

import numpy as np
import pytest

from lstmkit.data.audio import StreamingResampler, read_audio, read_pcm, resample, write_audio
from lstmkit.errors import ConfigError, DataError, InputFileError, MissingDependencyError


def direct_resample(x, orig_rate, new_rate, zero_crossings=6, rolloff=0.99):
    """The resampling equation summed term by term in float64 (no polyphase table, no gcd)."""
    cutoff = rolloff * min(orig_rate, new_rate)  # 2 f_c in Hz
    count = math.ceil(len(x) * new_rate / orig_rate)
    i = np.arange(len(x))
    out = np.empty(count)
    for j in range(count):
        tau = cutoff * (i / orig_rate - j / new_rate)
        weight = np.where(np.abs(tau) < zero_crossings,
                          np.sinc(tau) * np.cos(np.pi * tau / (2 * zero_crossings)) ** 2, 0.0)
        out[j] = cutoff / orig_rate * np.dot(weight, x)
    return out


def tone(freq, rate, seconds, phase=0.3):
    return np.sin(2 * np.pi * freq * np.arange(round(rate * seconds)) / rate + phase)


@pytest.mark.parametrize("orig_rate,new_rate", [(22050, 16000), (8000, 16000), (44100, 16000), (16000, 22050),
                                                (11025, 8000), (16001, 16000)])
def test_resample_matches_the_equation_summed_directly(orig_rate, new_rate):
    x = np.random.default_rng(0).standard_normal(300)
    np.testing.assert_allclose(resample(x, orig_rate, new_rate), direct_resample(x, orig_rate, new_rate),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("orig_rate", [8000, 22050, 44100])
@pytest.mark.parametrize("freq", [440.0, 1000.0])
def test_a_tone_below_nyquist_survives(orig_rate, freq):
    y = resample(tone(freq, orig_rate, 0.5), orig_rate, 16000)
    expected = tone(freq, 16000, len(y) / 16000)
    # Amplitude and phase: the samples themselves, away from the zero-padded edges.
    assert np.abs(y - expected)[100:-100].max() < 1e-3


@pytest.mark.parametrize("orig_rate,freq", [(22050, 11000.0), (44100, 12000.0), (48000, 15000.0)])
def test_a_tone_above_the_new_nyquist_is_removed(orig_rate, freq):
    y = resample(tone(freq, orig_rate, 0.5), orig_rate, 16000)
    rms = np.sqrt(np.mean(y[100:-100] ** 2))
    assert 20 * np.log10(rms / np.sqrt(0.5)) < -40


@pytest.mark.parametrize("n", [0, 1, 2, 440, 441, 1000, 22050])
def test_resampled_length_is_ceil_n_new_over_orig(n):
    x = np.ones(n, dtype=np.float32)
    y = resample(x, 22050, 16000)
    assert len(y) == math.ceil(n * 16000 / 22050) and y.dtype == np.float32


def test_equal_rates_return_the_input():
    x = np.random.default_rng(1).standard_normal(1000).astype(np.float32)
    assert resample(x, 16000, 16000) is x


def test_channels_first_are_resampled_each_on_its_own():
    x = np.random.default_rng(2).standard_normal((2, 500))
    y = resample(x, 44100, 16000)
    np.testing.assert_allclose(y, np.stack([resample(x[0], 44100, 16000), resample(x[1], 44100, 16000)]), atol=1e-12)


@pytest.mark.parametrize("orig_rate,new_rate", [(22050, 16000), (8000, 16000), (44100, 16000), (16000, 8000)])
def test_resample_agrees_with_scipy_resample_poly(orig_rate, new_rate):
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(0)
    t = np.arange(orig_rate // 2) / orig_rate
    # Tones well inside the pass band, where both filters are flat (they differ in the transition band).
    freqs = rng.uniform(50, 0.35 * min(orig_rate, new_rate) / 2, 6)
    x = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f in freqs) / len(freqs)
    gcd = math.gcd(orig_rate, new_rate)
    expected = signal.resample_poly(x, new_rate // gcd, orig_rate // gcd)
    y = resample(x, orig_rate, new_rate)
    assert len(y) == len(expected)
    assert np.abs(y - expected)[100:-100].max() < 2e-3


@pytest.mark.parametrize("chunk", [1, 37, 160, 4000])
@pytest.mark.parametrize("orig_rate,new_rate", [(22050, 16000), (8000, 16000)])
def test_streaming_resampler_equals_offline(chunk, orig_rate, new_rate):
    x = np.random.default_rng(3).standard_normal(orig_rate // 4).astype(np.float32)
    resampler = StreamingResampler(orig_rate, new_rate)
    parts = [resampler.push(x[i:i + chunk]) for i in range(0, len(x), chunk)] + [resampler.flush()]
    np.testing.assert_allclose(np.concatenate(parts), resample(x, orig_rate, new_rate), rtol=0, atol=1e-7)


def test_resample_refuses_bad_rates():
    with pytest.raises(ConfigError, match="orig_rate must be a positive whole number"):
        resample(np.zeros(10), 0, 16000)
    with pytest.raises(ConfigError, match="new_rate must be a positive whole number"):
        resample(np.zeros(10), 16000, 16000.5)


# ---- files

@pytest.fixture
def soundfile():
    return pytest.importorskip("soundfile", reason="pip install 'lstmkit[speech]'")


@pytest.mark.parametrize("rate,channels", [(8000, 1), (22050, 1), (44100, 2)])
def test_read_audio_round_trip_through_write_audio(soundfile, tmp_path, rate, channels):
    rng = np.random.default_rng(rate)
    x = 0.5 * tone(440.0, rate, 0.3)[:, None] + 0.1 * rng.standard_normal((round(rate * 0.3), channels))
    path = write_audio(tmp_path / "a.wav", x if channels > 1 else x[:, 0], rate)
    quantised = np.round(x * 32768) / 32768  # what 16-bit PCM holds
    mono = quantised.mean(axis=1)
    # At its own rate the file reads back to the quantised samples exactly (float32 rounding of the mean).
    np.testing.assert_allclose(read_audio(path, rate), mono, rtol=0, atol=1e-7)
    at_16k = read_audio(path)
    assert at_16k.dtype == np.float32 and at_16k.ndim == 1
    assert len(at_16k) == math.ceil(len(x) * 16000 / rate)
    np.testing.assert_allclose(at_16k, resample(mono, rate, 16000), rtol=0, atol=1e-6)


def test_integer_pcm_is_scaled_to_minus_one_one(soundfile, tmp_path):
    pcm = np.array([-32768, -16384, -1, 0, 1, 16384, 32767], dtype=np.int16)
    soundfile.write(tmp_path / "int.wav", pcm, 16000, subtype="PCM_16")
    x = read_audio(tmp_path / "int.wav")
    np.testing.assert_array_equal(x, pcm / 32768.0)
    assert x.min() == -1.0 and x.max() < 1.0


def test_flac_and_ogg_are_read(soundfile, tmp_path):
    x = 0.5 * tone(300.0, 16000, 0.5)
    write_audio(tmp_path / "a.flac", x, 16000)
    np.testing.assert_allclose(read_audio(tmp_path / "a.flac"), x, rtol=0, atol=1 / 32768)
    soundfile.write(tmp_path / "a.ogg", x, 16000, format="OGG", subtype="VORBIS")
    y = read_audio(tmp_path / "a.ogg")  # lossy: the tone comes back, not the samples
    assert abs(len(y) - len(x)) < 100
    assert np.corrcoef(y[:len(x)][1000:-1000], x[:len(y)][1000:-1000])[0, 1] > 0.99


def test_bad_audio_files_give_one_line_each(soundfile, tmp_path):
    with pytest.raises(InputFileError, match=r"missing\.wav: no such audio file"):
        read_audio(tmp_path / "missing.wav")
    with pytest.raises(InputFileError, match="is a directory, not an audio file"):
        read_audio(tmp_path)
    (tmp_path / "text.wav").write_text("not audio\n")
    with pytest.raises(DataError, match=r"text\.wav: not a readable audio file \(libsndfile: Format not recognised\); "
                                        r"lstmkit reads WAV, FLAC and OGG"):
        read_audio(tmp_path / "text.wav")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    with pytest.raises(DataError, match=r"empty\.wav: the audio holds no samples \(0 s at 16000 Hz\)"):
        read_audio(tmp_path / "empty.wav")
    soundfile.write(tmp_path / "nan.wav", np.full((100, 2), np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"nan\.wav: every sample is NaN or infinite"):
        read_audio(tmp_path / "nan.wav")
    some = np.zeros(16000, dtype=np.float32)
    some[8000] = np.inf
    soundfile.write(tmp_path / "inf.wav", some, 16000, subtype="FLOAT")
    with pytest.raises(DataError, match=r"inf\.wav: 1 of 16000 samples are NaN or infinite \(the first at 0\.500 s\)"):
        read_audio(tmp_path / "inf.wav")
    with pytest.raises(ConfigError, match="sample_rate must be a positive whole number"):
        read_audio(tmp_path / "nan.wav", sample_rate=0)


def test_write_audio_refuses_what_16_bit_pcm_cannot_hold(soundfile, tmp_path):
    with pytest.raises(DataError, match=r"must be finite and lie in \[-1, 1\].*values up to 1\.5"):
        write_audio(tmp_path / "loud.wav", np.array([0.0, 1.5]), 16000)
    with pytest.raises(DataError, match=r"cannot write audio with extension '\.mp3'; use \.wav or \.flac"):
        write_audio(tmp_path / "a.mp3", np.zeros(10), 16000)
    with pytest.raises(DataError, match="non-empty numeric array"):
        write_audio(tmp_path / "a.wav", np.zeros(0), 16000)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_missing_soundfile_names_the_extra(tmp_path, monkeypatch):
    (tmp_path / "a.wav").write_bytes(b"RIFF")
    monkeypatch.setitem(sys.modules, "soundfile", None)  # makes `import soundfile` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'lstmkit\[speech\]'"):
        read_audio(tmp_path / "a.wav")


# ---- raw PCM streams

class Trickle(io.RawIOBase):
    """A binary stream that hands out its bytes in pieces of varying size, as a pipe does."""

    def __init__(self, data: bytes, sizes=(1, 3, 1000, 7, 2)):
        self.data, self.position, self.sizes, self.calls = data, 0, sizes, 0

    def readable(self):
        return True

    def read(self, n=-1):
        size = min(n, self.sizes[self.calls % len(self.sizes)])
        self.calls += 1
        piece = self.data[self.position:self.position + size]
        self.position += len(piece)
        return piece


def test_read_pcm_reassembles_samples_split_across_reads():
    pcm = np.random.default_rng(4).integers(-32768, 32767, 1001, dtype=np.int16)
    chunks = list(read_pcm(Trickle(pcm.astype("<i2").tobytes()), 16000, chunk_samples=160))
    assert [len(c) for c in chunks] == [160] * 6 + [41]
    assert all(c.dtype == np.float32 for c in chunks)
    np.testing.assert_array_equal(np.concatenate(chunks), pcm / 32768.0)


@pytest.mark.parametrize("dtype,scale,offset", [("int32", 2.0 ** -31, 0), ("float32", 1.0, 0), ("uint8", 1 / 128, 128)])
def test_read_pcm_formats_and_channels(dtype, scale, offset):
    rng = np.random.default_rng(5)
    numpy_dtype = {"int32": "<i4", "float32": "<f4", "uint8": "u1"}[dtype]
    if dtype == "float32":
        samples = rng.uniform(-1, 1, (300, 2)).astype(numpy_dtype)
    else:
        info = np.iinfo(numpy_dtype)
        samples = rng.integers(info.min, info.max, (300, 2), dtype=numpy_dtype)
    chunks = list(read_pcm(Trickle(samples.tobytes()), 8000, dtype=dtype, channels=2, chunk_samples=128))
    expected = ((samples.astype(np.float64) - offset) * scale).mean(axis=1)
    np.testing.assert_allclose(np.concatenate(chunks), expected, rtol=1e-6, atol=1e-7)


def test_read_pcm_resamples_as_it_goes():
    x = np.random.default_rng(6).uniform(-0.5, 0.5, 4410)
    pcm = np.round(x * 32768).astype("<i2")
    chunks = list(read_pcm(io.BytesIO(pcm.tobytes()), 22050, chunk_samples=441, target_rate=16000))
    np.testing.assert_allclose(np.concatenate(chunks), resample(pcm / 32768.0, 22050, 16000), rtol=0, atol=1e-6)


def test_read_pcm_bad_streams():
    with pytest.raises(DataError, match=r"ended inside a sample: 7 bytes are not a whole number of 1-channel int16 "
                                        r"samples \(2 bytes each\)"):
        list(read_pcm(io.BytesIO(b"\x00" * 7), 16000))
    with pytest.raises(DataError, match=r"ended inside a sample: 6 bytes .* 2-channel int16 samples \(4 bytes each\)"):
        list(read_pcm(io.BytesIO(b"\x00" * 6), 16000, channels=2))
    with pytest.raises(DataError, match=r"the PCM stream held no samples"):
        list(read_pcm(io.BytesIO(b""), 16000))
    with pytest.raises(DataError, match="NaN, infinite or huge samples"):
        list(read_pcm(io.BytesIO(np.array([0.0, np.nan], dtype="<f4").tobytes()), 16000, dtype="float32"))
    int16_read_as_float = np.array([1000, -2000, 3000, 12000], dtype="<i2").tobytes()
    with pytest.raises(DataError, match=r"is it int16\? pass --pcm int16"):
        list(read_pcm(io.BytesIO(int16_read_as_float * 50), 16000, dtype="float32"))
    with pytest.raises(DataError, match="starts like a WAV file, not raw PCM; pass the file's path"):
        list(read_pcm(io.BytesIO(b"RIFF" + b"\x00" * 40), 16000))
    with pytest.raises(ConfigError, match=r"dtype must be one of int16, int32, float32, uint8"):
        list(read_pcm(io.BytesIO(b"\x00\x00"), 16000, dtype="s16le"))
    with pytest.raises(ConfigError, match="channels must be a positive whole number"):
        list(read_pcm(io.BytesIO(b"\x00\x00"), 16000, channels=0))


def test_reading_a_file_in_blocks_equals_reading_it_whole(tmp_path):
    pytest.importorskip("soundfile")
    from lstmkit.data.audio import read_audio, read_audio_blocks, write_audio

    rng = np.random.default_rng(0)
    for rate in (16000, 8000, 22050):
        path = write_audio(tmp_path / f"x{rate}.wav", rng.uniform(-0.5, 0.5, (rate // 3, 2)), rate)
        whole = read_audio(path, 16000)
        blocks = list(read_audio_blocks(path, 16000, block_samples=700))
        assert len(blocks) > 3
        np.testing.assert_allclose(np.concatenate(blocks), whole, atol=1e-6)
    (tmp_path / "bad.wav").write_text("not audio")
    with pytest.raises(DataError, match="bad.wav: not a readable audio file"):
        list(read_audio_blocks(tmp_path / "bad.wav"))
