import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from safetensors.torch import load_file
from train_ddp_worker import run

WORKER = Path(__file__).with_name("train_ddp_worker.py")


@pytest.mark.skipif(not (dist.is_available() and dist.is_gloo_available()), reason="needs torch.distributed with gloo")
def test_two_process_ddp_matches_one_process(tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1", LSTMKIT_NUM_THREADS="1")
    launched = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--standalone",
         str(WORKER), str(tmp_path / "ddp")],
        env=env, capture_output=True, text=True, timeout=180,
    )
    assert launched.returncode == 0, launched.stderr[-4000:]

    single = run(tmp_path / "single")
    ddp_weights = load_file(tmp_path / "ddp" / "model.safetensors")
    single_weights = load_file(tmp_path / "single" / "model.safetensors")
    assert ddp_weights.keys() == single_weights.keys()
    for name in single_weights:
        torch.testing.assert_close(ddp_weights[name], single_weights[name], rtol=0, atol=1e-6)
    # Only rank 0 wrote files, and the same ones as a single process.
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(p.name for p in (tmp_path / "single").iterdir())
    assert single.step == 8  # 2 epochs x 32 samples / global batch 8
