"""Labelled synthetic video clips in which the ORDER of the frames carries the label.

Each clip shows one shape (square, disc or triangle; random colour and size) on a dark, plain
background, moving as its class (label) says:

* ``left``, ``right``, ``up``, ``down``: straight motion over a random stretch of the frame;
* ``rotate_cw``, ``rotate_ccw``: a narrow triangle (it points one way, so its turn can be seen)
  turning about its centre from a random angle, clockwise or anticlockwise as seen on screen;
* ``zoom_in``, ``zoom_out``: the shape grows or shrinks over a random range of sizes;
* ``bounce``: straight motion one way, then back to where it started (random axis, direction and
  turning point);
* ``appear_then_move``: blank for a random first quarter to half of the clip, then the shape
  appears and moves; ``move_then_disappear``: the shape moves, then the clip is blank to the end.

Which classes only the order of the frames tells apart, and why: in each of the pairs left/right,
up/down, rotate_cw/rotate_ccw, zoom_in/zoom_out and appear_then_move/move_then_disappear, the second
class is drawn as a clip of the first played backwards (:func:`render_clip` renders one and reverses
it in time, with the same random draws). So the set of frames of a clip, and any single frame, has
exactly the same distribution in both classes of a pair: a classifier of single frames, or one that
pools per-frame features without their order (a mean over time), is at chance within each pair.
``bounce`` is its own reverse; a single frame of it looks like a frame of straight motion. Such an
order-blind model tops out near 6/11 (55 %) over the 11 classes (each pair at 50 %, bounce at best
right); a model of the sequence, such as an LSTM over frame features, can reach 100 %.
"""
from __future__ import annotations

import os
import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from lstmkit.data.video import VIDEO_EXTENSIONS, write_clip
from lstmkit.errors import ConfigError
from lstmkit.files import check_run_dir, write_csv

__all__ = ["MOTIONS", "render_clip", "write_synthetic_clips"]

MOTIONS = ("left", "right", "up", "down", "rotate_cw", "rotate_ccw", "zoom_in", "zoom_out", "bounce",
           "appear_then_move", "move_then_disappear")
# Each of these is drawn as its partner played backwards: the pairs only order tells apart.
_REVERSE_OF = {"left": "right", "up": "down", "rotate_ccw": "rotate_cw", "zoom_out": "zoom_in",
               "move_then_disappear": "appear_then_move"}
_SHAPES = ("square", "disc", "triangle")
# Corners of the triangle in units of its radius, pointing along +x: tip, then base. Their mean is 0
# (it turns about its centroid: the clip's centre of brightness stays put), all within distance 1.
_ARROW_HEAD = ((1.0, 0.0), (-0.5, 0.45), (-0.5, -0.45))


def render_clip(motion: str, rng: np.random.Generator, *, frames: int = 16, size: int = 64) -> np.ndarray:
    """One clip of class ``motion`` as uint8 RGB frames of shape (frames, size, size, 3)."""
    if motion not in MOTIONS:
        raise ConfigError(f"unknown motion {motion!r}; choose from {', '.join(MOTIONS)}")
    if isinstance(frames, bool) or not isinstance(frames, (int, np.integer)) or frames < 4:
        raise ConfigError(f"frames must be a whole number of at least 4 for a motion to show; got {frames!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ConfigError(f"size must be a whole number of at least 16 pixels; got {size!r}")
    if motion in _REVERSE_OF:
        return np.ascontiguousarray(render_clip(_REVERSE_OF[motion], rng, frames=frames, size=size)[::-1])
    background = rng.integers(0, 40, 3)
    colour = rng.integers(100, 256, 3)  # every channel bright: the shape stands out in grey too
    t = np.linspace(0.0, 1.0, frames)
    shape, path = _PATHS[motion](rng, t, float(size))
    return _draw(shape, *path, size=size, colour=colour, background=background)


# Each path function returns (shape, (x, y, radius, angle, visible)), arrays of one value per frame.
# ``radius`` is the distance from the centre to the shape's corners (a disc's radius), so a shape
# of radius r centred at least r + 1 pixels from each edge is whole in the frame.

def _fixed(t: np.ndarray, value: float) -> np.ndarray:
    return np.full(len(t), float(value))


def _stretch(rng: np.random.Generator, radius: float, size: float) -> tuple[float, float]:
    """Start and end of a straight motion along one axis: half to all of the room there is."""
    low, high = radius + 1, size - 2 - radius
    length = rng.uniform(0.5, 1.0) * (high - low)
    start = rng.uniform(low, high - length)
    return start, start + length


def _straight(rng: np.random.Generator, t: np.ndarray, size: float, vertical: bool):
    shape, radius, angle = rng.choice(_SHAPES), rng.uniform(0.08, 0.16) * size, rng.uniform(0, 2 * np.pi)
    start, end = _stretch(rng, radius, size)
    along, across = start + (end - start) * t, _fixed(t, rng.uniform(radius + 1, size - 2 - radius))
    x, y = (across, along) if vertical else (along, across)
    return shape, (x, y, _fixed(t, radius), _fixed(t, angle), np.ones(len(t), bool))


def _right(rng, t, size):
    return _straight(rng, t, size, vertical=False)


def _down(rng, t, size):  # image rows grow downwards
    return _straight(rng, t, size, vertical=True)


def _rotate_cw(rng, t, size):
    # Angles grow from +x towards +y, i.e. clockwise on screen (y points down). Less than a full
    # turn over the clip and at most a third of one between frames, so the direction is never ambiguous.
    radius = rng.uniform(0.18, 0.28) * size
    x, y = (rng.uniform(radius + 1, size - 2 - radius) for _ in range(2))
    angle = rng.uniform(0, 2 * np.pi) + rng.uniform(0.4, 0.9) * 2 * np.pi * t
    return "triangle", (_fixed(t, x), _fixed(t, y), _fixed(t, radius), angle, np.ones(len(t), bool))


def _zoom_in(rng, t, size):
    small, large = rng.uniform(0.05, 0.1) * size, rng.uniform(0.2, 0.3) * size
    x, y = (rng.uniform(large + 1, size - 2 - large) for _ in range(2))
    radius = small + (large - small) * t
    return rng.choice(_SHAPES), (_fixed(t, x), _fixed(t, y), radius, _fixed(t, rng.uniform(0, 2 * np.pi)),
                                 np.ones(len(t), bool))


def _bounce(rng, t, size):
    vertical = bool(rng.integers(2))
    shape, (x, y, radius, angle, visible) = _straight(rng, t, size, vertical=vertical)
    turn = rng.uniform(0.35, 0.65)  # out until ``turn``, back after it; the reverse is again a bounce
    out_and_back = np.minimum(t / turn, (1 - t) / (1 - turn))
    moving = y if vertical else x
    start, end = (moving[0], moving[-1]) if rng.integers(2) else (moving[-1], moving[0])
    moving[:] = start + (end - start) * out_and_back
    return shape, (x, y, radius, angle, visible)


def _appear_then_move(rng, t, size):
    frames = len(t)
    blank = int(rng.integers(round(0.25 * frames), round(0.5 * frames) + 1))
    # Straight motion in any of the four directions over the frames after the blank ones: reversed,
    # it is again such a motion, so only where the blank frames are differs from move_then_disappear.
    shape, path = _straight(rng, np.linspace(0.0, 1.0, frames - blank), size, vertical=bool(rng.integers(2)))
    if rng.integers(2):
        path = tuple(values[::-1] for values in path)
    x, y, radius, angle, visible = (np.concatenate([np.repeat(values[:1], blank), values]) for values in path)
    visible[:blank] = False
    return shape, (x, y, radius, angle, visible)


_PATHS = {"right": _right, "down": _down, "rotate_cw": _rotate_cw, "zoom_in": _zoom_in, "bounce": _bounce,
          "appear_then_move": _appear_then_move}


def _draw(shape: str, x, y, radius, angle, visible, *, size: int, colour, background) -> np.ndarray:
    """Fill ``shape`` in every frame at once: a point-in-shape test on the grid of pixel centres."""
    rows, columns = np.mgrid[0:size, 0:size].astype(float)
    per_frame = [np.asarray(v, float)[:, None, None] for v in (x, y, radius, angle)]
    x, y, radius, angle = per_frame
    dx, dy = columns[None] - x, rows[None] - y
    if shape == "disc":
        inside = dx ** 2 + dy ** 2 <= radius ** 2
    elif shape == "square":  # corners at ``radius``: half a side is radius / sqrt(2)
        half = radius / np.sqrt(2)
        u, v = dx * np.cos(angle) + dy * np.sin(angle), -dx * np.sin(angle) + dy * np.cos(angle)
        inside = (np.abs(u) <= half) & (np.abs(v) <= half)
    else:  # triangle: an arrow head pointing at ``angle``, its centroid at (x, y)
        cos, sin = np.cos(angle), np.sin(angle)
        points = [(radius * (u * cos - v * sin), radius * (u * sin + v * cos)) for u, v in _ARROW_HEAD]
        # Inside a convex polygon: on the same side of every edge (all cross products of one sign).
        sides = [(bx - ax) * (dy - ay) - (by - ay) * (dx - ax)
                 for (ax, ay), (bx, by) in zip(points, points[1:] + points[:1])]
        inside = np.all([s >= 0 for s in sides], axis=0) | np.all([s <= 0 for s in sides], axis=0)
    inside &= np.asarray(visible, bool)[:, None, None]
    return np.where(inside[..., None], np.asarray(colour, np.uint8), np.asarray(background, np.uint8))


def write_synthetic_clips(out: str | os.PathLike, *, clips_per_class: int = 40, frames: int = 16, size: int = 64,
                          seed: int = 0, motions: Sequence[str] | None = None, extension: str = ".mp4",
                          fps: float = 10.0) -> pd.DataFrame:
    """Write ``clips_per_class`` clips of each motion as ``out/<label>/<label>_<k:04d>.mp4``.

    Also writes ``out/labels.csv`` (columns path,label; paths relative to ``out``), so the set can be
    read either way. Returns the same table with the paths joined to ``out``. ``out`` must be missing
    or empty. The same seed gives the same clips; each clip has its own random stream (from the
    seed, the label and k), so the clips of one class do not change with the others asked for.
    """
    motions = tuple(MOTIONS if motions is None else motions)
    unknown = [m for m in motions if m not in MOTIONS]
    if unknown or not motions or len(set(motions)) != len(motions):
        raise ConfigError(f"motions must be distinct names from {', '.join(MOTIONS)}; got {list(motions)}")
    if isinstance(clips_per_class, bool) or not isinstance(clips_per_class, int) or clips_per_class < 1:
        raise ConfigError(f"clips_per_class must be a whole number of at least 1; got {clips_per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a whole number of at least 0; got {seed!r}")
    extension = extension if extension.startswith(".") else f".{extension}"
    if extension.lower() not in VIDEO_EXTENSIONS:
        raise ConfigError(f"extension must be one of {', '.join(VIDEO_EXTENSIONS)}; got {extension!r}")
    if extension.lower() in (".mp4", ".mkv", ".mov") and size % 2:
        raise ConfigError(f"size must be even for {extension} (h264 in 4:2:0 colour); got {size}")
    out = check_run_dir(out, resumable=False)
    rows = []
    for motion in motions:
        for k in range(clips_per_class):
            rng = np.random.default_rng([seed, zlib.crc32(motion.encode()), k])
            relative = f"{motion}/{motion}_{k:04d}{extension}"
            write_clip(out / relative, render_clip(motion, rng, frames=frames, size=size), fps=fps)
            rows.append({"path": relative, "label": motion})
    write_csv(out / "labels.csv", rows, columns=["path", "label"])
    return pd.DataFrame({"path": [str(out / row["path"]) for row in rows], "label": [row["label"] for row in rows]})
