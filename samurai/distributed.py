"""Process-group plumbing for ``torchrun`` (and CPU tests with gloo): training, eval and track.

Under ``torchrun --nnodes N --nproc_per_node G`` every process sees ``WORLD_SIZE``/``RANK``/
``LOCAL_RANK``; ``setup`` joins the group (NCCL on CUDA, gloo otherwise). Without torchrun it
reports a single process and touches nothing. Rank 0 writes every final file.
"""

from __future__ import annotations

import datetime
import os
from typing import NamedTuple

import torch
import torch.distributed as dist


class DistInfo(NamedTuple):
    rank: int
    world_size: int
    local_rank: int
    initialized_here: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def setup(timeout: datetime.timedelta | None = None) -> DistInfo:
    """Join the process group described by the environment, or report a single process.

    ``timeout`` bounds every collective (torch's default when None): eval and track wait at a
    barrier for the slowest rank, so they pass a long one.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if world <= 1:
        return DistInfo(0, 1, 0, False)
    if dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, False)
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local_rank)
    if timeout is None:
        dist.init_process_group(backend)
    else:
        dist.init_process_group(backend, timeout=timeout)
    return DistInfo(dist.get_rank(), dist.get_world_size(), local_rank, True)


def device_for(requested: str | None, info: DistInfo) -> str | None:
    """The torch device of this process: ``requested`` for a single process (None: the
    predictor's default); under torchrun each rank takes ``cuda:LOCAL_RANK`` when CUDA is
    present and ``--device`` is unset or plain ``cuda``."""
    if info.world_size == 1:
        return requested
    if requested in (None, "cuda") and torch.cuda.is_available():
        return f"cuda:{info.local_rank}"
    return requested or "cpu"


def cleanup(info: DistInfo) -> None:
    if info.initialized_here and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.world_size > 1:
        dist.barrier()


def all_reduce_sum(tensor: torch.Tensor, info: DistInfo) -> torch.Tensor:
    """Sum ``tensor`` over processes (in place; a no-op for one process)."""
    if info.world_size > 1:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def all_gather_objects(obj, info: DistInfo) -> list:
    if info.world_size == 1:
        return [obj]
    out = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out
