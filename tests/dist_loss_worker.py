"""One rank of the data-parallel check in test_loss.py; run under torchrun with a work directory argument.

Reads `inputs.pt` (global batch, encoder weights, cases) written by the test, takes this rank's contiguous share
of every tensor, encodes it with the shared linear encoder wrapped in DistributedDataParallel (which averages
gradients over ranks), and writes the loss, accuracy and parameter gradients of every case to `rank<r>.pt`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from polyret.train.loss import InfoNCELoss


def main(workdir: Path) -> None:
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    setup = torch.load(workdir / "inputs.pt")
    encoder = torch.nn.Linear(*setup["encoder_shape"], dtype=torch.float64)
    encoder.load_state_dict(setup["encoder"])
    model = DistributedDataParallel(encoder)
    xq, xp, xn = (setup[key].chunk(world)[rank] for key in ("xq", "xp", "xn"))

    results = []
    for case in setup["cases"]:
        model.zero_grad()
        # One forward for all three inputs: a shared encoder, as the trainer will use it.
        q, p, n = F.normalize(model(torch.cat([xq, xp, xn])), dim=-1).split([len(xq), len(xp), len(xn)])
        loss_fn = InfoNCELoss(
            temperature=setup["temperature"],
            symmetric=case["symmetric"],
            cross_device_negatives=case["cross_device"],
        )
        out = loss_fn(q, p, n if case["hard_negatives"] else None)
        out.loss.backward()
        grads = {name: param.grad.clone() for name, param in encoder.named_parameters()}
        results.append({"loss": out.loss.detach(), "accuracy": out.accuracy, "grads": grads})

    torch.save(results, workdir / f"rank{rank}.pt")
    dist.barrier()  # every rank done with gloo before any tears the group down
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
