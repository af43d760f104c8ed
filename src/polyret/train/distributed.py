"""Rank facts from torchrun's environment, and the process group; one process when absent.

Each rank trains on its own device: `pick_device` maps `auto`/`cuda` to cuda:LOCAL_RANK, this module makes it the
current CUDA device (so NCCL and `all_gather_object` use it) before the process group starts, with NCCL on GPUs
and gloo on the CPU, and wraps the model in DistributedDataParallel on that device.
"""

from __future__ import annotations

import os
from typing import Any

import torch

from polyret.errors import PolyretError


def backend_for(device: torch.device) -> str:
    """NCCL for GPUs, gloo for the CPU."""
    return "nccl" if device.type == "cuda" else "gloo"


class Distributed:
    """This process's rank and world size; initialises the process group under torchrun."""

    def __init__(self, device: torch.device) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = device
        if device.type == "cuda":
            if self.world_size > 1 and device.index != self.local_rank:
                raise PolyretError(f"--device {device}: under torchrun every rank takes its own GPU; give --device "
                                   f"auto or cuda (local rank {self.local_rank} would use cuda:{self.local_rank})")
            torch.cuda.set_device(device)
        if self.world_size > 1 and not torch.distributed.is_initialized():
            kwargs: dict[str, Any] = {"device_id": device} if device.type == "cuda" else {}
            torch.distributed.init_process_group(backend=backend_for(device), **kwargs)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The module the forward passes go through: DDP on this rank's device under torchrun, else the model."""
        if self.world_size == 1:
            return model
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=device_ids)

    def gather_objects(self, value: Any) -> list[Any]:
        """Every rank's `value`, in rank order (on every rank); [value] on one process."""
        if self.world_size == 1:
            return [value]
        values: list[Any] = [None] * self.world_size
        torch.distributed.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.world_size > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
