"""Checkpoints that make a killed run resume bit-exactly.

A checkpoint holds what changes during training: the trainable weights (frozen ones are reloaded from the base
model, which keeps checkpoints of mE5-small at about a fifth of the full size), optimiser, scheduler, the fp16
loss scale, and per rank its RNG states and sampler position, plus the step. Written into a hidden directory and renamed, so a kill mid-write leaves the previous
checkpoint as the latest one.

Checkpoints hold tensors and plain values only (RNG states included) and are read with `weights_only=True`, so a
checkpoint in a run directory someone hands you cannot run code when polyret resumes it.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polyret.errors import PolyretError

CHECKPOINTS = "checkpoints"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def rng_state(device: torch.device | None = None) -> dict[str, Any]:
    """This process's RNG states: torch (CPU), numpy, python, and its own GPU's when `device` is one.

    Tensors and plain lists only (numpy's key as an int64 tensor, python's state as lists), so the checkpoint loads
    with `weights_only=True`.
    """
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": str(kind), "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached)},
        "python": [int(version), [int(v) for v in internal], gauss_next],
    }
    if device is not None and device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, Any], device: torch.device | None = None) -> None:
    torch.set_rng_state(state["torch"])
    saved = state["numpy"]
    np.random.set_state((saved["kind"], saved["keys"].numpy().astype(np.uint32), saved["pos"], saved["has_gauss"],
                         saved["cached_gaussian"]))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(state["cuda"], device)


def save_checkpoint(output: Path, step: int, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, ranks: list[dict[str, Any]], extra: dict[str, Any], keep: int = 2) -> Path:
    """Write checkpoints/step-N atomically and keep only the newest `keep`.

    `ranks[r]` is rank r's own state (its RNG states and sampler position): the weights and optimiser are the same
    on every rank, but dropout and any other draw differ per rank, so each rank resumes from its own.
    """
    root = output / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step}"
    tmp = root / f".step-{step}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    trainable = {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}
    torch.save({"step": step, "trainable": trainable, "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(), "ranks": ranks, **extra}, tmp / "state.pt")
    with open(tmp / "state.pt", "rb") as handle:
        os.fsync(handle.fileno())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    for old in sorted(list_checkpoints(output))[:-keep]:
        shutil.rmtree(root / f"step-{old}", ignore_errors=True)
    return final


def list_checkpoints(output: Path) -> list[int]:
    root = output / CHECKPOINTS
    if not root.is_dir():
        return []
    steps = [int(m.group(1)) for p in root.iterdir() if (m := _STEP_DIR.match(p.name)) and (p / "state.pt").is_file()]
    return sorted(steps)


def load_checkpoint(output: Path, step: int) -> dict[str, Any]:
    """Read a checkpoint as tensors and plain values only; anything else (a pickled object) is refused unrun."""
    path = output / CHECKPOINTS / f"step-{step}" / "state.pt"
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except pickle.UnpicklingError as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise PolyretError(f"{path}: refused, it does not read as tensors and plain values ({first[:160]}): a "
                           "pickled object, a damaged file, or a checkpoint written before polyret read them "
                           "weights-only (start that run again); polyret never runs code from a checkpoint") from None
    except (RuntimeError, EOFError, OSError) as err:
        raise PolyretError(f"{path}: unreadable checkpoint ({str(err).splitlines()[0][:160] if str(err) else err!r}); "
                           "delete this step directory to resume from the one before") from None


def restore(state: dict[str, Any], model: torch.nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any,
            rank: int = 0, world_size: int = 1, device: torch.device | None = None) -> dict[str, Any]:
    """Load weights, optimiser and scheduler, and this rank's RNG states; returns this rank's saved state."""
    ranks = state["ranks"]
    if len(ranks) != world_size:
        raise PolyretError(f"checkpoint of step {state['step']} was written by {len(ranks)} rank(s); resume it with "
                           f"as many (this run has {world_size})")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state["trainable"].items():
            params[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(ranks[rank]["rng"], device)
    return ranks[rank]
