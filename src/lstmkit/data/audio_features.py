r"""Speech features in torch: log-mel filterbank energies or MFCCs, per frame, on any device.

The same functions serve training (batches on a GPU), inference and streaming, so a model never
sees features computed two ways. The pipeline for a waveform :math:`x` at ``sample_rate``:

.. math::
    x'[n] = x[n] - a\,x[n-1] \quad (x[-1] = 0)                                  \text{pre-emphasis}
    X_k[f] = \sum_{n=0}^{W-1} w[n]\, x'[kH + n]\, e^{-2\pi i f n / N_{fft}}       \text{frame } k
    P_k[f] = |X_k[f]|^2, \quad f = 0 .. N_{fft}/2                               \text{power}
    L_k[m] = \log\big(\textstyle\sum_f P_k[f]\, M[f, m] + 10^{-6}\big)           \text{log-mel}
    C_k[c] = \sum_m L_k[m]\, D[m, c]                                             \text{MFCC}

with window length :math:`W` and hop :math:`H` in samples (25 ms and 10 ms), :math:`w` the periodic
Hann window, :math:`M` the mel filterbank (:func:`mel_filterbank`) and :math:`D` the orthonormal
DCT-II. Frames do not extend past the signal (``center=False``): frame :math:`k` covers samples
:math:`[kH, kH + W)`, so :math:`T = 1 + \lfloor (n - W) / H \rfloor` frames (none when :math:`n < W`),
and a stream cut anywhere gives the same frames as the whole file (:class:`StreamingFeatures`).
The frame, zero-padded to :math:`N_{fft}` at its end, is what Kaldi does; torchaudio's
``MelSpectrogram(center=False)`` instead takes :math:`N_{fft}` samples with the window in the middle.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lstmkit.config import DictConfig
from lstmkit.errors import ConfigError, DataError

__all__ = ["FeatureConfig", "FEATURE_KINDS", "StreamingFeatures", "features", "fit_feature_stats", "frames",
           "log_mel", "mel_filterbank", "mfcc", "normalize_utterance", "num_frames", "power_spectrum",
           "spec_augment"]

FEATURE_KINDS = ("logmel", "mfcc")
LOG_FLOOR = 1e-6  # added before the log: digital silence gives log(1e-6) = -13.8, not -inf


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


@dataclass
class FeatureConfig(DictConfig):
    """How a waveform becomes a feature sequence; saved with a model so inference computes the same features.

    The defaults are the common ASR front end (Kaldi, ESPnet): 25 ms windows every 10 ms, a 512-point
    FFT, 40 HTK mel bands from 20 Hz to the Nyquist frequency, pre-emphasis 0.97.
    """

    sample_rate: int = 16000
    win_ms: float = 25.0  # window length; win_length = round(sample_rate * win_ms / 1000) samples
    hop_ms: float = 10.0  # frame step (the model's frame rate: 100 frames a second)
    n_fft: int = 512  # FFT size, at least the window length (the frame is zero-padded to it)
    n_mels: int = 40
    f_min: float = 20.0  # bottom of the lowest mel band (Hz): below it is mostly hum and DC offset
    f_max: float | None = None  # top of the highest band (Hz); None: sample_rate / 2
    kind: str = "logmel"  # "logmel": log mel energies (n_mels features), or "mfcc" (n_mfcc features)
    n_mfcc: int = 13
    preemphasis: float = 0.97  # a in x[n] - a x[n-1]: lifts the high frequencies speech spectra lack; 0 = off
    dither: float = 0.0  # std of Gaussian noise added to the samples (1/32768 is one 16-bit step); 0 = none

    def __post_init__(self) -> None:
        for name in ("sample_rate", "n_fft", "n_mels", "n_mfcc"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, got {value!r}")
        if self.kind not in FEATURE_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(FEATURE_KINDS)}, got {self.kind!r}")
        for name in ("win_ms", "hop_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{name} must be a positive number of milliseconds, got {value!r}")
        if self.win_length < 2:
            raise ConfigError(f"win_ms={self.win_ms} gives a window of {self.win_length} samples at "
                              f"{self.sample_rate} Hz; it needs at least 2")
        if self.hop_length < 1:
            raise ConfigError(f"hop_ms={self.hop_ms} is below one sample at {self.sample_rate} Hz")
        if self.n_fft < self.win_length:
            raise ConfigError(f"n_fft ({self.n_fft}) must be at least the window length ({self.win_length} samples "
                              f"= {self.win_ms} ms at {self.sample_rate} Hz)")
        nyquist = self.sample_rate / 2
        top = nyquist if self.f_max is None else self.f_max
        if not 0 <= self.f_min < top <= nyquist:
            raise ConfigError(f"the mel bands need 0 <= f_min < f_max <= {nyquist:g} Hz (half the sample rate); "
                              f"got f_min={self.f_min!r}, f_max={self.f_max!r}")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc ({self.n_mfcc}) cannot exceed n_mels ({self.n_mels})")
        if not 0 <= self.preemphasis < 1:
            raise ConfigError(f"preemphasis must lie in [0, 1), got {self.preemphasis!r}")
        if not self.dither >= 0:
            raise ConfigError(f"dither must be 0 or a positive standard deviation, got {self.dither!r}")
        bank = mel_filterbank(self.n_fft // 2 + 1, self.f_min, top, self.n_mels, self.sample_rate, dtype=torch.float64)
        empty = (bank.sum(0) == 0).nonzero().flatten().tolist()
        if empty:
            raise ConfigError(f"{len(empty)} of the {self.n_mels} mel bands fall between FFT bins and would always be "
                              f"0 (n_fft={self.n_fft} gives bins {self.sample_rate / self.n_fft:g} Hz apart); "
                              "use fewer mels, a higher f_min or a larger n_fft")

    @property
    def win_length(self) -> int:
        """Window length in samples (400 at 16 kHz)."""
        return round(self.sample_rate * self.win_ms / 1000)

    @property
    def hop_length(self) -> int:
        """Frame step in samples (160 at 16 kHz)."""
        return round(self.sample_rate * self.hop_ms / 1000)

    @property
    def top_frequency(self) -> float:
        """``f_max``, or half the sample rate when it is None."""
        return self.sample_rate / 2 if self.f_max is None else float(self.f_max)

    @property
    def num_features(self) -> int:
        """Features per frame: ``n_mels`` for log-mel, ``n_mfcc`` for MFCC."""
        return self.n_mels if self.kind == "logmel" else self.n_mfcc


def mel_filterbank(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int, *,
                   dtype: torch.dtype = torch.float32, device: torch.device | str | None = None) -> Tensor:
    r"""Triangular filters on the HTK mel scale, shape ``(n_freqs, n_mels)``: ``power @ bank`` gives mel energies.

    .. math::
        \mathrm{mel}(f) = 2595 \log_{10}(1 + f / 700), \qquad
        \mathrm{mel}^{-1}(m) = 700\,(10^{m / 2595} - 1)

    Band edges :math:`f_0 < f_1 < \dots < f_{M+1}` are :math:`M + 2` points equally spaced in mel from
    :math:`\mathrm{mel}(f_{min})` to :math:`\mathrm{mel}(f_{max})`, mapped back to Hz; FFT bin
    :math:`k` sits at :math:`\nu_k = k \cdot (r/2) / (K - 1)` for ``n_freqs`` :math:`= K` bins. Band
    :math:`m` (0-based) rises from :math:`f_m` to a peak of 1 at :math:`f_{m+1}` and falls to 0 at
    :math:`f_{m+2}`:

    .. math::
        M[k, m] = \max\Big(0, \min\Big(\frac{\nu_k - f_m}{f_{m+1} - f_m},
                                         \frac{f_{m+2} - \nu_k}{f_{m+2} - f_{m+1}}\Big)\Big)

    No area normalisation: this is ``torchaudio.functional.melscale_fbanks(..., norm=None,
    mel_scale="htk")`` (which places the bins up to ``sample_rate // 2``; the same for even rates).
    Computed in float64, then cast to ``dtype``.
    """
    if n_freqs < 2 or n_mels < 1:
        raise ConfigError(f"a mel filterbank needs at least 2 FFT bins and 1 band, got n_freqs={n_freqs}, "
                          f"n_mels={n_mels}")
    bins = np.linspace(0.0, sample_rate / 2, n_freqs)  # (K,) Hz
    edges = _mel_to_hz(np.linspace(_hz_to_mel(f_min), _hz_to_mel(f_max), n_mels + 2))  # (M + 2,) Hz
    rising = (bins[:, None] - edges[None, :-2]) / (edges[1:-1] - edges[:-2])  # (K, M)
    falling = (edges[None, 2:] - bins[:, None]) / (edges[2:] - edges[1:-1])  # (K, M)
    bank = np.maximum(0.0, np.minimum(rising, falling))
    return torch.as_tensor(bank, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _cached_bank(config: tuple, dtype: torch.dtype, device: torch.device) -> Tensor:
    n_freqs, f_min, f_max, n_mels, sample_rate = config
    with torch.inference_mode(False):  # a cached tensor made under inference_mode could not be used by autograd later
        return mel_filterbank(n_freqs, f_min, f_max, n_mels, sample_rate, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _cached_window(length: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    with torch.inference_mode(False):
        return torch.hann_window(length, periodic=True, dtype=dtype, device=device)


@functools.lru_cache(maxsize=16)
def _dct_matrix(n_mels: int, n_mfcc: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    r"""Orthonormal DCT-II as ``(n_mels, n_mfcc)``: :math:`D[m, c] = s_c \cos(\pi c (m + 1/2) / M)`,
    :math:`s_0 = \sqrt{1/M}`, :math:`s_c = \sqrt{2/M}` (``scipy.fft.dct(norm="ortho")``, torchaudio's
    ``create_dct(norm="ortho")``)."""
    m = np.arange(n_mels)[:, None]
    c = np.arange(n_mfcc)[None, :]
    dct = np.cos(np.pi * c * (m + 0.5) / n_mels) * np.sqrt(2.0 / n_mels)
    dct[:, 0] = np.sqrt(1.0 / n_mels)
    with torch.inference_mode(False):
        return torch.as_tensor(dct, dtype=dtype, device=device)


def num_frames(n_samples: Any, config: FeatureConfig) -> Any:
    """Frames from ``n_samples`` samples (an int, or an integer tensor of lengths): ``1 + (n - W) // H``, 0 when
    n < W."""
    win, hop = config.win_length, config.hop_length
    if isinstance(n_samples, Tensor):
        return torch.where(n_samples >= win, torch.div(n_samples - win, hop, rounding_mode="floor") + 1, 0)
    return 0 if n_samples < win else 1 + (int(n_samples) - win) // hop


def _as_waveform(waveform: Any) -> Tensor:
    if isinstance(waveform, Tensor):
        x = waveform
    else:
        array = np.ascontiguousarray(waveform)
        x = torch.from_numpy(array if array.flags.writeable else array.copy())  # from_numpy warns on read-only
    if x.ndim not in (1, 2):
        raise DataError(f"a waveform must be (samples,) or a batch (B, samples), got shape {tuple(x.shape)}")
    if not x.is_floating_point():
        raise DataError(f"a waveform must hold float samples in [-1, 1], got {x.dtype} "
                        "(read files with lstmkit.data.audio.read_audio, which scales integer PCM)")
    return x


def _preemphasize(x: Tensor, a: float, previous: Tensor | None = None) -> Tensor:
    """``x[n] - a x[n-1]`` along the last axis; ``previous`` is the sample before ``x[0]`` (0 at the start)."""
    if a == 0:
        return x
    before = torch.zeros_like(x[..., :1]) if previous is None else previous
    return x - a * torch.cat([before, x[..., :-1]], dim=-1)


def frames(waveform: Any, config: FeatureConfig) -> Tensor:
    """The windowed frames of an already pre-emphasised waveform, ``(..., T, win_length)``: frame k is samples
    [kH, kH + W) times the periodic Hann window."""
    x = _as_waveform(waveform)
    win, hop = config.win_length, config.hop_length
    if x.shape[-1] < win:
        return x.new_zeros(x.shape[:-1] + (0, win))
    return x.unfold(-1, win, hop) * _cached_window(win, x.dtype, x.device)  # (..., T, W)


def power_spectrum(framed: Tensor, config: FeatureConfig) -> Tensor:
    """``|rfft(frame, n_fft)|^2`` of windowed frames ``(..., T, W)``: ``(..., T, n_fft // 2 + 1)``."""
    if framed.numel() == 0:  # no frames (MKL's FFT refuses an empty batch)
        return framed.new_zeros(framed.shape[:-1] + (config.n_fft // 2 + 1,))
    spectrum = torch.fft.rfft(framed, n=config.n_fft)  # zero-padded at the end to n_fft
    return spectrum.real ** 2 + spectrum.imag ** 2


def log_mel(power: Tensor, config: FeatureConfig) -> Tensor:
    """``log(power @ M + 1e-6)``: ``(..., T, n_freqs)`` -> ``(..., T, n_mels)``."""
    key = (config.n_fft // 2 + 1, float(config.f_min), config.top_frequency, config.n_mels, config.sample_rate)
    return torch.log(power @ _cached_bank(key, power.dtype, power.device) + LOG_FLOOR)


def mfcc(log_mels: Tensor, n_mfcc: int) -> Tensor:
    """The first ``n_mfcc`` orthonormal DCT-II coefficients of log-mel energies over the last axis."""
    return log_mels @ _dct_matrix(log_mels.shape[-1], n_mfcc, log_mels.dtype, log_mels.device)


def _frame_features(x: Tensor, config: FeatureConfig) -> Tensor:
    """Features of a pre-emphasised waveform (the part shared by :func:`features` and the streaming version)."""
    out = log_mel(power_spectrum(frames(x, config), config), config)  # (..., T, n_mels)
    return mfcc(out, config.n_mfcc) if config.kind == "mfcc" else out


def features(waveform: Any, config: FeatureConfig, *, generator: torch.Generator | None = None) -> Tensor:
    """Log-mel or MFCC features of ``waveform`` (samples,) -> ``(T, F)``, or a batch (B, samples) -> ``(B, T, F)``.

    Computed in the waveform's dtype (NumPy arrays become tensors) and on its device. In a padded
    batch, utterance b's frames beyond ``num_frames(lengths[b], config)`` are pads. ``generator``
    draws the dither noise when ``config.dither > 0``.
    """
    x = _as_waveform(waveform)
    if config.dither > 0:
        device = generator.device if generator is not None else x.device
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=device)
        x = x + config.dither * noise.to(x.device)
    return _frame_features(_preemphasize(x, config.preemphasis), config)


class StreamingFeatures:
    """:func:`features` of a waveform that arrives in pieces: ``push(chunk)`` returns the frames it completes.

    Keeps the samples of the frame not yet complete (less than one window) and the last sample for
    pre-emphasis, so the frames of all pushes, concatenated, equal ``features(whole)`` (up to float
    rounding in the FFT and matrix products, which see different batch sizes). Dither, when on, is
    drawn per push and so differs from the offline noise.
    """

    def __init__(self, config: FeatureConfig, *, generator: torch.Generator | None = None):
        self.config = config
        self.generator = generator
        self.reset()

    def reset(self) -> None:
        """Forget the stream: the next push starts a new utterance."""
        self._pending: Tensor | None = None  # pre-emphasised samples from the next frame's start on
        self._previous: Tensor | None = None  # the last raw sample (pre-emphasis state)
        self.samples_seen = 0
        self.frames_emitted = 0

    def push(self, samples: Any) -> Tensor:
        """``(new_frames, F)`` features for the frames that ``samples`` (1-D) completes; possibly 0 rows."""
        x = _as_waveform(samples)
        if x.ndim != 1:
            raise DataError(f"StreamingFeatures.push takes one stream's samples (samples,), got shape {tuple(x.shape)}")
        if self._pending is not None:
            x = x.to(self._pending.dtype)
        if self.config.dither > 0:
            device = self.generator.device if self.generator is not None else x.device
            x = x + self.config.dither * torch.randn(x.shape, generator=self.generator, dtype=x.dtype,
                                                     device=device).to(x.device)
        self.samples_seen += x.shape[0]
        if x.shape[0]:
            emphasized = _preemphasize(x, self.config.preemphasis, self._previous)
            self._previous = x[-1:]
            self._pending = emphasized if self._pending is None else torch.cat([self._pending, emphasized])
        if self._pending is None or self._pending.shape[0] < self.config.win_length:
            return x.new_zeros((0, self.config.num_features))  # not one whole frame yet
        out = _frame_features(self._pending, self.config)  # (new_frames, F)
        # Drop the samples no later frame needs: the next frame starts new_frames hops further on.
        self._pending = self._pending[out.shape[0] * self.config.hop_length:]
        self.frames_emitted += out.shape[0]
        return out


def _check_lengths(lengths: Any, batch: int, steps: int, device: torch.device) -> Tensor:
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.is_floating_point():
        raise DataError(f"lengths must be {batch} integers (one per utterance), got {tuple(lengths.shape)} "
                        f"of {lengths.dtype}")
    if batch and (int(lengths.min()) < 0 or int(lengths.max()) > steps):
        raise DataError(f"lengths must lie in [0, {steps}] (the padded number of frames), got {lengths.tolist()}")
    return lengths


def normalize_utterance(feats: Tensor, lengths: Any = None, *, eps: float = 1e-5) -> Tensor:
    r"""Each utterance's features standardised over its own frames: ``(T, F)`` or ``(B, T, F)``.

    .. math::
        \hat{x}_{t,f} = \frac{x_{t,f} - \mu_f}{\sqrt{\sigma_f^2 + \epsilon}}, \qquad
        \mu_f = \frac{1}{L}\sum_{t<L} x_{t,f}, \quad \sigma_f^2 = \frac{1}{L}\sum_{t<L} (x_{t,f} - \mu_f)^2

    over the utterance's real frames :math:`t < L` (``lengths``; all frames without it). Pads come
    out as 0. This needs the whole utterance, so a streaming model uses :func:`fit_feature_stats`.
    """
    single = feats.ndim == 2
    x = feats[None] if single else feats
    if x.ndim != 3:
        raise DataError(f"features must be (T, F) or (B, T, F), got shape {tuple(feats.shape)}")
    batch, steps, _ = x.shape
    if lengths is None:
        mask = torch.ones(batch, steps, 1, dtype=x.dtype, device=x.device)
    else:
        lengths = _check_lengths(lengths, batch, steps, x.device)
        mask = (torch.arange(steps, device=x.device)[None, :] < lengths[:, None]).to(x.dtype)[..., None]  # (B, T, 1)
    count = mask.sum(1, keepdim=True).clamp_min(1)  # (B, 1, 1)
    mean = (x * mask).sum(1, keepdim=True) / count  # (B, 1, F)
    var = (((x - mean) * mask) ** 2).sum(1, keepdim=True) / count
    out = (x - mean) / torch.sqrt(var + eps) * mask
    return out[0] if single else out


def fit_feature_stats(utterances: Sequence[Any], *, min_std: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Per-feature mean and standard deviation over every frame of ``utterances`` (a list of ``(T, F)``).

    The global normalisation of a streaming (unidirectional) model: fitted on the training part,
    saved with the model and applied as ``(feats - mean) / std`` to each frame as it arrives.
    Computed in float64 (two passes) and returned as float32 tensors of shape (F,); the std is
    floored at ``min_std`` so that a constant feature does not divide by zero.
    """
    arrays = [torch.as_tensor(u).detach().to("cpu", torch.float64) for u in utterances]
    if not arrays:
        raise DataError("fit_feature_stats needs at least one utterance, got none")
    widths = {a.shape[-1] if a.ndim == 2 else None for a in arrays}
    if len(widths) != 1 or None in widths:
        raise DataError(f"fit_feature_stats needs (T, F) arrays with one F; got shapes "
                        f"{sorted({tuple(a.shape) for a in arrays})[:4]}")
    total = sum(a.shape[0] for a in arrays)
    if total == 0:
        raise DataError("fit_feature_stats got only empty utterances (0 frames); utterances shorter than one window "
                        "have no frames")
    mean = sum(a.sum(0) for a in arrays) / total
    var = sum(((a - mean) ** 2).sum(0) for a in arrays) / total
    return mean.float(), var.sqrt().clamp_min(min_std).float()


def _mask_spans(count: int, width_max: Tensor, extent: Tensor, steps: int, masks: int,
                generator: torch.Generator | None, device: torch.device) -> Tensor:
    """``(count, steps)`` booleans: ``masks`` spans per row, width uniform in [0, width_max], inside [0, extent)."""
    rng_device = generator.device if generator is not None else device
    u_width = torch.rand(count, masks, generator=generator, device=rng_device).to(device)
    u_start = torch.rand(count, masks, generator=generator, device=rng_device).to(device)
    width = torch.floor(u_width * (width_max[:, None] + 1)).clamp_max(width_max[:, None])  # (count, masks)
    start = torch.floor(u_start * (extent[:, None] - width + 1)).clamp_min(0)
    positions = torch.arange(steps, device=device)[None, None, :]  # (1, 1, steps)
    inside = (positions >= start[..., None]) & (positions < (start + width)[..., None])  # (count, masks, steps)
    return inside.any(1)


def spec_augment(feats: Tensor, *, time_masks: int = 2, time_width: float | int = 0.05, freq_masks: int = 2,
                 freq_width: int = 8, lengths: Any = None, generator: torch.Generator | None = None) -> Tensor:
    r"""SpecAugment's time and frequency masking (Park et al. 2019) of normalised features; returns a new tensor.

    For each utterance, ``freq_masks`` times: a width :math:`f \sim U\{0..F_w\}` (``freq_width``)
    and a first feature :math:`f_0 \sim U\{0..F - f\}`; features :math:`[f_0, f_0 + f)` are set to 0
    in every frame. ``time_masks`` times: :math:`t \sim U\{0..T_w\}`, :math:`t_0 \sim U\{0..L - t\}`,
    frames :math:`[t_0, t_0 + t)` are set to 0, with :math:`L` the utterance's real length
    (``lengths``) and :math:`T_w` = ``time_width`` frames when it is an int, or
    :math:`\lfloor \text{time\_width} \cdot L \rfloor` when it is a float (the paper's bound
    :math:`p`, as a share of the utterance). 0 is the mean of normalised features, so masking removes
    information without adding any. Masks never reach pads. ``feats``: ``(T, F)`` or ``(B, T, F)``.
    """
    single = feats.ndim == 2
    x = feats[None] if single else feats
    if x.ndim != 3:
        raise DataError(f"features must be (T, F) or (B, T, F), got shape {tuple(feats.shape)}")
    for name, value in (("time_masks", time_masks), ("freq_masks", freq_masks), ("freq_width", freq_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be 0 or a positive integer, got {value!r}")
    if isinstance(time_width, bool) or not isinstance(time_width, (int, float)) or time_width < 0 \
            or (isinstance(time_width, float) and time_width > 1):
        raise ConfigError(f"time_width must be a share of the utterance in [0, 1] (float) or a number of frames "
                          f"(int), got {time_width!r}")
    batch, steps, width = x.shape
    device = x.device
    lengths = (torch.full((batch,), steps, device=device) if lengths is None
               else _check_lengths(lengths, batch, steps, device)).to(torch.float64)
    keep = torch.ones(batch, steps, width, dtype=torch.bool, device=device)
    if time_masks:
        if isinstance(time_width, float):
            time_max = torch.floor(time_width * lengths)
        else:
            time_max = torch.minimum(torch.full_like(lengths, time_width), lengths)
        keep &= ~_mask_spans(batch, time_max, lengths, steps, time_masks, generator, device)[..., None]
    if freq_masks:
        freq_max = torch.full((batch,), float(min(freq_width, width)), dtype=torch.float64, device=device)
        masked = _mask_spans(batch, freq_max, torch.full_like(freq_max, width), width, freq_masks, generator, device)
        real = torch.arange(steps, device=device)[None, :] < lengths[:, None]  # (B, T): the pads stay as they are
        keep &= ~(masked[:, None, :] & real[..., None])
    out = x.masked_fill(~keep, 0.0)
    return out[0] if single else out
