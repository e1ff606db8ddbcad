import json
import pickle

import pytest
import torch
from safetensors.torch import save_file
from train_models import LastStepModel, SeqModel, TiedModel

from lstmkit.train import FORMAT_VERSION, ModelFileError, load_model, read_config, save_model
from lstmkit.files import atomic_write_text


@pytest.fixture
def saved(tmp_path):
    model = SeqModel(input_size=3, hidden_size=4)
    save_model(model, tmp_path / "m")
    return model, tmp_path / "m"


def test_save_load_gives_identical_predictions(saved):
    model, directory = saved
    loaded = load_model(directory)
    assert type(loaded) is SeqModel and not loaded.training
    x = torch.randn(2, 5, 3)
    assert torch.equal(model.eval()(x)[0], loaded(x)[0])
    config = json.loads((directory / "config.json").read_text())
    assert config == {"model_type": "_test_train_seq", "format_version": FORMAT_VERSION,
                      "model": {"input_size": 3, "hidden_size": 4, "output_size": 1, "dropout": 0.0}}


def test_save_merges_existing_config_sections(saved):
    model, directory = saved
    config = read_config(directory)
    config.update(task={"name": "forecast", "horizon": 3}, data={"columns": ["a", "b"]})
    atomic_write_text(directory / "config.json", json.dumps(config))
    save_model(model, directory, extra_config={"train": {"epochs": 2}})
    config = read_config(directory)
    assert config["task"] == {"name": "forecast", "horizon": 3}
    assert config["data"] == {"columns": ["a", "b"]} and config["train"] == {"epochs": 2}
    assert config["model_type"] == "_test_train_seq"


def test_tied_weights_are_stored_once_and_stay_tied(tmp_path):
    model = TiedModel()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    assert loaded.out.weight is loaded.embed.weight
    tokens = torch.randint(0, 7, (2, 5))
    assert torch.equal(model.eval()(tokens), loaded(tokens))


def test_float64_model_round_trips_without_rounding(tmp_path):
    model = LastStepModel().double()
    save_model(model, tmp_path)
    loaded = load_model(tmp_path)
    x = torch.randn(2, 4, 2, dtype=torch.float64)
    assert torch.equal(model.eval()(x), loaded(x))


def test_unregistered_model_is_refused(tmp_path):
    with pytest.raises(TypeError, match="not a registered lstmkit model"):
        save_model(torch.nn.Linear(2, 2), tmp_path)


def _edit_config(directory, **changes):
    config = read_config(directory)
    config.update(changes)
    (directory / "config.json").write_text(json.dumps(config))


def test_pickle_file_renamed_is_refused(saved):
    model, directory = saved
    with open(directory / "model.safetensors", "wb") as handle:
        pickle.dump(model.state_dict(), handle)
    with pytest.raises(ModelFileError, match="is a pickle file, not safetensors; lstmkit never unpickles"):
        load_model(directory)


def test_a_header_whose_length_looks_like_the_pickle_marker_still_loads(tmp_path):
    from lstmkit.nn import LSTM

    model = LSTM(4, 5, num_layers=2)  # its safetensors header is 640 bytes: the file starts 80 02, as pickle does
    save_model(model, tmp_path)
    assert (tmp_path / "model.safetensors").read_bytes()[:2] == b"\x80\x02"
    loaded = load_model(tmp_path)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_torch_save_file_renamed_is_refused(saved):
    model, directory = saved
    torch.save(model.state_dict(), directory / "model.safetensors")
    with pytest.raises(ModelFileError, match=r"is a zip archive \(torch.save output.*not safetensors"):
        load_model(directory)


def test_truncated_safetensors_is_refused(saved):
    _, directory = saved
    path = directory / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="is corrupted or truncated"):
        load_model(directory)


def test_garbage_bytes_are_refused(saved):
    _, directory = saved
    (directory / "model.safetensors").write_bytes(b"\x13\x00\x00\x00\x00\x00\x00\x00not json at all")
    with pytest.raises(ModelFileError, match="is corrupted or truncated"):
        load_model(directory)


def test_wrong_shapes_are_refused(saved):
    _, directory = saved
    _edit_config(directory, model={"input_size": 3, "hidden_size": 5, "output_size": 1})
    with pytest.raises(ModelFileError, match=r"shape mismatch for 'head.weight': the file has \(1, 4\), the model "
                                             r"built from config.json expects \(1, 5\)"):
        load_model(directory)


def test_missing_and_unexpected_tensors_are_refused(saved):
    model, directory = saved
    tensors = {k: v.clone() for k, v in model.state_dict().items() if k != "head.bias"}
    tensors["extra"] = torch.zeros(1)
    save_file(tensors, str(directory / "model.safetensors"))
    with pytest.raises(ModelFileError, match="missing 'head.bias'; unexpected 'extra'"):
        load_model(directory)


def test_unknown_model_type_is_refused(saved):
    _, directory = saved
    _edit_config(directory, model_type="no_such_model")
    with pytest.raises(ModelFileError, match="unknown model_type 'no_such_model'; registered model types: .*_test_train_seq"):
        load_model(directory)


def test_future_format_version_is_refused(saved):
    _, directory = saved
    _edit_config(directory, format_version=FORMAT_VERSION + 1)
    with pytest.raises(ModelFileError, match=r"format_version 2 is newer than this lstmkit supports \(1\); upgrade"):
        load_model(directory)


def test_missing_files_are_refused(saved, tmp_path):
    _, directory = saved
    with pytest.raises(ModelFileError, match="does not exist"):
        load_model(tmp_path / "nowhere")
    (directory / "model.safetensors").unlink()
    with pytest.raises(ModelFileError, match="the weights file is missing"):
        load_model(directory)
    (directory / "config.json").unlink()
    with pytest.raises(ModelFileError, match="no config.json in .*: not an lstmkit model directory"):
        load_model(directory)


def test_invalid_json_and_bad_model_section_are_refused(saved):
    _, directory = saved
    _edit_config(directory, model={"input_size": 3, "hidden_size": 4, "nonsense": 1})
    with pytest.raises(ModelFileError, match="could not build SeqModel from its 'model' section: TypeError"):
        load_model(directory)
    (directory / "config.json").write_text("{not json")
    with pytest.raises(ModelFileError, match="is not valid JSON"):
        load_model(directory)


def test_model_file_error_is_a_value_error():
    assert issubclass(ModelFileError, ValueError)
