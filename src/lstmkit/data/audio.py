r"""Audio in and out as NumPy arrays: ``read_audio``, ``write_audio``, ``read_pcm`` and ``resample``.

Why soundfile (libsndfile): one small wheel that reads WAV, FLAC and OGG/Vorbis (and MP3 from
libsndfile 1.1 on) at any sample rate, with integer PCM scaled to floats the usual way. torchaudio
has no build that matches lstmkit's torch pin, and librosa brings numba, scipy and scikit-learn
(~420 MB) for what is here a few lines. soundfile is optional (``pip install 'lstmkit[speech]'``)
and imported only inside the functions that need it.

A waveform is a float32 array of samples in [-1, 1]: ``(samples,)`` mono, or ``(samples, channels)``
where several channels are kept (soundfile's layout). Everything downstream (features, models)
reads mono at one sample rate, 16 kHz by default; :func:`read_audio` averages the channels and
resamples to it.
"""
from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lstmkit.errors import ConfigError, DataError, InputFileError, MissingDependencyError
from lstmkit.files import atomic_write

__all__ = ["AUDIO_EXTENSIONS", "PCM_DTYPES", "read_audio", "read_audio_blocks", "write_audio", "read_pcm", "resample",
           "StreamingResampler"]

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg")
_READ_FORMATS = "WAV, FLAC and OGG/Vorbis (any format libsndfile knows)"
_CONTAINER_MAGIC = {b"RIFF": "WAV", b"fLaC": "FLAC", b"OggS": "OGG"}  # first bytes of files that are not raw PCM

# Raw PCM sample formats (little-endian, as arecord -f S16_LE / ffmpeg -f s16le write them) and the
# factor that takes each to [-1, 1); uint8 is offset binary (128 is silence), as in 8-bit WAV.
PCM_DTYPES = {"int16": ("<i2", 2.0 ** -15, 0), "int32": ("<i4", 2.0 ** -31, 0), "float32": ("<f4", 1.0, 0),
              "uint8": ("u1", 2.0 ** -7, 128)}

# The resampling filter (torchaudio's defaults for sinc_interp_hann): cut off at 99% of the lower
# Nyquist frequency so that the transition band ends near it, 6 zero crossings of the sinc each side.
ROLLOFF = 0.99
ZERO_CROSSINGS = 6
_BLOCK = 1 << 15  # outputs computed at a time: bounds the gathered (outputs, taps) array to a few MB


def _import_soundfile() -> Any:
    try:
        import soundfile
    except ImportError:
        raise MissingDependencyError("reading and writing audio needs soundfile: "
                                     "pip install 'lstmkit[speech]'") from None
    except OSError as error:  # the wheel is there but libsndfile could not be loaded
        raise MissingDependencyError(f"soundfile is installed but libsndfile could not be loaded ({error}); "
                                     "reinstall it: pip install --force-reinstall soundfile") from None
    return soundfile


def _check_rate(name: str, rate: Any) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < 1:
        raise ConfigError(f"{name} must be a positive whole number of samples per second, got {rate!r}")
    return int(rate)


def read_audio(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """The audio file at ``path`` as float32 mono samples at ``sample_rate``, shape (samples,).

    Integer PCM is scaled to [-1, 1) (int16 by 1/32768, libsndfile's convention); several channels
    are averaged; a file at another rate is resampled with :func:`resample`. A file that cannot be
    used (missing, not audio, no samples, NaN samples) raises a one-line error naming it.
    """
    path = Path(path)
    sample_rate = _check_rate("sample_rate", sample_rate)
    if not path.exists():
        raise InputFileError(f"{path}: no such audio file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not an audio file")
    soundfile = _import_soundfile()
    try:
        data, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)  # (samples, channels)
    except soundfile.LibsndfileError as error:  # a text file named .wav, a truncated download, ...
        raise DataError(f"{path}: not a readable audio file (libsndfile: {error.error_string.rstrip('.')}); "
                        f"lstmkit reads {_READ_FORMATS}") from None
    except (soundfile.SoundFileError, RuntimeError, TypeError) as error:  # e.g. RAW files, which need a rate
        raise DataError(f"{path}: not a readable audio file ({error}); lstmkit reads {_READ_FORMATS}") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: the audio holds no samples (0 s at {file_rate} Hz)")
    mono = data.mean(axis=1, dtype=np.float64).astype(np.float32) if data.shape[1] > 1 else data[:, 0]
    finite = np.isfinite(mono)
    if not finite.all():
        if not finite.any():
            raise DataError(f"{path}: every sample is NaN or infinite; the file holds no usable audio")
        first = int(np.argmin(finite))
        raise DataError(f"{path}: {int((~finite).sum())} of {len(mono)} samples are NaN or infinite "
                        f"(the first at {first / file_rate:.3f} s); expected finite samples")
    if file_rate != sample_rate:
        mono = resample(mono, file_rate, sample_rate)
    return np.ascontiguousarray(mono, dtype=np.float32)


def read_audio_blocks(path: str | os.PathLike, sample_rate: int = 16000, *,
                      block_samples: int = 1600) -> Iterator[np.ndarray]:
    """The audio file at ``path`` read a block at a time, as float32 mono chunks at ``sample_rate``
    (about ``block_samples`` each): what a stream transcriber is fed. Together the chunks equal
    :func:`read_audio` of the file (channels averaged; resampled chunk by chunk with
    :class:`StreamingResampler`, which gives the same samples as resampling the whole file). The same
    one-line errors as :func:`read_audio` for a file that is missing, unreadable, empty or NaN."""
    path = Path(path)
    sample_rate = _check_rate("sample_rate", sample_rate)
    block_samples = _check_rate("block_samples", block_samples)
    if not path.is_file():
        raise InputFileError(f"{path}: no such audio file" if not path.exists() else f"{path}: is not a file")
    soundfile = _import_soundfile()
    try:
        handle = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, soundfile.SoundFileError, RuntimeError, TypeError) as error:
        reason = getattr(error, "error_string", str(error)).rstrip(".")
        raise DataError(f"{path}: not a readable audio file ({reason}); lstmkit reads {_READ_FORMATS}") from None
    with handle:
        file_rate, total = handle.samplerate, 0
        resampler = StreamingResampler(file_rate, sample_rate) if file_rate != sample_rate else None
        file_block = max(1, round(block_samples * file_rate / sample_rate))
        for block in handle.blocks(blocksize=file_block, dtype="float32", always_2d=True):
            mono = block.mean(axis=1, dtype=np.float64).astype(np.float32)
            if not np.isfinite(mono).all():
                raise DataError(f"{path}: NaN or infinite samples near {total / file_rate:.3f} s; expected finite samples")
            total += len(mono)
            chunk = resampler.push(mono) if resampler is not None else mono
            if len(chunk):
                yield chunk
        if total == 0:
            raise DataError(f"{path}: the audio holds no samples (0 s at {file_rate} Hz)")
        if resampler is not None and len(tail := resampler.flush()):
            yield tail


def write_audio(path: str | os.PathLike, x: Any, sample_rate: int) -> Path:
    """Write samples in [-1, 1] (``(samples,)`` or ``(samples, channels)``) to a 16-bit PCM file, atomically.

    ``.wav`` gives WAV, ``.flac`` FLAC. Samples are quantised here as ``round(32768 x)`` (1.0 becomes
    32767), the inverse of the scaling :func:`read_audio` applies, so a written file reads back to
    within half a quantisation step (1.5e-5). Samples beyond [-1, 1] are refused rather than clipped.
    """
    path = Path(path)
    sample_rate = _check_rate("sample_rate", sample_rate)
    formats = {".wav": "WAV", ".flac": "FLAC"}
    if path.suffix.lower() not in formats:
        raise DataError(f"{path}: cannot write audio with extension {path.suffix!r}; use .wav or .flac")
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[0] == 0 or (x.ndim == 2 and x.shape[1] == 0) or x.dtype.kind not in "fiu":
        raise DataError(f"{path}: samples must be a non-empty numeric array of shape (samples,) or "
                        f"(samples, channels); got {x.dtype} of shape {x.shape}")
    x = x.astype(np.float64)
    if not np.isfinite(x).all() or np.abs(x).max() > 1:
        raise DataError(f"{path}: samples must be finite and lie in [-1, 1] to be written as 16-bit PCM; found "
                        f"values up to {np.nanmax(np.abs(x)):.3g} (divide by the peak first)")
    pcm = np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)
    soundfile = _import_soundfile()
    return atomic_write(path, lambda tmp: soundfile.write(str(tmp), pcm, sample_rate, subtype="PCM_16",
                                                          format=formats[path.suffix.lower()]))


def read_pcm(stream: BinaryIO, sample_rate: int, *, dtype: str = "int16", channels: int = 1,
             chunk_samples: int | None = None, target_rate: int | None = None) -> Iterator[np.ndarray]:
    """Float32 mono chunks from headerless PCM bytes on ``stream`` (``sys.stdin.buffer``), as they come.

    ``sample_rate`` is the stream's rate, ``dtype`` its little-endian sample format (one of
    :data:`PCM_DTYPES`: int16 as ``arecord -f S16_LE`` and ``ffmpeg -f s16le`` write, int32, float32,
    uint8), ``channels`` how many are interleaved (they are averaged). Each chunk holds
    ``chunk_samples`` samples (default a tenth of a second) except the last; a read that ends inside
    a sample keeps the partial bytes for the next read. With ``target_rate`` the chunks are resampled
    as they come (:class:`StreamingResampler`), and together equal ``resample`` of the whole stream.

    Raises DataError when the stream is empty, ends inside a sample (a wrong ``dtype`` or ``channels``)
    or holds non-finite floats.
    """
    sample_rate = _check_rate("sample_rate", sample_rate)
    if dtype not in PCM_DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(PCM_DTYPES)} (little-endian PCM), got {dtype!r}")
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or channels < 1:
        raise ConfigError(f"channels must be a positive whole number, got {channels!r}")
    chunk_samples = max(1, sample_rate // 10) if chunk_samples is None else _check_rate("chunk_samples", chunk_samples)
    resampler = None
    if target_rate is not None and _check_rate("target_rate", target_rate) != sample_rate:
        resampler = StreamingResampler(sample_rate, target_rate)
    numpy_dtype, scale, offset = PCM_DTYPES[dtype]
    frame_bytes = np.dtype(numpy_dtype).itemsize * channels
    pending = b""  # bytes of an incomplete sample (or channel frame) from the last read
    total = 0
    while True:
        data = stream.read(chunk_samples * frame_bytes - len(pending))
        if isinstance(data, str):
            raise TypeError("read_pcm needs a binary stream (sys.stdin.buffer, open(path, 'rb')), not a text one")
        if total == 0 and not pending and data[:4] in _CONTAINER_MAGIC:
            raise DataError(f"the stream starts like a {_CONTAINER_MAGIC[data[:4]]} file, not raw PCM; pass the "
                            "file's path instead of '-'")
        if data:
            pending += data
            whole = len(pending) - len(pending) % frame_bytes
            if whole < chunk_samples * frame_bytes:
                continue  # a short read (a pipe): wait for the rest of the chunk
        else:  # end of stream
            if len(pending) % frame_bytes:
                raise DataError(f"the PCM stream ended inside a sample: {total * frame_bytes + len(pending)} bytes are "
                                f"not a whole number of {channels}-channel {dtype} samples ({frame_bytes} bytes each); "
                                "check the sample format and the channel count")
            if not pending:
                break
            whole = len(pending)
        samples = np.frombuffer(pending[:whole], dtype=numpy_dtype).reshape(-1, channels)
        pending = pending[whole:]
        with np.errstate(invalid="ignore", over="ignore"):  # bytes of another format read as floats
            chunk = (samples.astype(np.float64) - offset) * scale
        if not np.isfinite(chunk).all() or (dtype == "float32" and np.abs(chunk).max(initial=0) > 8):
            raise DataError(f"the PCM stream holds NaN, infinite or huge samples near second {total / sample_rate:.2f}; "
                            f"expected {dtype} samples in [-1, 1] (is it int16? pass --pcm int16)")
        total += len(chunk)
        chunk = chunk.mean(axis=1).astype(np.float32)
        if resampler is not None:
            chunk = resampler.push(chunk)
        if len(chunk):
            yield chunk
        if not data:
            break
    if total == 0:
        raise DataError("the PCM stream held no samples (0 bytes of audio)")
    if resampler is not None:
        tail = resampler.flush()
        if len(tail):
            yield tail


@functools.lru_cache(maxsize=32)
def _sinc_kernel(orig: int, new: int) -> tuple[np.ndarray, np.ndarray, int]:
    """The polyphase filter for gcd-reduced rates ``orig -> new``: ``(kernel (new, K), offsets (new,), width)``.

    Output phase ``p`` reads input samples ``offsets[p] - width + m``, ``m = 0..K-1``, of its block.
    """
    cutoff = ROLLOFF * min(orig, new)  # 2 f_c in units of the reduced rates
    width = math.ceil(ZERO_CROSSINGS * orig / cutoff)  # half the filter's reach, in input samples
    phases = np.arange(new)
    offsets = phases * orig // new  # floor of each phase's position in the input
    taps = np.arange(-width, width + 2)  # relative to offsets[p]: covers |i - position| < width on both sides
    # t = 2 f_c (t_in - t_out): distance from the output instant in zero crossings of the sinc.
    t = (offsets[:, None] + taps[None, :] - phases[:, None] * orig / new) * cutoff / orig
    t = np.clip(t, -ZERO_CROSSINGS, ZERO_CROSSINGS)
    window = np.cos(np.pi * t / (2 * ZERO_CROSSINGS)) ** 2  # Hann, zero at the clip
    kernel = np.sinc(t) * window * (cutoff / orig)
    kernel.setflags(write=False)
    offsets.setflags(write=False)
    return kernel, offsets, width


def _reduced(orig_rate: int, new_rate: int) -> tuple[int, int]:
    gcd = math.gcd(orig_rate, new_rate)
    return orig_rate // gcd, new_rate // gcd


def _resample_outputs(x: np.ndarray, first: int, outputs: np.ndarray, orig: int, new: int) -> np.ndarray:
    """Outputs ``outputs`` (indices) of the resampled signal from ``x = signal[..., first:first + n]``.

    Samples outside ``x`` count as zero: before the signal's start and after its end that is the
    definition; a caller streaming the signal only asks for outputs whose taps lie inside ``x``.
    """
    kernel, offsets, width = _sinc_kernel(orig, new)
    taps = kernel.shape[1]
    block, phase = np.divmod(outputs, new)
    start = block * orig + offsets[phase] - width - first  # index into x of each output's first tap
    # Only the stretch these outputs read, with zeros where it runs past either end of x.
    low, high = int(start.min()), int(start.max()) + taps
    inside = x[..., min(max(low, 0), x.shape[-1]):max(min(high, x.shape[-1]), 0)]
    left = max(0, -low)
    padded = np.pad(inside, [(0, 0)] * (x.ndim - 1) + [(left, high - low - left - inside.shape[-1])])
    gathered = padded[..., start[:, None] - low + np.arange(taps)]  # (..., outputs, K)
    return np.einsum("...ok,ok->...o", gathered, kernel[phase])


def resample(x: Any, orig_rate: int, new_rate: int) -> np.ndarray:
    r"""``x`` (``(..., samples)``, last axis time) sampled at ``orig_rate`` resampled to ``new_rate``.

    Band-limited interpolation with a Hann-windowed sinc (torchaudio's ``sinc_interp_hann``): with
    :math:`r` the input rate, :math:`r'` the output rate, cut-off :math:`2f_c = 0.99\,\min(r, r')`
    and :math:`Z = 6` zero crossings,

    .. math::
        y[j] = \sum_i x[i]\, \frac{2f_c}{r}\, \mathrm{sinc}(\tau_{ij})\, \cos^2\!\Big(\frac{\pi \tau_{ij}}{2Z}\Big)
               \,[\,|\tau_{ij}| < Z\,], \qquad \tau_{ij} = 2f_c\Big(\frac{i}{r} - \frac{j}{r'}\Big)

    with :math:`\mathrm{sinc}(u) = \sin(\pi u)/(\pi u)` and :math:`x[i] = 0` outside the signal. The
    output has :math:`\lceil n\,r'/r \rceil` samples. With the rates reduced by their gcd
    (22,050 -> 16,000 is 441 -> 320) output :math:`j = k r' + p` has the same weights for every
    block :math:`k`: a table of ``r'`` phases of about :math:`2Z r/(2f_c)` taps each (polyphase).
    Tones below :math:`\approx 0.9 \min(r, r')/2` pass unchanged (error < 1e-3); above the lower
    Nyquist frequency they are attenuated by more than 40 dB. Equal rates return ``x`` unchanged.
    """
    orig_rate, new_rate = _check_rate("orig_rate", orig_rate), _check_rate("new_rate", new_rate)
    x = np.asarray(x)
    if orig_rate == new_rate:
        return x
    if x.ndim == 0:
        raise DataError("resample needs samples along the last axis, got a scalar")
    dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
    orig, new = _reduced(orig_rate, new_rate)
    count = -(-x.shape[-1] * new // orig)  # ceil(n * new / orig) in integers
    x = x.astype(np.float64)
    parts = [_resample_outputs(x, 0, np.arange(s, min(s + _BLOCK, count)), orig, new) for s in range(0, count, _BLOCK)]
    out = np.concatenate(parts, axis=-1) if parts else np.zeros(x.shape[:-1] + (0,))
    return out.astype(dtype, copy=False)


class StreamingResampler:
    """:func:`resample` over a stream: ``push(chunk)`` returns the outputs it makes computable, ``flush()`` the rest.

    An output needs the input up to ``width + 1`` samples past its own position, so each push holds
    back the last few outputs (about 9 input samples' worth at 22,050 -> 16,000 Hz) until more input
    or the end arrives. The concatenated outputs equal ``resample(whole, orig_rate, new_rate)``.
    """

    def __init__(self, orig_rate: int, new_rate: int):
        self.orig_rate, self.new_rate = _check_rate("orig_rate", orig_rate), _check_rate("new_rate", new_rate)
        self._orig, self._new = _reduced(self.orig_rate, self.new_rate)
        self._buffer = np.zeros(0)  # input samples from index self._first on
        self._first = 0
        self._seen = 0  # input samples pushed so far
        self._next = 0  # index of the next output

    def push(self, chunk: Any) -> np.ndarray:
        """Float32 outputs that ``chunk`` (1-D, appended to what came before) completes."""
        chunk = np.asarray(chunk, dtype=np.float64)
        if chunk.ndim != 1:
            raise DataError(f"StreamingResampler.push needs a 1-D chunk of samples, got shape {chunk.shape}")
        self._buffer = np.concatenate([self._buffer, chunk])
        self._seen += len(chunk)
        if self.orig_rate == self.new_rate:
            out, self._buffer = self._buffer, np.zeros(0)
            self._next = self._seen
            return out.astype(np.float32)
        _, offsets, width = _sinc_kernel(self._orig, self._new)
        # Output j = k*new + p is complete when its last tap, k*orig + offsets[p] + width + 1, has arrived.
        last_tap = self._seen - 1 - width - 1
        ready = 0 if last_tap < 0 else self._count_up_to(last_tap, offsets)
        return self._emit(ready)

    def flush(self) -> np.ndarray:
        """The outputs still held back: the stream has ended, so the samples after it are zeros."""
        if self.orig_rate == self.new_rate:
            return np.zeros(0, dtype=np.float32)
        return self._emit(-(-self._seen * self._new // self._orig))

    def _count_up_to(self, position: int, offsets: np.ndarray) -> int:
        """How many outputs j have ``k*orig + offsets[p] <= position`` (``j = k*new + p``)."""
        block, rest = divmod(position, self._orig)
        return block * self._new + int(np.searchsorted(offsets, rest, side="right"))

    def _emit(self, count: int) -> np.ndarray:
        if count <= self._next:
            return np.zeros(0, dtype=np.float32)
        outputs = np.arange(self._next, count)
        out = _resample_outputs(self._buffer, self._first, outputs, self._orig, self._new)
        self._next = count
        # Keep the input from the next output's first tap on.
        _, offsets, width = _sinc_kernel(self._orig, self._new)
        block, phase = divmod(count, self._new)
        keep_from = min(max(self._first, block * self._orig + int(offsets[phase]) - width), self._seen)
        self._buffer = self._buffer[keep_from - self._first:]
        self._first = keep_from
        return out.astype(np.float32)
