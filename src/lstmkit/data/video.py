"""Video clips in and out as NumPy arrays: ``read_clip``, ``write_clip`` and ``list_clips``.

Why PyAV (``import av``): its wheels bundle ffmpeg with libx264, mpeg4 and libvpx-vp9, so it reads
what people record and can write h264 mp4 from NumPy arrays. OpenCV's wheels cannot write h264, and
torchvision's video readers cannot be installed beside lstmkit's torch==2.13 pin. PyAV is optional
(``pip install 'lstmkit[video]'``) and imported only inside the functions that need it.

A clip is a uint8 array of shape (T, H, W, 3) in RGB. Clips are short, so a file is decoded once,
whole, and the frames a caller asked for are picked from it afterwards.
"""
from __future__ import annotations

import math
import os
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lstmkit.data.csv_lines import RowNames
from lstmkit.errors import ConfigError, DataError, InputFileError, MissingDependencyError
from lstmkit.files import atomic_write

__all__ = ["VIDEO_EXTENSIONS", "read_clip", "write_clip", "list_clips", "resize_clip"]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".webm", ".mkv", ".mov")

# What each extension is written with when no codec is named: the container (ffmpeg's muxer name,
# given explicitly because the temporary file of an atomic write ends in .tmp) and the codec.
_CONTAINERS = {".mp4": "mp4", ".avi": "avi", ".webm": "webm", ".mkv": "matroska", ".mov": "mov"}
_DEFAULT_CODECS = {".mp4": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9", ".mkv": "libx264", ".mov": "libx264"}
# High quality, so that small synthetic shapes survive compression (the files stay small anyway).
# libx264 at a constant quantiser rather than a constant rate factor: with crf, the same frames came
# out slightly different from run to run now and then (PyAV 18.1), and data sets should not.
_CODEC_OPTIONS = {"libx264": {"qp": "18"}, "libvpx-vp9": {"crf": "20", "b": "0"}}
_EVEN_SIZE_CODECS = ("libx264",)  # 4:2:0 chroma in x264 needs an even width and height
_LAYOUT = "DIR/<label>/*.mp4 (one folder per label; .avi, .webm, .mkv and .mov work too)"


def _import_av() -> Any:
    try:
        import av
    except ImportError:
        raise MissingDependencyError("reading and writing video needs PyAV: pip install 'lstmkit[video]'") from None
    return av


def _reason(error: Exception) -> str:
    """ffmpeg's short reason ("Invalid data found when processing input"), without errno and file name."""
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def read_clip(path: str | os.PathLike, *, frames: int | None = 16, fps: float | None = None,
              size: int | tuple[int, int] | None = 64) -> np.ndarray:
    """The clip at ``path`` as uint8 RGB frames of shape (T, H, W, 3).

    Exactly one of ``frames`` and ``fps`` says which frames: ``frames=N`` takes N frames spaced
    evenly over the whole clip, the first and the last included (so every clip gives the same T);
    ``fps=r`` takes r frames per second of the clip's time stamps (T then grows with the clip's
    length; above the clip's own rate frames repeat). ``size`` resizes every frame by area
    averaging: an int gives a square, a pair is (height, width), None keeps the clip's size.
    """
    path = Path(path)
    if (frames is None) == (fps is None):
        raise ConfigError("give exactly one of frames (a frame count) and fps (frames per second) to read a clip")
    if frames is not None and (isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 1):
        raise ConfigError(f"frames must be a whole number of at least 1; got {frames!r}")
    if fps is not None and not _positive_number(fps):
        raise ConfigError(f"fps must be a positive number; got {fps!r}")
    height_width = _size_pair(size)
    decoded, times = _decode(path)
    if frames is not None:
        if len(decoded) < frames:
            raise DataError(f"{path}: {len(decoded)} frames, {frames} asked for (--frames); ask for at most "
                            f"{len(decoded)}, or sample by time with --fps")
        indices = np.linspace(0, len(decoded) - 1, frames).round().astype(int)
    else:
        indices = _indices_at_rate(path, times, fps)
    clip = np.stack([decoded[i].to_ndarray(format="rgb24") for i in indices])
    return clip if height_width is None else resize_clip(clip, height_width)


def _positive_number(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number)) and 0 < value < math.inf


def _size_pair(size: int | tuple[int, int] | None) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in pair):
        raise ConfigError(f"size must be a positive whole number or a (height, width) pair; got {size!r}")
    return pair


def _decode(path: Path) -> tuple[list, np.ndarray | None]:
    """Every frame of the first video stream (still in the codec's pixel format) and its time in seconds.

    The times are None when the file has no usable time stamps. Frames are converted to RGB only
    once picked, which halves the memory a long 4:2:0 clip holds meanwhile.
    """
    if not path.exists():
        raise InputFileError(f"{path}: no such video file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a video file")
    av = _import_av()
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DataError(f"{path}: no video stream (the file holds "
                                f"{', '.join(s.type for s in container.streams) or 'no streams'})")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            decoded = list(container.decode(stream))
    except av.FFmpegError as error:  # a text file named .mp4, a truncated download, an unknown codec, ...
        raise DataError(f"{path}: not a readable video file ({_reason(error)})") from None
    if not decoded:
        raise DataError(f"{path}: no frames could be decoded from its video stream")
    times = [frame.time for frame in decoded]
    if None not in times and np.all(np.diff(times) >= 0):
        return decoded, np.asarray(times, dtype=float)
    # Without (ordered) time stamps the frames are taken as evenly spaced at the stream's rate.
    return decoded, (np.arange(len(decoded)) / float(rate) if rate else None)


def _indices_at_rate(path: Path, times: np.ndarray | None, fps: float) -> np.ndarray:
    """Which frame is on screen at each of ``times[0] + k / fps``, over the clip's whole duration."""
    if times is None:
        raise DataError(f"{path}: the video has no time stamps and no frame rate, so it cannot be sampled "
                        "by time (--fps); ask for a frame count with --frames instead")
    # A frame is shown until the next one; the last one for the clip's typical frame step.
    step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
    duration = times[-1] - times[0] + step
    tolerance = step / 100  # time stamps are rounded to the stream's time base
    count = max(1, math.ceil(duration * fps - 1e-9))
    targets = times[0] + np.arange(count) / fps
    return np.clip(np.searchsorted(times, targets + tolerance, side="right") - 1, 0, len(times) - 1)


def resize_clip(clip: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """``clip`` (T, H, W, 3) uint8 resized to ``size`` by area averaging (no aliasing when shrinking)."""
    import torch

    height, width = _size_pair(size)
    if clip.shape[1:3] == (height, width):
        return clip
    x = torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.interpolate(x, size=(height, width), mode="area")
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()


def write_clip(path: str | os.PathLike, frames: np.ndarray, *, fps: float = 10.0, codec: str | None = None) -> Path:
    """Write uint8 RGB ``frames`` (T, H, W, 3) to ``path`` as a video, atomically.

    The codec follows the extension unless named: .mp4 (also .mkv, .mov) h264 via libx264, .avi
    mpeg4, .webm VP9; all in 4:2:0 colour at a high quality. libx264 needs an even width and height.
    """
    path = Path(path)
    frames = np.asarray(frames)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or len(frames) == 0:
        raise DataError(f"{path}: frames must be a uint8 array of shape (T, H, W, 3) with T >= 1; "
                        f"got {frames.dtype} of shape {frames.shape}")
    if not _positive_number(fps):
        raise ConfigError(f"fps must be a positive number; got {fps!r}")
    suffix = path.suffix.lower()
    if suffix not in _CONTAINERS:
        raise DataError(f"{path}: cannot write video with extension {path.suffix!r}; use one of "
                        f"{', '.join(_CONTAINERS)}")
    codec = codec or _DEFAULT_CODECS[suffix]
    height, width = frames.shape[1:3]
    if codec in _EVEN_SIZE_CODECS and (height % 2 or width % 2):
        raise DataError(f"{path}: {codec} (yuv420p) needs an even width and height; the frames are "
                        f"{width}x{height}: crop or pad them by a pixel, or write .avi or .webm")
    av = _import_av()

    def write(tmp: Path) -> None:
        # bitexact: no random Matroska segment id, no library version, so a file depends on its frames only.
        with av.open(str(tmp), mode="w", format=_CONTAINERS[suffix], options={"fflags": "+bitexact"}) as container:
            stream = container.add_stream(codec, rate=Fraction(float(fps)).limit_denominator(1000),
                                          options=dict(_CODEC_OPTIONS.get(codec, {})))
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            if codec == "mpeg4":  # fixed quantiser 2 (ffmpeg's -q:v 2) instead of a low default bit rate
                stream.codec_context.qscale = True
                stream.codec_context.global_quality = 2 * 118  # FF_QP2LAMBDA
            for image in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
            container.mux(stream.encode())  # flush the frames the encoder still holds

    try:
        return atomic_write(path, write)
    except av.codec.codec.UnknownCodecError:
        raise DataError(f"{path}: cannot write video with codec {codec!r}: this PyAV has no such encoder") from None
    except av.FFmpegError as error:
        raise DataError(f"{path}: could not write video with codec {codec!r} ({_reason(error)})") from None


def list_clips(source: str | os.PathLike | pd.DataFrame, *, labelled: bool = True) -> list[tuple[Path, str | None]]:
    """``(clip path, label)`` pairs from a folder per label, a CSV file or a table of ``path,label`` rows.

    A directory is read as ``DIR/<label>/*.mp4`` (the clips directly in each folder; hidden files
    and other extensions are skipped), in sorted order. A CSV's paths are relative to the CSV's own
    folder, so a data set can be moved as a whole; a DataFrame's (such as the one
    :func:`lstmkit.tasks.action.synth.write_synthetic_clips` returns) are taken as they are. Rows
    keep their order.

    ``labelled=False`` (clips to label): the labels are None and not needed: a table needs only its
    ``path`` column, a directory gives every clip in it or its sub-folders, a single clip file itself.
    """
    if isinstance(source, pd.DataFrame):
        return _clips_in_table(source.astype(str), Path(), "the table", lambda i: f"row {i}", "", labelled)
    source = Path(source)
    if not source.exists():
        raise InputFileError(f"{source}: no such directory or CSV file of clips")
    if source.is_dir():
        return _clips_in_directory(source) if labelled else _clips_below(source)
    if not labelled and _is_clip(source):
        return [(source, None)]
    if source.suffix.lower() != ".csv":
        raise DataError(f"{source}: expected a directory laid out as {_LAYOUT}, or a CSV file with columns "
                        "path,label")
    try:
        table = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{source}: not a readable CSV file ({str(error).splitlines()[0]})") from None
    rows = RowNames(str(source), None, len(table))
    return _clips_in_table(table, source.parent, str(source), rows, " (paths are relative to the CSV's folder)",
                           labelled)


def _clips_below(folder: Path) -> list[tuple[Path, None]]:
    """Every clip in ``folder`` or its sub-folders (none hidden), sorted, without labels."""
    clips = sorted(p for p in folder.rglob("*") if _is_clip(p)
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not clips:
        raise DataError(f"{folder}: no clips ({', '.join(VIDEO_EXTENSIONS)}) in it or its sub-folders")
    return [(clip, None) for clip in clips]


def _is_clip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def _clips_in_directory(source: Path) -> list[tuple[Path, str]]:
    folders = sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        loose = sorted(p.name for p in source.iterdir() if _is_clip(p))
        found = f"found {len(loose)} clips ({loose[0]}, ...) directly in it" if loose else "found no label folders"
        raise DataError(f"{source}: expected {_LAYOUT}; {found}")
    clips = []
    for folder in folders:
        files = sorted(p for p in folder.iterdir() if _is_clip(p))
        if not files:
            raise DataError(f"{folder}: label folder {folder.name!r} holds no clips "
                            f"({', '.join(VIDEO_EXTENSIONS)}); expected {_LAYOUT}")
        clips.extend((file, folder.name) for file in files)
    return clips


def _clips_in_table(table: pd.DataFrame, base: Path, where: str, rows: Callable[[int], str],
                    hint: str, labelled: bool = True) -> list[tuple[Path, str | None]]:
    """The rows of ``table`` with their paths joined to ``base``; ``rows(i)`` names row i in messages."""
    wanted = ("path", "label") if labelled else ("path",)
    missing = [column for column in wanted if column not in table.columns]
    if missing:
        raise DataError(f"{where}: no column {' or '.join(map(repr, missing))}; expected columns {','.join(wanted)} "
                        f"(found: {', '.join(map(str, table.columns)) or 'none'})")
    if table.empty:
        raise DataError(f"{where}: no rows; expected one row per clip with columns {','.join(wanted)}")
    labels = table["label"] if labelled else [None] * len(table)
    clips = []
    for i, (name, label) in enumerate(zip(table["path"], labels)):
        if not name.strip() or (labelled and not label.strip()):
            raise DataError(f"{where} {rows(i)}: empty {'path' if not name.strip() else 'label'}")
        clip = base / name
        if not clip.is_file():
            raise InputFileError(f"{where} {rows(i)}: no such clip {clip}{hint}")
        clips.append((clip, label))
    return clips
