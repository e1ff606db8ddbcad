"""Action recognition on sensor sequences: the pipeline, the split, pads, save/load, resume, the CLI, bad input."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from lstmkit.cli import main
from lstmkit.data import pad_sequences
from lstmkit.errors import DataError, UserError
from lstmkit.tasks.action import ActionConfig, ActionNet, ActionRecognizer
from lstmkit.tasks.action.inputs import detect_kind
from lstmkit.tasks.base import train_run
from crashes import Crash, CrashAfterEpoch
from labelled_tables import motion_table

FAST = dict(epochs=25, patience=25, hidden_size=24, batch_size=8, lr=1e-2)


@pytest.fixture(scope="module")
def fitted():
    table = motion_table(48)
    app = ActionRecognizer(ActionConfig(**FAST)).fit(table)
    return app, table


def test_it_learns_the_motions_and_beats_the_majority_class(fitted):
    app, table = fitted
    result = app.evaluate(table)
    assert app.config.kind == "sensor" and app.config.bidirectional and app.config.pooling == "mean"
    assert result["split"]["train"] + result["split"]["val"] + result["split"]["test"] == 48
    assert result["model"]["accuracy"] >= 0.9
    assert result["baselines"]["majority"]["accuracy"] == pytest.approx(1 / 3)
    assert result["baselines"]["dtw_1nn"]["accuracy"] >= 0.8  # the shapes are plain to DTW as well
    assert sum(map(sum, result["model"]["confusion_matrix"])) == result["split"]["test"]
    predictions = result["predictions"]
    assert (predictions["label"] == predictions["predicted"]).mean() == result["model"]["accuracy"]


def test_channel_statistics_come_from_the_training_part_only(fitted):
    app, table = fitted
    examples = app.read_unlabelled(table)
    train, val, test = app.split(app.read_labelled(table))
    rows = np.concatenate([examples.x[i] for i in train])
    np.testing.assert_allclose(app.state.mean, rows.mean(0), rtol=1e-5)
    np.testing.assert_allclose(app.state.std, rows.std(0), rtol=1e-5)
    everything = np.concatenate(examples.x)
    assert not np.allclose(app.state.mean, everything.mean(0), rtol=1e-5)


def test_pads_never_change_a_sequence_logits():
    torch.manual_seed(0)
    for conv in (0, 6):
        model = ActionNet("sensor", 3, input_size=2, hidden_size=8, bidirectional=True, pooling="mean",
                          conv_channels=conv, conv_kernel=5).eval()
        short, long = torch.randn(5, 2), torch.randn(12, 2)
        x, lengths = pad_sequences([short, long])
        together = model((x, lengths))
        alone = model((short.unsqueeze(0), torch.tensor([5])))
        torch.testing.assert_close(together[0], alone[0], rtol=0, atol=1e-6)


def test_probabilities_over_time_are_those_of_the_sequence_cut_at_each_step(fitted):
    app, table = fitted
    sequence = app.read_unlabelled(table).x[4]
    over_time = app.probabilities_over_time(sequence)
    assert over_time.shape == (len(sequence), 3)
    np.testing.assert_allclose(over_time.sum(1), 1, atol=1e-9)
    for t in (1, 3, len(sequence)):
        cut = app.predict_proba([sequence[:t]])[0]
        np.testing.assert_allclose(over_time[t - 1], cut, atol=1e-6)


def test_a_fixed_split_is_kept_and_validation_comes_from_its_training_part():
    table = motion_table(60)
    test_ids = sorted(table["sequence"].unique())[-15:]
    table["split"] = np.where(table["sequence"].isin(test_ids), "test", "train")
    app = ActionRecognizer(ActionConfig(**{**FAST, "epochs": 2}))
    examples = app.read_labelled(table)
    train, val, test = app.split(examples)
    assert sorted(examples.ids[i] for i in test) == test_ids
    assert set(train) | set(val) == {i for i, s in enumerate(examples.split) if s == "train"}
    assert not set(val) & set(train) and len(val) == 9  # 20% of each class's 15 training sequences


def test_save_and_load_give_the_same_predictions(fitted, tmp_path):
    app, table = fitted
    app.save(tmp_path / "m")
    loaded = ActionRecognizer.load(tmp_path / "m")
    pd.testing.assert_frame_equal(app.predict(table), loaded.predict(table))
    assert loaded.classes == ["fall", "peak", "rise"]


def test_a_resumed_run_equals_an_uninterrupted_one(tmp_path):
    table = motion_table(30)
    config = ActionConfig(**{**FAST, "epochs": 4, "patience": 10, "baselines": False})
    whole = train_run(ActionRecognizer(config), table, tmp_path / "whole")
    killed = ActionRecognizer(config)
    killed.callbacks.append(CrashAfterEpoch(2))
    with pytest.raises(Crash):
        train_run(killed, table, tmp_path / "killed")
    resumed = train_run(ActionRecognizer(ActionConfig(hidden_size=99)), table, tmp_path / "killed", resume=True)
    assert resumed["model"] == whole["model"] and resumed["epochs"] == 4
    weights = [load_file(tmp_path / d / "model.safetensors") for d in ("whole", "killed")]
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


# ------------------------------------------------------------------------------------------ input
def test_kind_detection(tmp_path):
    assert detect_kind(motion_table(6)) == "sensor"
    assert detect_kind("gunpoint") == "sensor"
    (tmp_path / "clips.csv").write_text("path,label\na.mp4,x\n")
    assert detect_kind(tmp_path / "clips.csv") == "video"
    (tmp_path / "walk").mkdir()
    (tmp_path / "walk" / "a.mp4").write_bytes(b"")
    assert detect_kind(tmp_path) == "video"


def test_a_folder_of_csv_sequences_per_class(tmp_path):
    table = motion_table(12)
    for sequence, rows in table.groupby("sequence"):
        folder = tmp_path / rows["label"].iloc[0]
        folder.mkdir(exist_ok=True)
        rows[["ax", "ay"]].to_csv(folder / f"{sequence}.csv", index=False)
    app = ActionRecognizer(ActionConfig())
    examples = app.read_labelled(tmp_path)
    assert len(examples) == 12 and examples.channels == ["ax", "ay"]
    first = examples.ids.index("fall/s001.csv")
    np.testing.assert_allclose(examples.x[first], table[table.sequence == "s001"][["ax", "ay"]], rtol=1e-6)


@pytest.mark.parametrize(("change", "message"), [
    (lambda t: t.assign(label="walk"), "only one class ('walk')"),
    (lambda t: t[t.sequence != "s000"].assign(label=lambda d: np.where(d.sequence == "s003", "rare", d.label)),
     "class 'rare' has 1 example(s)"),
    (lambda t: t.drop(columns="sequence"), "id column 'sequence' not found"),
    (lambda t: t.assign(ax=lambda d: d.ax.where(d.index != 7)), "sequence 's000': column 'ax' is missing a value at row 7"),
    (lambda t: t.assign(ax=lambda d: d.ax.astype(object).where(d.index != 5, "n/a")),
     "column 'ax' holds numbers but row 5 has 'n/a'"),
    (lambda t: t.assign(label=lambda d: np.where(d.index == 3, "other", d.label)),
     "sequence 's000' has two labels in column 'label'"),
    (lambda t: t.assign(split="validation"), "expected one of 'train' or 'test'"),
])
def test_bad_tables_give_one_clear_line(change, message):
    app = ActionRecognizer(ActionConfig(**FAST))
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        app.check_input(change(motion_table(12)))


def test_predict_refuses_other_channels(fitted):
    app, table = fitted
    with pytest.raises(DataError, match=r"reads channels \['ax', 'ay'\], the data has \['ax'\]"):
        app.predict(table.drop(columns="ay"))


# ------------------------------------------------------------------------------------ command line
def test_command_line_train_predict_evaluate(tmp_path, capsys):
    csv = tmp_path / "motions.csv"
    motion_table(36).to_csv(csv, index=False)
    out = tmp_path / "run"
    assert main(["action", "train", str(csv), "--out", str(out), "--epochs", "3", "--hidden-size", "8"]) == 0
    printed = capsys.readouterr().out
    assert "dtw_1nn" in printed and "majority" in printed
    for name in ("config.json", "model.safetensors", "metrics.json", "predictions.csv", "confusion.png",
                 "history.csv"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"model", "baselines", "split", "epochs"} and metrics["epochs"] == 3
    assert json.loads((out / "config.json").read_text())["task"]["name"] == "action"

    assert main(["action", "predict", "--model", str(out), str(csv), "--out", str(tmp_path / "p.csv"),
                 "--plot", str(tmp_path / "plots")]) == 0
    predicted = pd.read_csv(tmp_path / "p.csv")
    assert len(predicted) == 36 and {"id", "label", "probability", "prob_rise"} <= set(predicted.columns)
    assert len(list((tmp_path / "plots").glob("*.png"))) == 20
    assert main(["action", "evaluate", "--model", str(out), str(csv)]) == 0
    assert "LSTM (lstmkit)" in capsys.readouterr().out
    again = ActionRecognizer.load(out).evaluate(str(csv), baselines=False)
    assert again["model"] == metrics["model"] and again["split"]["test"] == metrics["split"]["test"]

    # The LSTM inside, through `lstmkit inspect`: what it reads is the convolution's 64 channels.
    assert main(["inspect", "--model", str(out), str(csv), "--out", str(tmp_path / "gates")]) == 0
    stats = json.loads((tmp_path / "gates" / "gate_stats.json").read_text())
    assert stats["lstm"]["bidirectional"] and stats["lstm"]["input_size"] == 64, stats["lstm"]
    assert (tmp_path / "gates" / "gates.png").is_file()

    assert main(["action", "train", str(csv), "--out", str(out)]) == 2  # not empty
    assert main(["action", "train", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert "missing.csv: no such file or directory" in err and not (tmp_path / "r2").exists()


def test_prediction_tables_need_no_labels_and_keep_their_ids(fitted):
    app, table = fitted
    new = table[table.sequence.isin(["s001", "s002"])].drop(columns="label").assign(
        sequence=lambda d: d.sequence.str.replace("s", "00"), split="0")  # ids "00001"; a split column of noise
    predicted = app.predict(new)
    assert list(predicted["id"]) == ["00001", "00002"]
    reference = app.predict(table[table.sequence.isin(["s001", "s002"])])
    np.testing.assert_allclose(predicted["probability"], reference["probability"])


def test_per_sequence_standardisation_and_its_prefixes():
    app = ActionRecognizer(ActionConfig(**{**FAST, "epochs": 3, "normalize": "sequence", "conv_layers": 2}))
    app.fit(motion_table(24))
    sequence = app.read_unlabelled(motion_table(3, seed=5)).x[0]
    over_time = app.probabilities_over_time(sequence)
    assert app.state.mean == [0.0, 0.0] and app.state.std == [1.0, 1.0]
    for t in (2, 5, len(sequence)):  # each prefix standardised on its own, as if the sequence ended there
        np.testing.assert_allclose(over_time[t - 1], app.predict_proba([sequence[:t]])[0], atol=1e-6)


@pytest.mark.parametrize(("values", "message"), [
    ({"conv_kernel": 4}, "conv_kernel must be odd"),
    ({"conv_channels": True}, "conv_channels must be 0"),
    ({"kind": "audio"}, "kind must be one of auto, video, sensor"),
    ({"val_fraction": 0.5, "test_fraction": 0.5}, "sum below 1"),
])
def test_bad_settings(values, message):
    with pytest.raises(UserError, match=message):
        ActionConfig(**values)


# ------------------------------------------------------------------------------------------ real data
@pytest.mark.extra
def test_basic_motions_with_the_defaults():
    """The smartwatch set on its fixed split: the LSTM (seed 0) at least as good as the archive's 1-NN DTW."""
    from lstmkit.data import load_dataset
    from lstmkit.errors import MissingDependencyError

    try:
        load_dataset("basic_motions")
    except MissingDependencyError as error:
        pytest.skip(str(error))
    app = ActionRecognizer(ActionConfig()).fit("basic_motions")
    result = app.evaluate("basic_motions")
    assert result["split"]["fixed"] and result["split"]["test"] == 40
    assert result["baselines"]["dtw_1nn"]["accuracy"] == pytest.approx(0.975)  # the archive's number
    assert result["model"]["accuracy"] >= 0.95


# ------------------------------------------------------------------------------------------- other cells
def test_cli_train_with_a_cifg_lstm_keeps_the_cell_and_its_predictions(tmp_path, capsys):
    table = motion_table(24)
    csv = tmp_path / "motions.csv"
    table.to_csv(csv, index=False)
    out = tmp_path / "run"
    assert main(["action", "train", str(csv), "--epochs", "2", "--hidden-size", "8", "--conv-channels", "0",
                 "--no-baselines", "--cell", "cifg", "--zoneout", "0.1", "--out", str(out)]) == 0
    capsys.readouterr()
    saved = json.loads((out / "config.json").read_text())
    assert (saved["task"]["cell"], saved["task"]["zoneout"]) == ("cifg", 0.1) and saved["model"]["cell"] == "cifg"
    loaded = ActionRecognizer.load(out)
    assert loaded.model.lstm.coupled and not loaded.model.lstm.peephole and loaded.model.lstm.zoneout == 0.1
    app = ActionRecognizer(loaded.config).fit(table)  # the same run through the Python API
    pd.testing.assert_frame_equal(app.predict(table), loaded.predict(table))
    sequence = loaded.read_unlabelled(table).x[4]  # the live view: each step as the sequence cut there
    over_time = loaded.probabilities_over_time(sequence)
    np.testing.assert_allclose(over_time[2], loaded.predict_proba([sequence[:3]])[0], atol=1e-6)
