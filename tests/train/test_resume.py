import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader
from train_models import LastStepModel, SeqModel, assert_same_weights, mse, regression_data, weights
from train_resume_worker import run

from lstmkit.runtime import seed_everything
from lstmkit.train import TrainConfig, Trainer, load_trainer_state
from crashes import Crash, CrashAtStep

WORKER = Path(__file__).with_name("train_resume_worker.py")


def _worker(run_dir, *args):
    env = dict(os.environ, OMP_NUM_THREADS="1", LSTMKIT_NUM_THREADS="1")
    return subprocess.run([sys.executable, str(WORKER), str(run_dir), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=120)


def test_resume_after_sigkill_is_bit_identical(tmp_path):
    reference = run(tmp_path / "reference")  # never interrupted, in this process

    killed = tmp_path / "killed"
    # 8 batches per epoch: step 21 is in epoch 3, after the checkpoint of epoch 2.
    crashed = _worker(killed, "fresh", 21)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    state = load_trainer_state(killed / "trainer_state.pt")
    assert (state["epoch"], state["step"], state["finished"]) == (2, 16, False)
    assert not [p.name for p in killed.iterdir() if p.name.endswith(".tmp")]

    resumed = _worker(killed, "resume")
    assert resumed.returncode == 0, resumed.stderr

    assert_same_weights(load_file(killed / "model.safetensors"), load_file(tmp_path / "reference" / "model.safetensors"))
    final = load_trainer_state(killed / "trainer_state.pt")
    # The last epoch's weights too (model.safetensors holds the best epoch's).
    assert_same_weights(final["model"], load_trainer_state(tmp_path / "reference" / "trainer_state.pt")["model"])
    assert final["step"] == reference.step == 32
    assert [row["val_loss"] for row in final["history"]] == [row["val_loss"] for row in reference.history]


def _stream_run(run_dir, carry_state, callbacks=(), resume=False):
    # Mid-epoch checkpoints every 3 steps, TBPTT, dropout; either a user DataLoader with its own
    # shuffling generator, or a stream in order whose state is carried from batch to batch.
    seed_everything(0)
    model = SeqModel(dropout=0.2)
    data = regression_data(24, steps=8, per_step=True)
    if carry_state:
        loader = DataLoader(data, batch_size=4, shuffle=False, drop_last=True)
    else:
        loader = DataLoader(data, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(5))
    config = TrainConfig(epochs=2, tbptt_steps=3, checkpoint_every_steps=3, lr=1e-2, shuffle=not carry_state,
                         carry_state=carry_state, progress=False)
    trainer = Trainer(model, mse, config, callbacks=callbacks, run_dir=run_dir)
    trainer.fit(loader, resume=resume)
    return trainer


@pytest.mark.parametrize("carry_state", [False, True])
def test_resume_from_a_mid_epoch_checkpoint_is_bit_identical(tmp_path, carry_state):
    reference = _stream_run(tmp_path / "reference", carry_state)
    # 6 batches x 3 segments = 18 steps per epoch; crash at step 26 in epoch 2, last checkpoint at step 24.
    with pytest.raises(Crash):
        _stream_run(tmp_path / "crashed", carry_state, callbacks=[CrashAtStep(26)])
    state = load_trainer_state(tmp_path / "crashed" / "trainer_state.pt")
    assert (state["epoch"], state["step"], state["batch_in_epoch"]) == (1, 24, 2)
    assert (state["ranks"][0]["carried_state"] is not None) == carry_state
    torch.manual_seed(1234)  # whatever the RNG holds now must not matter
    resumed = _stream_run(tmp_path / "crashed", carry_state, resume=True)
    assert_same_weights(weights(resumed.model), weights(reference.model))
    assert resumed.step == reference.step == 36
    assert [r["loss"] for r in resumed.step_log] == [r["loss"] for r in reference.step_log]


def test_resume_needs_a_checkpoint(tmp_path):
    trainer = Trainer(LastStepModel(), mse, TrainConfig(epochs=1, progress=False), run_dir=tmp_path)
    with pytest.raises(ValueError, match="no trainer state at .*nothing to resume"):
        trainer.fit(regression_data(8), resume=True)
