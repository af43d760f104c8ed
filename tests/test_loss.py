"""InfoNCE loss: a hand-worked value, an independent float64 computation, gradcheck, and data parallelism."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F

from polyret.train.loss import InfoNCELoss
from builders import free_port

WORKER = Path(__file__).with_name("dist_loss_worker.py")


def reference_per_pair(
    q: torch.Tensor, p: torch.Tensor, n: torch.Tensor | None, temperature: float, symmetric: bool
) -> list[float]:
    """Loss of each pair i, with explicit loops and math.exp/log in float64 (mean of these = the loss)."""
    qs, ps = q.double().tolist(), p.double().tolist()
    candidates = ps + ([] if n is None else n.double().tolist())

    def cross_entropy(anchor: list[float], pool: list[list[float]], label: int) -> float:
        scores = [sum(a * c for a, c in zip(anchor, cand)) / temperature for cand in pool]
        top = max(scores)
        return top + math.log(sum(math.exp(s - top) for s in scores)) - scores[label]

    losses = []
    for i in range(len(qs)):
        forward = cross_entropy(qs[i], candidates, i)
        losses.append((forward + cross_entropy(ps[i], qs, i)) / 2 if symmetric else forward)
    return losses


def test_hand_worked_two_by_two() -> None:
    q = torch.tensor([[1.0, 0.0], [0.8, 0.6]])
    p = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    # Similarities S = q p^T = [[1, 0], [0.8, 0.6]], temperature 1, positives on the diagonal.
    # Row 0: logsumexp(1, 0) - 1     = log(1 + e^-1)   = log(1.367879) = 0.313262
    # Row 1: logsumexp(0.8, 0.6) - 0.6 = log(e^0.2 + 1) = log(2.221403) = 0.798139
    # q->p loss = (0.313262 + 0.798139) / 2 = 0.555700; row 1 ranks p0 (0.8) above p1 (0.6): accuracy 1/2.
    # p->q uses S^T = [[1, 0.8], [0, 0.6]]:
    # Row 0: logsumexp(1, 0.8) - 1   = log(1 + e^-0.2) = log(1.818731) = 0.598139
    # Row 1: logsumexp(0, 0.6) - 0.6 = log(e^-0.6 + 1) = log(1.548812) = 0.437488
    # p->q loss = 0.517813; symmetric loss = (0.555700 + 0.517813) / 2 = 0.536757.
    out = InfoNCELoss(temperature=1.0)(q, p)
    assert out.loss.item() == pytest.approx(0.555700, abs=1e-6)
    assert out.accuracy.item() == 0.5
    assert InfoNCELoss(temperature=1.0, symmetric=True)(q, p).loss.item() == pytest.approx(0.536757, abs=1e-6)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("hard_negatives", [0, 2])
def test_matches_independent_computation(symmetric: bool, hard_negatives: int) -> None:
    gen = torch.Generator().manual_seed(hard_negatives + 10 * symmetric)
    batch, dim, temperature = 5, 6, 0.05
    q, p = (F.normalize(torch.randn(batch, dim, generator=gen), dim=-1) for _ in range(2))
    n = F.normalize(torch.randn(batch * hard_negatives, dim, generator=gen), dim=-1) if hard_negatives else None

    out = InfoNCELoss(temperature, symmetric=symmetric)(q, p, n)

    expected = reference_per_pair(q, p, n, temperature, symmetric)
    assert out.loss.item() == pytest.approx(sum(expected) / batch, rel=1e-5)
    candidates = p if n is None else torch.cat([p, n])
    top = (q @ candidates.T).argmax(dim=1)
    assert out.accuracy.item() == pytest.approx((top == torch.arange(batch)).double().mean().item())


def test_gradcheck() -> None:
    gen = torch.Generator().manual_seed(0)
    q, p, n = (torch.randn(rows, 3, generator=gen, dtype=torch.float64, requires_grad=True) for rows in (3, 3, 2))
    loss_fn = InfoNCELoss(temperature=0.5, symmetric=True)
    assert torch.autograd.gradcheck(lambda q, p, n: loss_fn(q, p, n).loss, (q, p, n))


def test_rejects_bad_inputs() -> None:
    with pytest.raises(ValueError, match="temperature"):
        InfoNCELoss(temperature=0.0)
    with pytest.raises(ValueError, match="q and p"):
        InfoNCELoss()(torch.zeros(2, 3), torch.zeros(3, 3))
    with pytest.raises(ValueError, match="n must be"):
        InfoNCELoss()(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(4, 2))




@pytest.mark.skipif(
    not (dist.is_available() and dist.is_gloo_available()), reason="torch.distributed with gloo is not available"
)
def test_data_parallel_gradient_equals_single_process(tmp_path: Path) -> None:
    """Two gloo ranks under DDP, each holding half the global batch, reproduce the single-process step."""
    world, per_rank, hard_per_query, temperature = 2, 3, 2, 0.05
    gen = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(8, 4, dtype=torch.float64)
    with torch.no_grad():
        for param in encoder.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float64))
    global_batch = world * per_rank
    rows = {"xq": global_batch, "xp": global_batch, "xn": global_batch * hard_per_query}
    inputs = {key: torch.randn(count, 8, generator=gen, dtype=torch.float64) for key, count in rows.items()}
    cases = [
        {"symmetric": False, "hard_negatives": False, "cross_device": True},
        {"symmetric": True, "hard_negatives": True, "cross_device": True},
        {"symmetric": True, "hard_negatives": True, "cross_device": False},
    ]
    setup = {"encoder": encoder.state_dict(), "encoder_shape": (8, 4), "temperature": temperature, "cases": cases}
    torch.save({**inputs, **setup}, tmp_path / "inputs.pt")

    port = free_port()
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes", "1", "--nproc_per_node", str(world),
        "--master_addr", "127.0.0.1", "--master_port", str(port), str(WORKER), str(tmp_path),
    ]  # fmt: skip
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"torchrun failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]

    def encode(x: torch.Tensor) -> torch.Tensor:
        return F.normalize(encoder(x), dim=-1)

    def single_process(case: dict[str, bool], chunk: slice) -> tuple[float, dict[str, torch.Tensor]]:
        encoder.zero_grad()
        n = encode(inputs["xn"][chunk.start * hard_per_query : chunk.stop * hard_per_query])
        out = InfoNCELoss(temperature, symmetric=case["symmetric"])(
            encode(inputs["xq"][chunk]), encode(inputs["xp"][chunk]), n if case["hard_negatives"] else None
        )
        out.loss.backward()
        return out.loss.item(), {name: param.grad.clone() for name, param in encoder.named_parameters()}

    shards = [slice(r * per_rank, (r + 1) * per_rank) for r in range(world)]
    for index, case in enumerate(cases):
        results = [rank_results[index] for rank_results in ranks]
        global_loss, global_grads = single_process(case, slice(0, global_batch))
        if case["cross_device"]:
            # Gradient: exactly the single-process gradient of the global batch, on every rank.
            for result in results:
                for name, grad in global_grads.items():
                    torch.testing.assert_close(result["grads"][name], grad, atol=1e-6, rtol=0)
            # Loss on rank r: the global-batch loss restricted to rank r's pairs; their mean is the global loss.
            with torch.no_grad():
                q, p, n = encode(inputs["xq"]), encode(inputs["xp"]), encode(inputs["xn"])
            per_pair = reference_per_pair(q, p, n if case["hard_negatives"] else None, temperature, case["symmetric"])
            candidates = torch.cat([p, n]) if case["hard_negatives"] else p
            correct = (q @ candidates.T).argmax(dim=1) == torch.arange(global_batch)
            for result, shard in zip(results, shards):
                assert result["loss"].item() == pytest.approx(sum(per_pair[shard]) / per_rank, rel=1e-9)
                assert result["accuracy"].item() == pytest.approx(correct[shard].double().mean().item())
            assert sum(result["loss"].item() for result in results) / world == pytest.approx(global_loss, rel=1e-9)
        else:
            # Local negatives only: DDP averages the per-shard gradients, which is not the global gradient.
            local = [single_process(case, shard)[1] for shard in shards]
            for name, grad in global_grads.items():
                averaged = sum(grads[name] for grads in local) / world
                torch.testing.assert_close(results[0]["grads"][name], averaged, atol=1e-6, rtol=0)
                assert (averaged - grad).abs().max() > 1e-3
