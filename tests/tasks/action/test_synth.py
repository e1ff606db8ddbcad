"""Synthetic action clips: the label is in the order of the frames, not in any one frame."""
from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lstmkit.data.video import list_clips, read_clip
from lstmkit.errors import ConfigError, RunDirError, UserError
from lstmkit.tasks.action.synth import MOTIONS, render_clip, write_synthetic_clips

PAIRS = [("right", "left"), ("down", "up"), ("rotate_cw", "rotate_ccw"), ("zoom_in", "zoom_out"),
         ("appear_then_move", "move_then_disappear")]


def shape_mask(clip: np.ndarray) -> np.ndarray:
    """Where the shape is: backgrounds are darker than 40 and shapes brighter than 100 in every channel."""
    return clip.min(axis=3) > 70


def centres(clip: np.ndarray) -> np.ndarray:
    """(x, y) of the shape in each frame; NaN where no shape is shown."""
    out = []
    for mask in shape_mask(clip):
        rows, columns = np.nonzero(mask)
        out.append((columns.mean(), rows.mean()) if len(rows) else (np.nan, np.nan))
    return np.array(out)


def clips(motion: str, seeds, **kwargs) -> list[np.ndarray]:
    return [render_clip(motion, np.random.default_rng(seed), **kwargs) for seed in seeds]


def test_render_clip_shape_and_determinism():
    for motion in MOTIONS:
        clip = render_clip(motion, np.random.default_rng(3), frames=10, size=40)
        assert clip.shape == (10, 40, 40, 3) and clip.dtype == np.uint8
        assert np.array_equal(clip, render_clip(motion, np.random.default_rng(3), frames=10, size=40))
        assert not np.array_equal(clip, render_clip(motion, np.random.default_rng(4), frames=10, size=40))
        assert shape_mask(clip).any(axis=(1, 2)).sum() >= 5  # the shape is there for most frames


@pytest.mark.parametrize("forward, backward", PAIRS)
def test_each_pair_is_the_same_clip_played_backwards(forward, backward):
    for seed in range(5):
        assert np.array_equal(render_clip(backward, np.random.default_rng(seed)),
                              render_clip(forward, np.random.default_rng(seed))[::-1])


def test_straight_motions_go_their_way_and_single_frames_match_in_distribution():
    positions = {}
    for first_seed, (motion, axis) in enumerate((("right", 0), ("left", 0), ("down", 1), ("up", 1))):
        seeds = range(100 * first_seed, 100 * first_seed + 30)  # independent clips for each class
        tracks = [centres(clip) for clip in clips(motion, seeds)]
        slopes = [np.polyfit(np.arange(16), track[:, axis], 1)[0] for track in tracks]  # pixels per frame
        assert min(slopes) > 1 if motion in ("right", "down") else max(slopes) < -1  # rows grow downwards
        assert max(np.ptp(track[:, 1 - axis]) for track in tracks) < 1.5  # straight (up to pixel rounding)
        positions[motion] = np.concatenate([track[:, axis] for track in tracks])
    # Different clips, the same distribution of where the shape is in a single frame.
    for one, other in (("right", "left"), ("down", "up")):
        assert abs(positions[one].mean() - positions[other].mean()) < 3
        assert abs(positions[one].std() - positions[other].std()) < 3


def tip_angles(clip: np.ndarray) -> np.ndarray:
    """Angle (image coordinates, y down) from the shape's centroid to its farthest pixel: the triangle's tip."""
    angles = []
    for mask in shape_mask(clip):
        rows, columns = np.nonzero(mask)
        dx, dy = columns - columns.mean(), rows - rows.mean()
        far = np.argmax(dx ** 2 + dy ** 2)
        angles.append(np.arctan2(dy[far], dx[far]))
    return np.unwrap(angles)


def test_rotations_turn_the_way_they_are_named():
    for clip in clips("rotate_cw", range(10)):
        # Angles growing from +x towards +y (down) is clockwise as seen on screen.
        assert np.polyfit(np.arange(16), tip_angles(clip), 1)[0] > 0.1
        assert np.ptp(centres(clip), axis=0).max() < 3  # turns about its centre: stays in place
    for clip in clips("rotate_ccw", range(10)):
        assert np.polyfit(np.arange(16), tip_angles(clip), 1)[0] < -0.1


def test_zooms_bounce_and_order_only_classes():
    for clip in clips("zoom_in", range(10)):
        assert np.all(np.diff(shape_mask(clip).sum(axis=(1, 2))) > 0)
    for clip in clips("bounce", range(10)):
        track = centres(clip)
        moving = track[:, np.argmax(np.ptp(track, axis=0))]
        turn = np.argmax(np.abs(moving - moving[0]))
        assert 4 <= turn <= 11 and abs(moving[-1] - moving[0]) < 1.5  # goes out, then comes back
    blanks = {}
    for motion in ("appear_then_move", "move_then_disappear"):
        shown = [shape_mask(clip).any(axis=(1, 2)) for clip in clips(motion, range(200, 240))]
        blanks[motion] = [16 - s.sum() for s in shown]
        # One run of blank frames, at the start or at the end: the order is the label.
        for s in shown:
            k = 16 - s.sum()
            expected = np.arange(16) >= k if motion == "appear_then_move" else np.arange(16) < 16 - k
            assert np.array_equal(s, expected) and 4 <= k <= 8
    # Different clips, same distribution of how many frames are blank.
    assert abs(np.mean(blanks["appear_then_move"]) - np.mean(blanks["move_then_disappear"])) < 1


def test_render_clip_arguments_are_checked():
    for kwargs, key in (({"motion": "jump"}, "unknown motion"), ({"frames": 2}, "frames"), ({"size": 8}, "size")):
        with pytest.raises(ConfigError, match=key):
            render_clip(**{"motion": "left", "rng": np.random.default_rng(0), **kwargs})


def test_write_synthetic_clips_both_layouts_and_visible_in_mp4(tmp_path):
    pytest.importorskip("av")
    table = write_synthetic_clips(tmp_path / "set", clips_per_class=2, frames=8, size=32, seed=5)
    assert list(table.columns) == ["path", "label"] and len(table) == 2 * len(MOTIONS)
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == sorted([*MOTIONS, "labels.csv"])
    assert sorted(p.name for p in (tmp_path / "set/zoom_in").iterdir()) == ["zoom_in_0000.mp4", "zoom_in_0001.mp4"]
    csv = pd.read_csv(tmp_path / "set/labels.csv")
    assert csv["path"].iloc[0] == f"{MOTIONS[0]}/{MOTIONS[0]}_0000.mp4"
    by_folder = list_clips(tmp_path / "set")
    assert sorted(map(tuple, table.itertuples(index=False))) == sorted((str(p), label) for p, label in by_folder)
    assert sorted(by_folder) == sorted(list_clips(tmp_path / "set/labels.csv"))

    # Each file holds the clip render_clip draws from its own seed stream, and the shape survives h264.
    for motion in ("right", "rotate_cw", "move_then_disappear"):
        rendered = render_clip(motion, np.random.default_rng([5, zlib.crc32(motion.encode()), 1]), frames=8, size=32)
        read = read_clip(tmp_path / f"set/{motion}/{motion}_0001.mp4", frames=8, size=None)
        assert np.array_equal(shape_mask(read).any(axis=(1, 2)), shape_mask(rendered).any(axis=(1, 2)))
        assert np.nanmax(np.abs(centres(read) - centres(rendered))) < 1.0
        assert np.abs(read.astype(int) - rendered).mean() < 4

    # The same seed writes the same files, byte for byte, whichever other classes are asked for.
    again = write_synthetic_clips(tmp_path / "again", clips_per_class=2, frames=8, size=32, seed=5,
                                  motions=["zoom_out", "left"])
    assert again["label"].tolist() == ["zoom_out", "zoom_out", "left", "left"]
    for path in again["path"]:
        first = tmp_path / "set" / Path(path).relative_to(tmp_path / "again")
        assert first.read_bytes() == Path(path).read_bytes()
    other_seed = write_synthetic_clips(tmp_path / "other", clips_per_class=1, frames=8, size=32, seed=6,
                                       motions=["left"])
    assert Path(other_seed["path"][0]).read_bytes() != (tmp_path / "set/left/left_0000.mp4").read_bytes()


def test_write_synthetic_clips_refuses_a_used_directory_and_bad_arguments(tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used/keep.txt").write_text("mine")
    with pytest.raises(RunDirError, match="exists and is not empty") as caught:
        write_synthetic_clips(tmp_path / "used", clips_per_class=1, motions=["left"])
    assert isinstance(caught.value, UserError) and (tmp_path / "used/keep.txt").read_text() == "mine"
    for kwargs, key in (({"motions": ["left", "jump"]}, "motions"), ({"clips_per_class": 0}, "clips_per_class"),
                        ({"size": 33}, "even"), ({"extension": ".gif"}, "extension")):
        with pytest.raises(ConfigError, match=key):
            write_synthetic_clips(tmp_path / "new", **kwargs)
    assert not (tmp_path / "new").exists()
