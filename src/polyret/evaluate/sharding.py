"""Sharded encoding under torchrun: `torchrun --nproc_per_node N -m polyret evaluate ...`.

Rank 0 runs the evaluation as usual; the other ranks only encode. For every encode call rank 0 broadcasts the
texts, every rank walks the same batch plan (Encoder.batch_plan: windows tokenised as they come, sorted longest
first) and forwards every N-th batch, and one all_gather per round of N batches brings the vectors to rank 0,
which caches them and carries on. Every batch holds exactly the texts, in the order, that one process would give
it, so float32 embeddings equal a single process's bit for bit (with the same threads per process; torchrun
sets OMP_NUM_THREADS=1). gloo on CPU, NCCL on GPUs (each rank on cuda:LOCAL_RANK).

Only rank 0 reads or writes the embedding cache and the output directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.distributed as dist

from polyret.errors import PolyretError

if TYPE_CHECKING:
    from polyret.model.encoder import Encoder

Batch = tuple[list[int], list[list[int]]]


@dataclass
class Sharding:
    """This process's place among the encoding ranks (a process group is initialised)."""

    rank: int
    world: int
    backend: str
    texts_here: int = 0
    """Texts this rank forwarded itself (its share of the work)."""

    def run(self, encoder: "Encoder", batches: Iterable[Batch]) -> Iterator[tuple[list[int], np.ndarray]]:
        """Forward this rank's share of `batches`; on rank 0 yield every batch's (rows, vectors) in plan order."""
        iterator = iter(batches)
        while True:
            round_ = [b for _, b in zip(range(self.world), iterator)]
            if not round_:
                return
            mine = None
            if self.rank < len(round_):
                mine = (round_[self.rank][0], encoder.forward_ids(round_[self.rank][1]))
                self.texts_here += len(mine[0])
            gathered: list[tuple[list[int], np.ndarray] | None] = [None] * self.world
            dist.all_gather_object(gathered, mine)
            if self.rank == 0:
                yield from (part for part in gathered if part is not None)

    def serve(self, encoder: "Encoder") -> None:
        """Ranks > 0: encode what rank 0 sends until it says stop."""
        while True:
            box: list[list[str] | None] = [None]
            dist.broadcast_object_list(box, src=0)
            if box[0] is None:
                return
            for _ in self.run(encoder, encoder.batch_plan(box[0])):
                pass

    def announce(self, inputs: list[str]) -> None:
        """Rank 0: tell the workers which texts the next encode covers."""
        dist.broadcast_object_list([inputs], src=0)

    def stop(self) -> None:
        if self.rank == 0:
            dist.broadcast_object_list([None], src=0)


def from_environment(device: str, timeout_minutes: float = 60.0) -> Sharding | None:
    """A Sharding when started by torchrun with WORLD_SIZE > 1 (initialising the process group), else None."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return None
    use_cuda = device.startswith("cuda") or (device == "auto" and torch.cuda.is_available())
    backend = "nccl" if use_cuda else "gloo"
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        try:
            dist.init_process_group(backend, timeout=timedelta(minutes=timeout_minutes))
        except (RuntimeError, ValueError) as err:
            raise PolyretError(f"torchrun: cannot start the {backend} process group ({err})") from None
    return Sharding(rank=dist.get_rank(), world=dist.get_world_size(), backend=backend)


def rank_device(sharding: Sharding | None, device: str) -> str:
    """Each GPU rank encodes on its own device; CPU ranks keep the requested one."""
    if sharding is None or sharding.backend != "nccl" or device not in ("auto", "cuda"):
        return device
    return f"cuda:{os.environ.get('LOCAL_RANK', '0')}"
