"""The pieces of a training step on GPUs and many ranks, each checked on the CPU: device per rank, precision,
the float32 loss, gradient caching, per-rank checkpoint state."""

from __future__ import annotations

import dataclasses

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions, pick_device
from polyret.train.loss import InfoNCELoss
from polyret.train.precision import Precision, resolve_mode
from polyret.train.step import RngSnapshot
from builders import PASSAGES, QUERIES, batch, grads, make_step









# ------------------------------------------------------------------------------------------ device per rank
@pytest.fixture
def four_gpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)


def test_each_rank_takes_its_own_gpu(four_gpus: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOCAL_RANK", "2")
    assert pick_device("auto") == torch.device("cuda", 2)  # not a bare `cuda`, which every rank maps to GPU 0
    assert pick_device("cuda") == torch.device("cuda", 2)
    assert pick_device("cuda:3") == torch.device("cuda", 3)  # an explicit index is taken as given
    assert pick_device("auto", local_rank=1) == torch.device("cuda", 1)
    monkeypatch.delenv("LOCAL_RANK")
    assert pick_device("auto") == torch.device("cuda", 0)
    with pytest.raises(PolyretError, match="local rank 4 needs GPU 4, but this machine has 4"):
        pick_device("auto", local_rank=4)


def test_without_gpus_auto_is_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv("LOCAL_RANK", "1")
    assert pick_device("auto") == torch.device("cpu")
    with pytest.raises(PolyretError, match="no CUDA device"):
        pick_device("cuda")


def test_ranks_use_nccl_on_gpus_gloo_on_cpu_and_ddp_on_their_own_device(four_gpus: None,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from polyret.train import distributed
    from polyret.train.distributed import Distributed, backend_for

    assert backend_for(torch.device("cuda", 1)) == "nccl" and backend_for(torch.device("cpu")) == "gloo"
    chosen: dict[str, object] = {}
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: chosen.update(current=device))
    monkeypatch.setattr(torch.distributed, "is_initialized", lambda: False)
    monkeypatch.setattr(torch.distributed, "init_process_group",
                        lambda backend, **kwargs: chosen.update(backend=backend, **kwargs))
    monkeypatch.setattr(distributed.torch.nn.parallel, "DistributedDataParallel",
                        lambda model, device_ids: chosen.update(device_ids=device_ids) or model)
    dist = Distributed(pick_device("auto"))
    assert chosen == {"current": torch.device("cuda", 1), "backend": "nccl", "device_id": torch.device("cuda", 1)}
    dist.wrap(torch.nn.Linear(2, 2))
    assert chosen["device_ids"] == [1]
    with pytest.raises(PolyretError, match="every rank takes its own GPU"):
        Distributed(torch.device("cuda", 0))  # local rank 1 told to use GPU 0


# ------------------------------------------------------------------------------------------ precision
def test_auto_precision_is_bf16_on_gpus_that_have_it(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu, cpu = torch.device("cuda", 0), torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_mode("auto", gpu) == "bf16" and resolve_mode("auto", cpu) == "no"
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert resolve_mode("auto", gpu) == "no"
    assert resolve_mode("fp16", gpu) == "fp16"
    with pytest.raises(PolyretError, match="only on a GPU"):
        resolve_mode("fp16", cpu)
    from polyret.model import quantize

    monkeypatch.setattr(quantize, "native_bfloat16", lambda: True)  # AMX / AVX512-BF16: bf16 on request
    assert resolve_mode("bf16", cpu) == "bf16" and resolve_mode("fast", cpu) == "bf16"
    monkeypatch.setattr(quantize, "native_bfloat16", lambda: False)  # emulated: refused, it would be slower
    with pytest.raises(PolyretError, match="no native bfloat16"):
        resolve_mode("bf16", cpu)
    assert resolve_mode("fast", cpu) == "no"  # fast falls back where bf16 would be slower
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert resolve_mode("fast", gpu) == "bf16"
    # a gradient scaler for fp16 only: bf16 has float32's exponent range
    assert Precision("fp16", cpu).scaler.is_enabled()
    assert not Precision("bf16", cpu).scaler.is_enabled() and not Precision("no", cpu).scaler.is_enabled()


def test_loss_runs_in_float32_under_bf16_autocast() -> None:
    gen = torch.Generator().manual_seed(0)
    # as from a trained encoder: every cosine in the batch high (0.7-1), the positive the highest; loss about 0.8
    base = 2.5 * torch.randn(1, 32, generator=gen) + torch.randn(16, 32, generator=gen)
    q = F.normalize(base, dim=-1).bfloat16()
    p = F.normalize(base + 0.5 * torch.randn(16, 32, generator=gen), dim=-1).bfloat16()
    q.requires_grad_()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = InfoNCELoss(0.05)(q, p)
        careless = F.cross_entropy(q @ p.T / 0.05, torch.arange(16))  # what a bf16 matmul gives
    reference = InfoNCELoss(0.05)(q.detach().float(), p.float())
    assert out.loss.dtype == torch.float32
    assert out.loss.item() == reference.loss.item()  # exactly the float32 computation
    assert abs(careless.item() - reference.loss.item()) > 1e-3  # the test can tell the difference
    out.loss.backward()
    assert q.grad is not None and q.grad.dtype == torch.bfloat16


def test_fp16_step_scales_the_loss_and_clips_the_unscaled_gradient(tiny_models: dict[str, Path]) -> None:
    cpu = torch.device("cpu")
    plain, half = make_step(tiny_models["bert"]), make_step(tiny_models["bert"], Precision("fp16", cpu, 2.0**8))
    plain.encoder.model.eval(), half.encoder.model.eval()
    plain.backward(batch())
    reference = grads(plain)
    half.backward(batch())
    scaled = grads(half)
    norm = lambda g: torch.sqrt(sum((v.float() ** 2).sum() for v in g.values()))  # noqa: E731
    assert norm(scaled).item() == pytest.approx(256 * norm(reference).item(), rel=0.05)  # backward saw loss x 256
    half.optimizer.zero_grad()
    before = {n: p.detach().clone() for n, p in half.encoder.model.named_parameters()}
    result = half(batch())
    assert result.grad_norm == pytest.approx(norm(reference).item(), rel=0.05)  # unscaled before clipping
    assert half.precision.scaler.get_scale() == 2.0**8  # no overflow, no back-off
    assert any(not torch.equal(before[n], p) for n, p in half.encoder.model.named_parameters())


# ------------------------------------------------------------------------------------------ gradient caching
def test_gradient_cache_equals_one_full_batch(tiny_models: dict[str, Path]) -> None:
    """4 accumulated micro-batches of 2: every query still has all 8 positives as candidates."""
    full, cached = make_step(tiny_models["bert"]), make_step(tiny_models["bert"], grad_accum=4)
    full.encoder.model.eval(), cached.encoder.model.eval()  # dropout off: the two must be one computation
    full_loss, full_acc, _ = full.backward(batch())
    cached_loss, cached_acc, _ = cached.backward(batch())
    assert cached_loss == pytest.approx(full_loss, rel=1e-6) and cached_acc == full_acc
    expected, got = grads(full), grads(cached)
    assert expected.keys() == got.keys() and expected
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=1e-4)
    # what plain accumulation (a loss per micro-batch of 2) computes instead: not the same loss
    enc = full.encoder
    with torch.no_grad():
        q = enc.embed_ids(enc.token_ids(enc.prefixed(QUERIES, "query"), 16))
        p = enc.embed_ids(enc.token_ids(enc.prefixed(PASSAGES, "passage"), 16))
    per_chunk = sum(InfoNCELoss(0.05)(q[i:i + 2], p[i:i + 2]).loss.item() for i in range(0, 8, 2)) / 4
    assert abs(per_chunk - full_loss) > 0.1


def test_replay_reproduces_the_dropout_of_the_graph_less_pass(tiny_models: dict[str, Path]) -> None:
    encoder = Encoder(EncoderOptions(model=str(tiny_models["bert"]), device="cpu"))
    encoder.model.train()
    ids = encoder.token_ids(QUERIES)
    snapshot = RngSnapshot(torch.device("cpu"))
    with torch.no_grad():
        first = encoder.embed_ids(ids)
    after = torch.get_rng_state()
    with snapshot.replay():
        again = encoder.embed_ids(ids)
    assert torch.equal(first, again)
    assert torch.equal(torch.get_rng_state(), after)  # the replay does not move the run's RNG
    with torch.no_grad():
        assert not torch.allclose(encoder.embed_ids(ids), first)  # dropout is on: without replay it differs


def test_step_with_gradient_cache_trains(tiny_models: dict[str, Path]) -> None:
    step = make_step(tiny_models["bert"], grad_accum=2)
    before = {n: p.detach().clone() for n, p in step.encoder.model.named_parameters()}
    result = step(batch())
    assert result.loss > 0 and result.local_loss == result.loss and result.grad_norm > 0
    assert all(p.grad is None for p in step.encoder.model.parameters())
    assert any(not torch.equal(before[n], p) for n, p in step.encoder.model.named_parameters())


# ------------------------------------------------------------------------------------------ per-rank checkpoints
def test_checkpoint_restores_each_rank_its_own_rng_and_sampler_position(tmp_path: Path) -> None:
    from polyret.train.checkpoint import load_checkpoint, restore, rng_state, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    ranks, draws = [], []
    for rank in range(2):
        torch.manual_seed(100 + rank)
        torch.rand(3)
        ranks.append({"rng": rng_state(), "sampler": {"step": 5, "rank": rank}})
        draws.append(torch.rand(4))
    save_checkpoint(tmp_path, 4, model, optimizer, scheduler, ranks, {})
    state = load_checkpoint(tmp_path, 4)
    for rank in (1, 0):
        mine = restore(state, model, optimizer, scheduler, rank=rank, world_size=2)
        assert mine["sampler"] == {"step": 5, "rank": rank}
        assert torch.equal(torch.rand(4), draws[rank])
    with pytest.raises(PolyretError, match="written by 2 rank.*this run has 1"):
        restore(state, model, optimizer, scheduler, rank=0, world_size=1)


def test_gradient_cache_under_ddp_equals_the_global_batch_and_syncs_once(tmp_path: Path) -> None:
    """Two gloo ranks x 3 micro-batches of 2: the single-process gradient of all 12 pairs, one all-reduce."""
    import os
    import socket
    import subprocess
    import sys

    world, per_rank, chunks, temperature = 2, 6, 3, 0.05
    gen = torch.Generator().manual_seed(0)
    encoder = torch.nn.Linear(8, 4, dtype=torch.float64)
    with torch.no_grad():
        for param in encoder.parameters():
            param.copy_(torch.randn(param.shape, generator=gen, dtype=torch.float64))
    xq, xp = (torch.randn(world * per_rank, 8, generator=gen, dtype=torch.float64) for _ in range(2))
    torch.save({"xq": xq, "xp": xp, "encoder": encoder.state_dict(), "encoder_shape": (8, 4), "chunks": chunks,
                "temperature": temperature}, tmp_path / "inputs.pt")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    worker = Path(__file__).with_name("dist_gradcache_worker.py")
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(world), "--master_addr",
               "127.0.0.1", "--master_port", str(port), str(worker), str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(world)]

    out = InfoNCELoss(temperature)(F.normalize(encoder(xq), dim=-1), F.normalize(encoder(xp), dim=-1))
    out.loss.backward()
    for result in ranks:
        assert result["reductions"] == 1  # no_sync on the first two replays: one bucket all-reduced once
        for name, param in encoder.named_parameters():
            torch.testing.assert_close(result["grads"][name], param.grad, atol=1e-9, rtol=1e-7)
    assert sum(r["loss"].item() for r in ranks) / world == pytest.approx(out.loss.item(), rel=1e-9)


NEGATIVES = ["a sentence about the weather", "ein satz über das wetter", None, "una frase sobre el tiempo",
             "the river flows to the sea", "предложение о погоде", "a recipe for bread", "der hund schläft"]


def test_gradient_cache_with_negatives_equals_one_full_batch(tiny_models: dict[str, Path]) -> None:
    """Hard (or same-language) negatives ride through the gradient cache: same loss and gradients as one batch."""
    full, cached = make_step(tiny_models["bert"]), make_step(tiny_models["bert"], grad_accum=4)
    full.encoder.model.eval(), cached.encoder.model.eval()
    with_negatives = dataclasses.replace(batch(), negatives=list(NEGATIVES))
    full_loss, full_acc, _ = full.backward(with_negatives)
    cached_loss, cached_acc, _ = cached.backward(with_negatives)
    assert cached_loss == pytest.approx(full_loss, rel=1e-6) and cached_acc == full_acc
    plain_loss, _, _ = make_step(tiny_models["bert"]).backward(batch())
    assert full_loss != pytest.approx(plain_loss)  # the negatives took part
    expected, got = grads(full), grads(cached)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], atol=1e-6, rtol=1e-4)
