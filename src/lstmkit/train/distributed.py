"""Data-parallel helpers for ``torch.distributed`` (DistributedDataParallel).

Launch a training script with ``torchrun --nproc_per_node N script.py`` (or ``python -m
torch.distributed.run``); the script calls :func:`init_distributed` once, then builds a Trainer as
usual. The Trainer wraps the model in DDP, splits the global batch over the processes with a
DistributedSampler, averages losses/metrics over processes, and writes files from rank 0 only.
Backend: nccl when CUDA is available, gloo otherwise; nothing here requires CUDA.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import BatchSampler, DataLoader, Dataset
from torch.utils.data.distributed import DistributedSampler

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(backend: str | None = None) -> DistInfo:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, MASTER_ADDR, ...).

    Does nothing outside torchrun (no WORLD_SIZE) or when the group already exists. ``backend=None``
    picks nccl with CUDA and gloo otherwise; with CUDA each process uses ``cuda:<LOCAL_RANK>``.
    """
    if "WORLD_SIZE" not in os.environ or not dist.is_available():
        return dist_info()
    if not dist.is_initialized():
        backend = backend or ("nccl" if torch.cuda.is_available() else "gloo")
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
        logger.debug("joined process group: backend %s, rank %d of %d", backend, dist.get_rank(), dist.get_world_size())
    return dist_info()


def dist_info() -> DistInfo:
    """Rank and world size of the current process group (rank 0 of 1 without one)."""
    if not (dist.is_available() and dist.is_initialized()):
        return DistInfo()
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def is_main_process() -> bool:
    return dist_info().is_main


def cleanup_distributed() -> None:
    """Leave the process group: all processes meet at a barrier first, because a process that tears
    down its gloo connections while a peer still uses them can abort the peer."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def barrier() -> None:
    if dist_info().enabled:
        dist.barrier()


def wrap_model(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``DistributedDataParallel(model)`` under a process group, ``model`` itself otherwise.

    DDP broadcasts rank 0's parameters and buffers at construction, so all processes start equal, and
    averages gradients over processes in ``backward()``.
    """
    if not dist_info().enabled:
        return model
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over processes (identity without a process group), in float64."""
    if not dist_info().enabled:
        return list(values)
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def all_true(flag: bool, device: torch.device) -> bool:
    """True only if ``flag`` is True on every process (so all processes take the same branch)."""
    if not dist_info().enabled:
        return flag
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MIN)
    return bool(tensor.item())


def gather_objects(obj) -> list:
    """``[obj of rank 0, obj of rank 1, ...]`` on every process (``[obj]`` without a process group).

    For per-process state in checkpoints (RNG states, carried recurrent state); the transport pickles,
    but only between the processes of one run, never to or from a file.
    """
    info = dist_info()
    if not info.enabled:
        return [obj]
    gathered = [None] * info.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    drop_last: bool = False,
    num_workers: int = 0,
    collate_fn=None,
    info: DistInfo | None = None,
) -> DataLoader:
    """A DataLoader whose order is a function of ``(seed, epoch)`` only, split over processes.

    A dataset with ``batch_indexing = True`` takes a list of indices and returns the batch itself
    (``dataset[[3, 1, 4]]`` as the collate of the three samples would be, with lists for tuples:
    ``lstmkit.tasks.forecast.windows.Pairs``); it is then indexed once per batch.

    ``batch_size`` is the global batch; each of W processes gets ``batch_size // W``. The sampler is a
    DistributedSampler even for one process: its ``set_epoch(e)`` shuffle (a permutation seeded with
    ``seed + e``) needs no saved generator state, so a resumed run replays the same order, and with W
    processes rank r takes positions r, r+W, ... of the same permutation, so every global batch holds
    the same samples as one process with the full batch.
    """
    info = info or dist_info()
    if batch_size % info.world_size:
        raise ValueError(
            f"batch_size {batch_size} (global) is not divisible by the {info.world_size} processes; "
            "choose a multiple so every process gets the same share"
        )
    sampler = DistributedSampler(
        dataset, num_replicas=info.world_size, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=drop_last
    )
    if collate_fn is None and getattr(dataset, "batch_indexing", False):
        # dataset[list of indices] is the collated batch: one gather per tensor instead of a __getitem__
        # per sample and a collate. The same BatchSampler DataLoader would build, so the same batches.
        batches = EpochBatchSampler(sampler, batch_size // info.world_size, drop_last)
        return DataLoader(dataset, batch_size=None, sampler=batches, num_workers=num_workers)
    return DataLoader(
        dataset,
        batch_size=batch_size // info.world_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=num_workers,
        collate_fn=collate_fn,
    )


class EpochBatchSampler(BatchSampler):
    """A BatchSampler over a DistributedSampler that passes ``set_epoch`` on (the Trainer reshuffles
    every epoch through ``loader.sampler.set_epoch``)."""

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
