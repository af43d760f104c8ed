"""One rank of the gradient-caching check in test_train_step.py; run under torchrun with a work directory argument.

Reads `inputs.pt` (global batch and encoder weights), takes this rank's contiguous share, runs polyret's GradCache
over `chunks` micro-batches with the linear encoder wrapped in DistributedDataParallel, counting the gradient
all-reduces DDP launches, and writes loss, gradients and that count to `rank<r>.pt`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook
from torch.nn.parallel import DistributedDataParallel

from polyret.train.loss import InfoNCELoss
from polyret.train.precision import Precision
from polyret.train.step import GradCache


def main(workdir: Path) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    setup = torch.load(workdir / "inputs.pt")
    encoder = torch.nn.Linear(*setup["encoder_shape"], dtype=torch.float64)
    encoder.load_state_dict(setup["encoder"])
    model = DistributedDataParallel(encoder)
    reductions = {"n": 0}

    def counting_hook(state, bucket):  # type: ignore[no-untyped-def]  # DDP checks real (not string) annotations
        reductions["n"] += 1
        return allreduce_hook(state, bucket)  # type: ignore[arg-type]

    model.register_comm_hook(None, counting_hook)
    xq, xp = (setup[key].chunk(world)[rank] for key in ("xq", "xp"))
    chunks = setup["chunks"]
    cache = GradCache(lambda module, x: F.normalize(module(x), dim=-1), encoder, model,
                      InfoNCELoss(setup["temperature"]), Precision("no", torch.device("cpu")))
    out = cache(list(xq.chunk(chunks)), list(xp.chunk(chunks)))
    torch.save({"loss": out.loss, "reductions": reductions["n"],
                "grads": {name: p.grad for name, p in encoder.named_parameters()}}, workdir / f"rank{rank}.pt")
    # Let every rank finish its gloo work and drop DDP's pending futures before the group goes: a rank that
    # tears down while gloo threads still hold work aborts ("terminate called without an active exception").
    dist.barrier()
    del cache, model, out
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
