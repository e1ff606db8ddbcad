import os
import random

import numpy as np
import pytest
import torch

from lstmkit.files import atomic_write, atomic_write_text
from lstmkit.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    load_trainer_state,
    restore_rng_state,
    save_trainer_state,
)


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "state.txt"
    atomic_write_text(path, "old")

    def crash(tmp):
        tmp.write_text("half of the new cont")
        raise KeyboardInterrupt  # as if killed mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, crash)
    assert path.read_text() == "old"
    assert os.listdir(tmp_path) == ["state.txt"]


def test_rng_states_round_trip_through_weights_only_load(tmp_path):
    generator = torch.Generator().manual_seed(7)
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    np.random.randn()  # leaves a cached gaussian in numpy's state
    save_trainer_state(tmp_path / "s.pt", {"rng": capture_rng_state([generator])})
    expected = (torch.rand(3), np.random.randn(3), random.random(), torch.rand(2, generator=generator))
    torch.manual_seed(9), np.random.seed(9), random.seed(9), generator.manual_seed(9)
    restore_rng_state(load_trainer_state(tmp_path / "s.pt")["rng"], [generator])
    actual = (torch.rand(3), np.random.randn(3), random.random(), torch.rand(2, generator=generator))
    assert torch.equal(expected[0], actual[0]) and np.array_equal(expected[1], actual[1])
    assert expected[2] == actual[2] and torch.equal(expected[3], actual[3])


def test_trainer_state_refuses_missing_foreign_and_arbitrary_objects(tmp_path):
    with pytest.raises(CheckpointError, match="no trainer state at .*nothing to resume"):
        load_trainer_state(tmp_path / "missing.pt")
    torch.save({"format_version": 99}, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format_version 99; this lstmkit reads 1"):
        load_trainer_state(tmp_path / "future.pt")
    torch.save({"format_version": 1, "obj": torch.nn.Linear(1, 1)}, tmp_path / "objects.pt")
    with pytest.raises(CheckpointError, match="is not a readable trainer state file"):
        load_trainer_state(tmp_path / "objects.pt")


def test_atomic_write_gives_ordinary_permissions(tmp_path):
    import os


    path = atomic_write_text(tmp_path / "a.txt", "x")
    mask = os.umask(0)
    os.umask(mask)
    assert (path.stat().st_mode & 0o777) == (0o666 & ~mask)
