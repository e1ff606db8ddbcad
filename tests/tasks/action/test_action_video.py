"""Action recognition on video files: frame order matters, the LSTM sees it and the single-frame CNN cannot.

The clips are generated, written as mp4 files and read back through the loader a user's files go
through (:func:`lstmkit.data.video.list_clips` and :func:`lstmkit.data.video.read_clip`).
"""
import json
import os

import numpy as np
import pandas as pd
import pytest
import torch

pytest.importorskip("av", reason="pip install 'lstmkit[video]'")

from lstmkit.cli import main  # noqa: E402
from lstmkit.errors import UserError  # noqa: E402
from lstmkit.tasks.action import ActionConfig, ActionNet, ActionRecognizer  # noqa: E402
from lstmkit.tasks.action.synth import write_synthetic_clips  # noqa: E402
from lstmkit.tasks.base import train_run  # noqa: E402

# Two pairs of classes that differ only in the order of their frames.
ORDER_ONLY = ["left", "right", "appear_then_move", "move_then_disappear"]
TINY = dict(frames=8, size=32, cnn_channels=[8, 16], feature_dim=32, hidden_size=32, epochs=40, patience=40,
            batch_size=8, lr=3e-3, dropout=0.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    out = tmp_path_factory.mktemp("clips") / "set"
    write_synthetic_clips(out, clips_per_class=40, frames=8, size=32, seed=3, motions=ORDER_ONLY)
    return out


@pytest.fixture(scope="module")
def run(clips, tmp_path_factory):
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("runs") / "video"
    app = ActionRecognizer(ActionConfig(**TINY))
    return app, train_run(app, clips, out), out


def test_the_lstm_separates_classes_that_differ_only_in_frame_order(run):
    app, result, _ = run
    assert app.state.kind == "video" and app.classes == sorted(ORDER_ONLY)
    assert result["split"]["test"] == 32  # 20% of each class's 40 clips
    lstm, frame = result["model"]["accuracy"], result["baselines"]["single_frame"]["accuracy"]
    assert lstm >= 0.9, result["model"]  # 1.00 here, and on each of four generated sets (seeds 3-6)
    # The single frames of the two classes of a pair have one distribution: at best a coin toss per pair.
    assert frame <= 0.7, result["baselines"]["single_frame"]


def test_run_directory_and_prediction_from_files(run, clips, tmp_path, capsys):
    app, result, out = run
    for name in ("config.json", "model.safetensors", "metrics.json", "predictions.csv", "confusion.png"):
        assert (out / name).is_file(), name
    saved = json.loads((out / "config.json").read_text())
    assert saved["task"]["kind"] == "video" and saved["task"]["pooling"] == "last"
    files = sorted(str(p) for p in (clips / "right").glob("*.mp4"))[:3]
    assert main(["action", "predict", "--model", str(out), *files, "--plot", str(tmp_path / "plots"),
                 "--out", str(tmp_path / "p.csv")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert list(predicted["id"]) == files and {f"prob_{c}" for c in ORDER_ONLY} <= set(predicted.columns)
    np.testing.assert_allclose(predicted[[f"prob_{c}" for c in app.classes]].sum(axis=1), 1, atol=1e-6)
    assert len(list((tmp_path / "plots").glob("*.png"))) == 3
    loaded = ActionRecognizer.load(out)
    pd.testing.assert_frame_equal(loaded.predict(files), app.predict(files))
    # New clips need no labels: a plain folder (any depth) or a CSV with only a path column.
    assert list(app.predict(str(clips / "right"))["id"])[:3] == files
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "new.csv").write_text("path\n" + "\n".join(os.path.relpath(f, tmp_path / "sub") for f in files))
    by_csv = app.predict(str(tmp_path / "sub" / "new.csv"))
    np.testing.assert_allclose(by_csv["probability"], predicted["probability"], rtol=1e-6)


def test_frames_past_a_clip_length_never_change_its_logits():
    torch.manual_seed(0)
    model = ActionNet("video", 3, hidden_size=8, cnn_channels=[4, 8], feature_dim=8).eval()
    short = torch.randint(0, 256, (3, 16, 16, 3), dtype=torch.uint8)
    long = torch.randint(0, 256, (6, 16, 16, 3), dtype=torch.uint8)
    padded = torch.zeros((2, 6, 16, 16, 3), dtype=torch.uint8)
    padded[0, :3], padded[1] = short, long
    together = model((padded, torch.tensor([3, 6])))
    alone = model((short.unsqueeze(0), torch.tensor([3])))
    torch.testing.assert_close(together[0], alone[0], rtol=0, atol=1e-6)


def test_bad_clips_give_one_clear_line(clips, tmp_path):
    folder = tmp_path / "data"
    for label in ("left", "right"):
        (folder / label).mkdir(parents=True)
        for k, source in enumerate(sorted((clips / label).glob("*.mp4"))[:3]):
            (folder / label / f"{k}.mp4").write_bytes(source.read_bytes())
    (folder / "left" / "broken.mp4").write_text("not a video")
    app = ActionRecognizer(ActionConfig(**TINY))
    with pytest.raises(UserError, match="broken.mp4: not a readable video file"):
        app.check_input(folder)
    (folder / "left" / "broken.mp4").unlink()
    with pytest.raises(UserError, match=r"8 frames, 30 asked for"):
        ActionRecognizer(ActionConfig(**{**TINY, "frames": 30})).check_input(folder)
    (folder / "solo").mkdir()
    (folder / "solo" / "0.mp4").write_bytes((folder / "left" / "0.mp4").read_bytes())
    with pytest.raises(UserError, match="class 'solo' has 1 example"):
        app.check_input(folder)


def test_predict_with_quantize_int8_on_a_video_model(run, clips, tmp_path):
    """`--quantize int8` on a video model: its frame CNN and its recurrent classifier as two int8 graphs (the
    plots call them apart), probabilities within a few hundredths of PyTorch's, the same labels."""
    pytest.importorskip("onnxruntime", reason="pip install 'lstmkit[onnx]'")
    from lstmkit.export.runtime import VideoOnnxModule, quantized_model

    app, _, out = run
    files = sorted(str(p) for label in ORDER_ONLY for p in (clips / label).glob("*.mp4"))[::20]  # 8, 2 per class
    csv = tmp_path / "int8.csv"
    assert main(["action", "predict", "--model", str(out), *files, "--plot", str(tmp_path / "plots"), "--out", str(csv),
                 "--quantize", "int8"]) == 0
    assert len(list((tmp_path / "plots").glob("*.png"))) == len(files)
    got, expected = pd.read_csv(csv), app.predict(files)
    assert list(got["label"]) == list(expected["label"])
    columns = [f"prob_{c}" for c in app.classes]
    assert np.abs(got[columns].to_numpy() - expected[columns].to_numpy()).max() < 0.05
    int8 = quantized_model(out)
    assert isinstance(int8, VideoOnnxModule) and 0 < int8.deviation < 0.1
    clip = app.read_unlabelled(files[:1]).x[0]
    quantized = ActionRecognizer.load(out)
    quantized.model = int8
    assert np.abs(quantized.probabilities_over_time(clip) - app.probabilities_over_time(clip)).max() < 0.05
