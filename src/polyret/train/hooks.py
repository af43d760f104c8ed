"""Hooks: code that watches or extends a training run without living in the loop.

`train(config, hooks=[...])` calls every hook, in order, on every rank, at four points of a run:

    on_train_start(state)   after set-up, data and model, before the first step (also on --resume)
    on_step_start(state)    before step `state.step` draws its batch (state.batch and state.result are None)
    on_step_end(state)      after the optimiser step, the log record and any checkpoint of that step
    on_train_end(state)     after the finished model is saved, before the process group closes

A hook may read anything in `TrainState` and write files of its own (inside `state.output` if it wants them
beside the model). Rules that keep runs correct and resumable:
- Every rank calls the hook. A hook that runs collective operations (an all-reduce, an evaluation sharded over
  ranks) must do so on every rank; one that only writes files should check `state.is_main`.
- A hook that runs the model must leave it as it found it: `state.model.eval()` under `torch.no_grad()`, then
  `state.model.train()`; and it must not consume the global RNG, or a resumed run stops matching an uninterrupted
  one (wrap it in `torch.random.fork_rng()`).
- `on_step_end` of a step that wrote a checkpoint sees `state.checkpoint` set to its directory, complete, on every
  rank: the moment to copy or score it (for best-checkpoint keeping; the loop keeps only the newest two, so copy
  what you want to keep). After a resume, steps up to the checkpoint are not replayed, and state a hook keeps in
  memory is gone: a hook that must survive a kill writes its own file and reads it back in `on_train_start`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from polyret.model.encoder import Encoder
    from polyret.sampling import Batch
    from polyret.train.config import TrainConfig
    from polyret.train.step import StepResult


@dataclass
class TrainState:
    """What a hook sees. The loop updates one instance in place as the run goes."""

    config: "TrainConfig"
    output: Path
    rank: int
    world_size: int
    encoder: "Encoder"
    """Tokenisation, pooling and `encode`; its `.model` is the unwrapped module being trained."""
    model: "torch.nn.Module"
    """The trained module itself (not the DistributedDataParallel wrapper)."""
    start_step: int
    """0 for a fresh run, else the checkpoint step a --resume continued from."""
    step: int = 0
    """The current step (1-based); 0 before the first."""
    batch: "Batch | None" = None
    """This rank's share of the current step's batch (after noise); None in on_step_start."""
    result: "StepResult | None" = None
    """The current step's loss, accuracy and gradient norm; None in on_step_start."""
    record: dict[str, Any] | None = None
    """The step's log record (what rank 0 writes to log.jsonl); None in on_step_start."""
    checkpoint: Path | None = None
    """In on_step_end: the checkpoint directory this step wrote (complete, every rank), else None."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Free room for hooks to share values with each other."""

    @property
    def is_main(self) -> bool:
        return self.rank == 0


class TrainHook:
    """Base class: override the methods you need; the others do nothing."""

    def on_train_start(self, state: TrainState) -> None:
        """Before the first step of this process (fresh or resumed)."""

    def on_step_start(self, state: TrainState) -> None:
        """Before `state.step` draws its batch."""

    def on_step_end(self, state: TrainState) -> None:
        """After `state.step` updated the weights, was logged and (maybe) checkpointed."""

    def on_before_save(self, state: TrainState) -> None:
        """After the last step, before the finished model directory is written (a hook may change the weights
        that get saved: the development hook puts back its best checkpoint's)."""

    def on_train_end(self, state: TrainState) -> None:
        """After the finished model directory is written."""
