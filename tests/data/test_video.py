"""Reading, writing and listing video clips (lstmkit.data.video) through PyAV."""
from __future__ import annotations

import sys
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("av")

from lstmkit.data.video import VIDEO_EXTENSIONS, list_clips, read_clip, resize_clip, write_clip  # noqa: E402
from lstmkit.errors import (  # noqa: E402
    ConfigError, DataError, InputFileError, MissingDependencyError, UserError,
)


def moving_square(frames: int = 12, size: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A bright 8x8 square moving right and down by 2 px a frame, and its centre (x, y) per frame."""
    clip = np.full((frames, size, size, 3), (20, 10, 30), np.uint8)
    centres = []
    for i in range(frames):
        x0, y0 = 4 + 2 * i, 6 + i
        clip[i, y0:y0 + 8, x0:x0 + 8] = (250, 220, 90)
        centres.append((x0 + 3.5, y0 + 3.5))
    return clip, np.array(centres)


def centroids(clip: np.ndarray) -> np.ndarray:
    """(x, y) of the bright pixels of each frame."""
    out = []
    for frame in clip:
        rows, columns = np.nonzero(frame.mean(axis=2) > 120)
        out.append((columns.mean(), rows.mean()))
    return np.array(out)


def index_clip(frames: int = 20, size: int = 32) -> np.ndarray:
    """Plain grey frames whose level (12 * i) says which frame i they are."""
    return np.repeat(np.arange(frames, dtype=np.uint8)[:, None, None, None] * 12, size * size * 3).reshape(
        frames, size, size, 3)


def frame_indices(clip: np.ndarray) -> list[int]:
    return np.round(clip.reshape(len(clip), -1).mean(axis=1) / 12).astype(int).tolist()


@pytest.mark.parametrize("extension", [".mp4", ".avi", ".webm"])
def test_round_trip_keeps_the_moving_square_in_place(tmp_path, extension):
    clip, centres = moving_square()
    write_clip(tmp_path / f"clip{extension}", clip, fps=10)
    back = read_clip(tmp_path / f"clip{extension}", frames=len(clip), size=None)
    assert back.shape == clip.shape and back.dtype == np.uint8
    assert np.abs(centroids(back) - centres).max() < 1.0
    assert np.abs(back.astype(int) - clip).mean() < 4  # colours survive too, not only the shape
    assert [p.name for p in tmp_path.iterdir()] == [f"clip{extension}"]  # no temporary file left


def test_frames_picks_evenly_spaced_frames_first_and_last_included(tmp_path):
    write_clip(tmp_path / "index.mp4", index_clip(20))
    assert frame_indices(read_clip(tmp_path / "index.mp4", frames=7, size=None)) == [0, 3, 6, 10, 13, 16, 19]
    assert frame_indices(read_clip(tmp_path / "index.mp4", frames=20, size=None)) == list(range(20))
    assert frame_indices(read_clip(tmp_path / "index.mp4", frames=1, size=None)) == [0]


def test_fps_samples_by_time_stamps(tmp_path):
    write_clip(tmp_path / "index.avi", index_clip(20), fps=10)  # 2 seconds
    assert frame_indices(read_clip(tmp_path / "index.avi", frames=None, fps=5, size=None)) == list(range(0, 20, 2))
    assert frame_indices(read_clip(tmp_path / "index.avi", frames=None, fps=2.5, size=None)) == [0, 4, 8, 12, 16]
    assert len(read_clip(tmp_path / "index.avi", frames=None, fps=3, size=None)) == 6  # ceil(2 s * 3)
    # Above the clip's own rate each frame is shown for as long as it lasts: repeated.
    assert frame_indices(read_clip(tmp_path / "index.avi", frames=None, fps=20, size=None)) == [
        i for i in range(20) for _ in range(2)]


def test_resize_averages_areas_and_takes_height_then_width(tmp_path):
    clip = np.zeros((2, 4, 6, 3), np.uint8)
    clip[:, ::2, ::2] = 200  # one bright pixel in each 2x2 block
    small = resize_clip(clip, (2, 3))
    assert small.shape == (2, 2, 3, 3) and small.dtype == np.uint8 and np.all(small == 50)
    clip[:, :, :3] = 255
    clip[:, :, 3:] = 0
    assert resize_clip(clip, 1).ravel().tolist() == [128] * 6  # 127.5 rounds up, not truncated
    write_clip(tmp_path / "a.mp4", moving_square(4, 48)[0])
    assert read_clip(tmp_path / "a.mp4", frames=4, size=(24, 16)).shape == (4, 24, 16, 3)
    assert read_clip(tmp_path / "a.mp4", frames=4).shape == (4, 64, 64, 3)  # the default size


def test_read_errors_name_the_file_and_say_what_is_wrong(tmp_path):
    def message(error_type, path, **kwargs):
        with pytest.raises(error_type) as caught:
            read_clip(path, **kwargs)
        assert isinstance(caught.value, UserError) and "\n" not in str(caught.value)
        return str(caught.value)

    assert "clip.mp4: no such video file" in message(InputFileError, tmp_path / "clip.mp4")
    assert "is a directory" in message(InputFileError, tmp_path)
    (tmp_path / "text.mp4").write_text("not a video at all\n" * 20)
    assert "text.mp4: not a readable video file (Invalid data" in message(DataError, tmp_path / "text.mp4")
    (tmp_path / "empty.mp4").write_bytes(b"")
    assert "empty.mp4: not a readable video file" in message(DataError, tmp_path / "empty.mp4")
    with wave.open(str(tmp_path / "sound.wav"), "wb") as sound:
        sound.setnchannels(1), sound.setsampwidth(2), sound.setframerate(8000)
        sound.writeframes(b"\0\0" * 800)
    assert "sound.wav: no video stream (the file holds audio)" in message(DataError, tmp_path / "sound.wav")
    write_clip(tmp_path / "five.mp4", index_clip(5))
    assert "five.mp4: 5 frames, 16 asked for (--frames)" in message(DataError, tmp_path / "five.mp4", frames=16)
    assert len(read_clip(tmp_path / "five.mp4", frames=5)) == 5


def test_a_video_stream_without_frames(tmp_path):
    import av

    with av.open(str(tmp_path / "zero.avi"), "w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        container.start_encoding()
    with pytest.raises(DataError, match="zero.avi: no frames could be decoded"):
        read_clip(tmp_path / "zero.avi")


def test_read_arguments_are_checked(tmp_path):
    write_clip(tmp_path / "a.mp4", index_clip(4))
    for kwargs in ({"frames": None}, {"frames": 4, "fps": 5}):
        with pytest.raises(ConfigError, match="exactly one of frames"):
            read_clip(tmp_path / "a.mp4", **kwargs)
    for kwargs, key in (({"frames": 0}, "frames"), ({"frames": None, "fps": -1}, "fps"), ({"size": (3,)}, "size"),
                        ({"size": 0}, "size")):
        with pytest.raises(ConfigError, match=key):
            read_clip(tmp_path / "a.mp4", **kwargs)


def test_write_errors(tmp_path):
    with pytest.raises(DataError, match=r"odd\.mp4: libx264 \(yuv420p\) needs an even width and height.*33x32"):
        write_clip(tmp_path / "odd.mp4", np.zeros((2, 32, 33, 3), np.uint8))
    write_clip(tmp_path / "odd.avi", np.zeros((2, 31, 33, 3), np.uint8))  # mpeg4 takes odd sizes
    assert read_clip(tmp_path / "odd.avi", frames=2, size=None).shape == (2, 31, 33, 3)
    with pytest.raises(DataError, match="uint8 array of shape"):
        write_clip(tmp_path / "f.mp4", np.zeros((2, 32, 32, 3)))
    with pytest.raises(DataError, match=r"extension '\.gif'"):
        write_clip(tmp_path / "a.gif", np.zeros((2, 32, 32, 3), np.uint8))
    with pytest.raises(DataError, match="with codec 'no-such-codec': this PyAV has no such encoder"):
        write_clip(tmp_path / "c.mp4", np.zeros((2, 32, 32, 3), np.uint8), codec="no-such-codec")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["odd.avi"]  # failed writes leave nothing behind


def test_missing_pyav_says_what_to_install(tmp_path, monkeypatch):
    write_clip(tmp_path / "a.mp4", index_clip(4))
    monkeypatch.setitem(sys.modules, "av", None)  # makes ``import av`` raise ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install 'lstmkit\[video\]'"):
        read_clip(tmp_path / "a.mp4")
    with pytest.raises(MissingDependencyError, match=r"pip install 'lstmkit\[video\]'"):
        write_clip(tmp_path / "b.mp4", index_clip(4))


@pytest.fixture
def clip_tree(tmp_path) -> Path:
    """DIR/<label>/ with two labels, plus files list_clips must skip."""
    tiny = index_clip(2, 16)
    for name in ("walk/b.mp4", "walk/a.avi", "run/c.webm", "walk/.hidden.mp4"):
        write_clip(tmp_path / "data" / name, tiny)
    (tmp_path / "data/walk/notes.txt").write_text("not a clip")
    (tmp_path / "data/.cache").mkdir()
    (tmp_path / "data/labels.csv").write_text("path,label\nwalk/b.mp4,walk\nrun/c.webm,run\n")
    return tmp_path / "data"


def test_list_clips_from_label_folders_and_from_csv(clip_tree):
    assert list_clips(clip_tree) == [(clip_tree / "run/c.webm", "run"), (clip_tree / "walk/a.avi", "walk"),
                                     (clip_tree / "walk/b.mp4", "walk")]
    assert list_clips(clip_tree / "labels.csv") == [(clip_tree / "walk/b.mp4", "walk"),
                                                    (clip_tree / "run/c.webm", "run")]
    table = pd.DataFrame({"path": [str(clip_tree / "run/c.webm")], "label": ["run"]})  # paths as they are
    assert list_clips(table) == [(clip_tree / "run/c.webm", "run")]
    assert set(VIDEO_EXTENSIONS) >= {".mp4", ".avi", ".webm", ".mkv", ".mov"}


def test_list_clips_errors(clip_tree, tmp_path):
    (clip_tree / "jump").mkdir()
    with pytest.raises(DataError, match=r"label folder 'jump' holds no clips.*DIR/<label>/\*\.mp4"):
        list_clips(clip_tree)
    (tmp_path / "flat").mkdir()
    write_clip(tmp_path / "flat/x.mp4", index_clip(2, 16))
    with pytest.raises(DataError, match=r"expected DIR/<label>/\*\.mp4.*found 1 clips \(x\.mp4, \.\.\.\) directly"):
        list_clips(tmp_path / "flat")
    with pytest.raises(InputFileError, match="nope: no such directory or CSV file"):
        list_clips(tmp_path / "nope")
    with pytest.raises(DataError, match="or a CSV file with columns path,label"):
        list_clips(tmp_path / "flat/x.mp4")
    (clip_tree / "bad.csv").write_text("file,label\nwalk/b.mp4,walk\n")
    with pytest.raises(DataError, match=r"bad\.csv: no column 'path'; expected columns path,label \(found: file"):
        list_clips(clip_tree / "bad.csv")
    (clip_tree / "gone.csv").write_text("path,label\nwalk/b.mp4,walk\nwalk/gone.mp4,walk\n")
    with pytest.raises(InputFileError, match=r"gone\.csv line 3: no such clip .*gone\.mp4 \(paths are relative"):
        list_clips(clip_tree / "gone.csv")
    (clip_tree / "blank.csv").write_text("path,label\nwalk/b.mp4,\n")
    with pytest.raises(DataError, match=r"blank\.csv line 2: empty label"):
        list_clips(clip_tree / "blank.csv")
    with pytest.raises(InputFileError, match=r"the table row 1: no such clip gone\.mp4$"):
        list_clips(pd.DataFrame({"path": [str(clip_tree / "walk/b.mp4"), "gone.mp4"], "label": ["walk", "walk"]}))
    with pytest.raises(DataError, match="the table: no column 'label'"):
        list_clips(pd.DataFrame({"path": ["a.mp4"]}))
