"""The training step: one batch in, one optimiser update out; a test can call it on a batch of its own.

With `--grad-accum K` the step uses gradient caching (`GradCache`), so the negatives of every query are the whole
global batch, not its micro-batch, at the memory cost of one micro-batch's graph.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import torch
from torch import Tensor

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder
from polyret.train.config import TrainConfig
from polyret.train.loss import InfoNCELoss, InfoNCEOutput
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
    """Gradient norm before clipping (after fp16 unscaling)."""


class NonFiniteLoss(PolyretError):
    """The step's loss was NaN or infinite; the weights were not updated."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"step {step}: loss is {loss}")
        self.step, self.loss = step, loss


class RngSnapshot:
    """The CPU's and one GPU's RNG state at a moment; `replay()` runs a block from it and then puts RNG back.

    Gradient caching embeds a micro-batch twice; replaying from the same state gives the second pass the same
    dropout masks as the first, so the cached gradient belongs to the graph it is applied to.
    """

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.cpu = torch.get_rng_state()
        self.gpu = torch.cuda.get_rng_state(device) if device.type == "cuda" else None

    @contextlib.contextmanager
    def replay(self) -> Iterator[None]:
        devices = [self.device] if self.gpu is not None else []
        with torch.random.fork_rng(devices=devices):
            torch.set_rng_state(self.cpu)
            if self.gpu is not None:
                torch.cuda.set_rng_state(self.gpu, self.device)
            yield


Embed = Callable[[torch.nn.Module, Any], Tensor]


class GradCache:
    """Gradient caching (Gao et al. 2021, "Scaling Deep Contrastive Learning Batch Size under Memory Limited Setup").

    A contrastive loss couples every example of the batch, so plain accumulation (one loss per micro-batch) shrinks
    each query's negatives to its micro-batch: K accumulated micro-batches of B train like K batches of B. Three
    explicit steps keep the whole batch as negatives with one micro-batch's graph in memory:

    1. `embed`: every micro-batch without an autograd graph, remembering its RNG state;
    2. `cache`: the loss over all embeddings (the loss gathers them across ranks), backward to the embeddings only,
       giving d loss / d embedding for every example;
    3. `replay`: each micro-batch again, with a graph and its remembered RNG (same dropout), and backward of
       sum(embedding * cached gradient), which by the chain rule adds exactly that micro-batch's share of
       d loss / d weights. Under DistributedDataParallel all replays but the last run under `no_sync`, so
       gradients cross the network once per step, and the result equals one full batch's gradient.

    `embed(module, chunk)` maps one micro-batch to L2-normalised embeddings; `model` is the bare module (used for
    the graph-less pass), `module` what the replay runs (the DDP wrapper under torchrun).
    """

    def __init__(self, embed: Embed, model: torch.nn.Module, module: torch.nn.Module, loss_fn: InfoNCELoss,
                 precision: Precision) -> None:
        self.embed_fn, self.model, self.module, self.loss_fn, self.precision = embed, model, module, loss_fn, precision

    def __call__(self, query_chunks: Sequence[Any], passage_chunks: Sequence[Any],
                 targets: Any = None, negative_chunks: Sequence[Any] | None = None) -> InfoNCEOutput:
        """Accumulate the full batch's gradient into .grad (scaled under fp16); returns the detached loss.

        `targets` (train/distill.py) are per-row extras of the loss, for the whole batch in row order.
        `negative_chunks` (one per micro-batch, possibly empty) are extra candidates for every query."""
        negative_chunks = list(negative_chunks) if negative_chunks is not None else [[] for _ in query_chunks]
        snapshots, queries, passages, negatives = self.embed(query_chunks, passage_chunks, negative_chunks)
        out, query_grads, passage_grads, negative_grads = self.cache(queries, passages, targets, negatives)
        self.replay(query_chunks, passage_chunks, snapshots, query_grads, passage_grads, negative_chunks,
                    negative_grads)
        return out

    def embed(self, query_chunks: Sequence[Any], passage_chunks: Sequence[Any], negative_chunks: Sequence[Any]
              ) -> tuple[list[RngSnapshot], list[Tensor], list[Tensor], list[Tensor | None]]:
        """Step 1: embeddings of every micro-batch, without graphs; the RNG state before each."""
        snapshots, queries, passages, negatives = [], [], [], []
        with torch.no_grad():
            for q_chunk, p_chunk, n_chunk in zip(query_chunks, passage_chunks, negative_chunks):
                snapshots.append(RngSnapshot(self.precision.device))
                with self.precision.autocast():
                    queries.append(self.embed_fn(self.model, q_chunk))
                    passages.append(self.embed_fn(self.model, p_chunk))
                    negatives.append(self.embed_fn(self.model, n_chunk) if len(n_chunk) else None)
        return snapshots, queries, passages, negatives

    def cache(self, queries: list[Tensor], passages: list[Tensor], targets: Any, negatives: list[Tensor | None]
              ) -> tuple[InfoNCEOutput, list[Tensor], list[Tensor], list[Tensor | None]]:
        """Step 2: the loss over the whole batch and its gradient with respect to each micro-batch's embeddings."""
        q = torch.cat(queries).detach().requires_grad_()
        p = torch.cat(passages).detach().requires_grad_()
        present = [t for t in negatives if t is not None]
        n = torch.cat(present).detach().requires_grad_() if present else None
        out = self.loss_fn(q, p, n, **({} if targets is None else {"targets": targets}))
        self.precision.scaler.scale(out.loss).backward()
        assert q.grad is not None and p.grad is not None
        sizes = [len(chunk) for chunk in queries]
        negative_grads: list[Tensor | None] = [None] * len(queries)
        if n is not None:
            assert n.grad is not None
            parts = iter(n.grad.split([len(t) for t in present]))
            negative_grads = [None if t is None else next(parts) for t in negatives]
        return (InfoNCEOutput(out.loss.detach(), out.accuracy), list(q.grad.split(sizes)),
                list(p.grad.split(sizes)), negative_grads)

    def replay(self, query_chunks: Sequence[Any], passage_chunks: Sequence[Any], snapshots: list[RngSnapshot],
               query_grads: list[Tensor], passage_grads: list[Tensor], negative_chunks: Sequence[Any],
               negative_grads: list[Tensor | None]) -> None:
        """Step 3: forward each micro-batch with a graph and push its cached gradient through it."""
        last = len(snapshots) - 1
        for i, (q_chunk, p_chunk) in enumerate(zip(query_chunks, passage_chunks)):
            sync = contextlib.nullcontext() if i == last else _no_sync(self.module)
            with sync:
                with snapshots[i].replay(), self.precision.autocast():
                    q = self.embed_fn(self.module, q_chunk)
                    p = self.embed_fn(self.module, p_chunk)
                    n = self.embed_fn(self.module, negative_chunks[i]) if negative_grads[i] is not None else None
                surrogate = (q * query_grads[i]).sum() + (p * passage_grads[i]).sum()
                if n is not None:
                    surrogate = surrogate + (n * negative_grads[i]).sum()
                surrogate.backward()


def _no_sync(module: torch.nn.Module) -> Any:
    no_sync = getattr(module, "no_sync", None)  # DistributedDataParallel's; absent on a bare module
    return no_sync() if no_sync is not None else contextlib.nullcontext()


class TrainStep:
    """Tokenise a batch, compute the gradient of the InfoNCE loss, unscale, clip and update.

    `module` is what runs the forward pass: the encoder's model, or its DistributedDataParallel wrapper.
    One micro-batch (`grad_accum` 1): a plain forward and backward. More: gradient caching over them.
    """

    def __init__(self, encoder: Encoder, module: torch.nn.Module, loss_fn: InfoNCELoss,
                 optimizer: torch.optim.Optimizer, scheduler: Any, config: TrainConfig, precision: Precision,
                 teacher: Any = None) -> None:
        self.encoder, self.module, self.loss_fn, self.teacher = encoder, module, loss_fn, teacher
        self.optimizer, self.scheduler, self.config, self.precision = optimizer, scheduler, config, precision
        self.params = [p for group in optimizer.param_groups for p in group["params"]]
        self.grad_cache = GradCache(lambda module, ids: encoder.embed_ids(ids, module), encoder.model, module,
                                    loss_fn, precision)

    def __call__(self, batch: Any) -> StepResult:
        """One optimiser step on `batch` (this rank's share); raises NonFiniteLoss before touching the weights."""
        loss, accuracy, local = self.backward(batch)
        if not math.isfinite(loss):
            self.optimizer.zero_grad(set_to_none=True)
            raise NonFiniteLoss(batch.step, loss)
        scaler = self.precision.scaler
        scaler.unscale_(self.optimizer)  # clip the true gradient, not the fp16-scaled one
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, self.config.max_grad_norm)
        scaler.step(self.optimizer)  # skipped by the scaler when an fp16 gradient overflowed
        scaler.update()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return StepResult(loss=loss, accuracy=accuracy, local_loss=local, grad_norm=float(grad_norm))

    def backward(self, batch: Any) -> tuple[float, float, float]:
        """Accumulate the gradient of the batch's loss into .grad; (global loss, global accuracy, local loss)."""
        encoder, config = self.encoder, self.config
        queries = encoder.token_ids(encoder.prefixed(batch.queries, "query"), config.query_max_length)
        positives = encoder.token_ids(encoder.prefixed(batch.positives, "passage"), config.passage_max_length)
        hard = [n for n in getattr(batch, "negatives", []) if n is not None]  # hard or same-language negatives
        negative_ids = encoder.token_ids(encoder.prefixed(hard, "passage"), config.passage_max_length) if hard else []
        targets = None if self.teacher is None else self.teacher.targets(batch, encoder.device)
        if config.grad_accum == 1:
            with self.precision.autocast():
                q = encoder.embed_ids(queries, self.module)
                p = encoder.embed_ids(positives, self.module)
                n = encoder.embed_ids(negative_ids, self.module) if negative_ids else None
                out = self.loss_fn(q, p, n, **({} if targets is None else {"targets": targets}))
            self.precision.scaler.scale(out.loss).backward()
        else:
            size = len(queries) // config.grad_accum
            share = -(-len(negative_ids) // config.grad_accum)  # ceil: every micro-batch carries its share
            out = self.grad_cache([queries[i:i + size] for i in range(0, len(queries), size)],
                                  [positives[i:i + size] for i in range(0, len(positives), size)], targets,
                                  [negative_ids[i * share:(i + 1) * share] for i in range(config.grad_accum)])
        local, accuracy = float(out.loss.detach()), float(out.accuracy)
        return (*global_mean(local, accuracy), local)


def global_mean(loss: float, accuracy: float) -> tuple[float, float]:
    """Mean over ranks of this rank's loss and accuracy (the global batch's values); identity on one process."""
    if torch.distributed.is_initialized():
        both = torch.tensor([loss, accuracy], dtype=torch.float64)
        if torch.distributed.get_backend() == "nccl":
            both = both.to(torch.device("cuda", torch.cuda.current_device()))
        torch.distributed.all_reduce(both)
        loss, accuracy = (both / torch.distributed.get_world_size()).tolist()
    return loss, accuracy
