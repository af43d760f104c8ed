"""InfoNCE over in-batch negatives for a bi-encoder, with hard negatives and cross-device negatives.

Every query of a batch is scored against every positive of the batch (its own on the diagonal, the others as
negatives) plus any hard negatives, and cross-entropy pushes its own positive to the top. More negatives make
the task harder and the embedding space more uniform, so under data parallelism the candidates of all ranks
are gathered: each rank then sees the global batch as negatives at the cost of one small all-gather.

Scaling under torch.distributed (W ranks, B pairs per rank, DDP averaging gradients):
on rank r the loss L_r is the mean, over its B local queries, of the cross-entropy against the W*B gathered
positives (plus the W*M gathered hard negatives), the label of local row i being r*B + i. The single-process
loss on the concatenated global batch is L = (1/W) * sum_s L_s. The gather's backward all-reduces (sums) the
gradients of the gathered tensor, so the embeddings of rank r receive d(sum_s L_s)/d(e_r): the gradient of
every rank's loss, not only the local one. DDP then averages parameter gradients over the W ranks:
(1/W) * sum_r d(sum_s L_s)/d(e_r) * d(e_r)/d(theta) = dL/d(theta), the single-process gradient on the global
batch. The loss therefore needs no extra factor (scale 1); the logged value on rank r is the global loss
restricted to rank r's queries, and the mean of the logged values over ranks is the global loss. Code that
sums gradients over ranks instead of averaging them must divide the loss by W.

The common shortcut of gathering without gradient and putting the local tensor back in its slot is not used:
it drops the terms d(L_s)/d(e_r) for s != r (other ranks' queries against this rank's positives), which no
constant factor restores, so its gradient differs from the single-process one.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn


class _GatherWithGrad(torch.autograd.Function):
    """All-gather along dim 0 whose backward sums every rank's gradient and keeps the local slice.

    Written here because torch.distributed.nn.functional.all_gather, which does the same, is deprecated in
    favour of a private module; this one needs only all_gather and all_reduce, which every backend has.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, tensor: Tensor) -> Tensor:  # type: ignore[override]
        tensor = tensor.contiguous()
        shards = [torch.empty_like(tensor) for _ in range(dist.get_world_size())]
        dist.all_gather(shards, tensor)
        ctx.rows = tensor.shape[0]  # type: ignore[attr-defined]
        return torch.cat(shards)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: Tensor) -> Tensor:  # type: ignore[override]
        grad = grad.contiguous()
        dist.all_reduce(grad, op=dist.ReduceOp.SUM)
        start = dist.get_rank() * ctx.rows  # type: ignore[attr-defined]
        return grad[start : start + ctx.rows]  # type: ignore[attr-defined]


def all_gather_with_grad(tensor: Tensor) -> Tensor:
    """Concatenate `tensor` from every rank in rank order; gradients reach each rank's own shard.

    Every rank must pass a tensor of the same shape (all_gather needs equal shapes).
    """
    return _GatherWithGrad.apply(tensor)


class InfoNCEOutput(NamedTuple):
    """What one call returns: the loss for backward and a free by-product for logging."""

    loss: Tensor
    """Scalar loss to call backward on (see the module docstring for its scaling across ranks)."""
    accuracy: Tensor
    """Detached scalar: share of local queries whose positive scores highest (argmax: ties go to the lower index)."""


class InfoNCELoss(nn.Module):
    """Bi-encoder InfoNCE over in-batch (and, under torch.distributed, cross-device) negatives.

    Args:
        temperature: logits are cosine scores divided by this; around 0.05 for normalised embeddings.
        symmetric: average the query->passage loss with a passage->query loss, in which each positive
            (hard negatives are not anchors) must pick out its own query among all queries.
        cross_device_negatives: when torch.distributed is initialised with more than one rank, gather
            queries, positives and hard negatives from every rank. Off: each rank uses its local batch only.
        margin: additive margin (LaBSE's additive-margin softmax, Yang et al. 2019): subtracted from the true
            pair's cosine before scaling, in both directions, so a positive must beat every negative by at least
            the margin before its loss vanishes. 0: plain InfoNCE.
    """

    def __init__(self, temperature: float = 0.05, symmetric: bool = False, cross_device_negatives: bool = True,
                 margin: float = 0.0):
        super().__init__()
        if not temperature > 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if not 0 <= margin < 2:
            raise ValueError(f"margin must be in [0, 2) (a cosine difference), got {margin}")
        self.temperature = temperature
        self.symmetric = symmetric
        self.cross_device_negatives = cross_device_negatives
        self.margin = margin

    def extra_repr(self) -> str:
        return (
            f"temperature={self.temperature}, symmetric={self.symmetric}, "
            f"cross_device_negatives={self.cross_device_negatives}, margin={self.margin}"
        )

    def forward(self, q: Tensor, p: Tensor, n: Tensor | None = None) -> InfoNCEOutput:
        """Loss of queries `q` [B, d] against positives `p` [B, d] (row i is the positive of query i).

        `n` [M, d] (typically M = B * hard negatives per query) are extra candidates for every query.
        Embeddings must already be L2-normalised: the score is the plain dot product. Under
        torch.distributed every rank must pass the same B and M, and all ranks must call this together.
        """
        if q.dim() != 2 or q.shape != p.shape:
            raise ValueError(f"q and p must both be [B, d], got {tuple(q.shape)} and {tuple(p.shape)}")
        if n is not None and (n.dim() != 2 or n.shape[1] != q.shape[1]):
            raise ValueError(f"n must be [M, {q.shape[1]}], got {tuple(n.shape)}")

        # A bf16 matmul rounds a cosine near 1 by up to 2^-9; at temperature 0.05 that moves a logit by up to
        # 0.04, and the log-softmax with it, so scores and cross-entropy run in float32 (float64 stays float64)
        # whatever autocast is active; the upcast is differentiable, so gradients flow back in the input dtype.
        with torch.autocast(device_type=q.device.type, enabled=False):
            return self._forward(*(None if t is None else t.to(torch.promote_types(t.dtype, torch.float32))
                                   for t in (q, p, n)))

    def _forward(self, q: Tensor, p: Tensor, n: Tensor | None) -> InfoNCEOutput:
        all_q, all_p, all_n, offset = q, p, n, 0
        if (
            self.cross_device_negatives
            and dist.is_available()
            and dist.is_initialized()
            and dist.get_world_size() > 1
        ):
            all_p = all_gather_with_grad(p)
            all_n = None if n is None else all_gather_with_grad(n)
            all_q = all_gather_with_grad(q) if self.symmetric else q
            offset = dist.get_rank() * q.shape[0]
        labels = torch.arange(offset, offset + q.shape[0], device=q.device)

        candidates = all_p if all_n is None else torch.cat([all_p, all_n])
        logits = self._with_margin(q @ candidates.T, labels) / self.temperature
        loss = F.cross_entropy(logits, labels)
        if self.symmetric:
            backward = self._with_margin(p @ all_q.T, labels) / self.temperature
            loss = (loss + F.cross_entropy(backward, labels)) / 2
        with torch.no_grad():
            accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return InfoNCEOutput(loss, accuracy)

    def _with_margin(self, scores: Tensor, labels: Tensor) -> Tensor:
        if not self.margin:
            return scores
        rows = torch.arange(scores.shape[0], device=scores.device)
        shift = torch.zeros_like(scores)
        shift[rows, labels] = self.margin
        return scores - shift


LOSSES: dict[str, Callable[[Any], nn.Module]] = {
    # in-batch InfoNCE (query -> passage; both directions with `symmetric`)
    "infonce": lambda config: InfoNCELoss(temperature=config.temperature, symmetric=config.symmetric),
    # LaBSE's bidirectional ranking loss with an additive margin (arXiv 2007.01852)
    "margin": lambda config: InfoNCELoss(temperature=config.temperature, symmetric=True, margin=config.margin),
}
"""The training objectives by the name `polyret train --loss` takes; each maps the train config to a loss module
with the call signature of InfoNCELoss (q, p, n) -> InfoNCEOutput, so every batch strategy and the gradient cache
use any of them unchanged."""


def build_loss(config: Any) -> nn.Module:
    """The loss `config.loss` names (see LOSSES), with the distillation term on top when `distill_weight` > 0."""
    loss = LOSSES[config.loss](config)
    if getattr(config, "distill_weight", 0.0) > 0:
        from polyret.train.distill import DistillationLoss

        loss = DistillationLoss(loss, config.distill_weight)
    return loss
