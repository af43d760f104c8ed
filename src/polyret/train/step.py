"""The training step: one batch in, one optimiser update out; a test can call it on a batch of its own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder
from polyret.train.config import TrainConfig
from polyret.train.loss import InfoNCELoss
from polyret.train.precision import Precision


@dataclass(frozen=True)
class StepResult:
    """What one optimiser step reports."""

    loss: float
    """Loss of the global batch (the mean of every rank's share)."""
    accuracy: float
    """Share of the global batch's queries whose positive scored highest."""
    local_loss: float
    """This rank's share of the loss: the global loss restricted to this rank's queries."""
    grad_norm: float
    """Gradient norm before clipping."""


class NonFiniteLoss(PolyretError):
    """The step's loss was NaN or infinite; the weights were not updated."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"step {step}: loss is {loss}")
        self.step, self.loss = step, loss


class TrainStep:
    """Tokenise a batch, compute the gradient of the InfoNCE loss, clip and update.

    `module` is what runs the forward pass: the encoder's model, or its DistributedDataParallel wrapper.
    """

    def __init__(self, encoder: Encoder, module: torch.nn.Module, loss_fn: InfoNCELoss,
                 optimizer: torch.optim.Optimizer, scheduler: Any, config: TrainConfig, precision: Precision) -> None:
        self.encoder, self.module, self.loss_fn = encoder, module, loss_fn
        self.optimizer, self.scheduler, self.config, self.precision = optimizer, scheduler, config, precision
        self.params = [p for group in optimizer.param_groups for p in group["params"]]

    def __call__(self, batch: Any) -> StepResult:
        """One optimiser step on `batch` (this rank's share); raises NonFiniteLoss before touching the weights."""
        loss, accuracy, local = self.backward(batch)
        if not math.isfinite(loss):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLoss(batch.step, loss)
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(loss=loss, accuracy=accuracy, local_loss=local, grad_norm=float(grad_norm))

    def backward(self, batch: Any) -> tuple[float, float, float]:
        """Accumulate the gradient of the batch's loss into .grad; (global loss, global accuracy, local loss)."""
        encoder, config = self.encoder, self.config
        queries = encoder.token_ids(encoder.prefixed(batch.queries, "query"), config.query_max_length)
        positives = encoder.token_ids(encoder.prefixed(batch.positives, "passage"), config.passage_max_length)
        chunk = len(queries) // config.grad_accum
        total_loss, total_acc = 0.0, 0.0
        for i in range(config.grad_accum):
            part = slice(i * chunk, (i + 1) * chunk)
            with self.precision.autocast():
                q = encoder.embed_ids(queries[part], self.module)
                p = encoder.embed_ids(positives[part], self.module)
                loss, acc = self.loss_fn(q, p)
            (loss / config.grad_accum).backward()
            total_loss += float(loss.detach()) / config.grad_accum
            total_acc += float(acc) / config.grad_accum
        return (*global_mean(total_loss, total_acc), total_loss)


def global_mean(loss: float, accuracy: float) -> tuple[float, float]:
    """Mean over ranks of this rank's loss and accuracy (the global batch's values); identity on one process."""
    if torch.distributed.is_initialized():
        both = torch.tensor([loss, accuracy], dtype=torch.float64)
        torch.distributed.all_reduce(both)
        loss, accuracy = (both / torch.distributed.get_world_size()).tolist()
    return loss, accuracy
