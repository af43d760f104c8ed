"""Training on a CUDA GPU: device per rank, bf16 by default, fp16 with a scaler, gradient caching, a whole run.

Skipped without CUDA; `scripts/gpu-check` runs them (`-m gpu`). The CPU suite checks the same promises through
monkeypatched CUDA queries (tests/test_train_step.py); these run the real kernels.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polyret.model.encoder import Encoder, EncoderOptions, pick_device
from polyret.train.loss import InfoNCELoss
from polyret.train.precision import Precision, resolve_mode
from polyret.train.step import RngSnapshot
from builders import batch, grads, make_step

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def on_gpu(step):  # type: ignore[no-untyped-def]
    """Move a CPU-built TrainStep's model to the GPU (the tests build steps on the CPU first)."""
    device = torch.device("cuda", 0)
    step.encoder.model.to(device)
    step.encoder.device = device
    step.precision.device = device
    return step


def test_auto_device_and_precision_on_this_gpu() -> None:
    device = pick_device("auto")
    assert device == torch.device("cuda", 0)
    expected = "bf16" if torch.cuda.is_bf16_supported() else "no"
    assert resolve_mode("auto", device) == expected


def test_bf16_step_matches_float32(tiny_models: dict[str, Path]) -> None:
    gpu = torch.device("cuda", 0)
    plain = on_gpu(make_step(tiny_models["bert"], Precision("no", gpu)))
    half = on_gpu(make_step(tiny_models["bert"], Precision("bf16", gpu)))
    plain.encoder.model.eval(), half.encoder.model.eval()
    loss32, _, _ = plain.backward(batch())
    loss16, _, _ = half.backward(batch())
    assert loss16 == pytest.approx(loss32, rel=0.05)
    reference, ours = grads(plain), grads(half)
    flat = lambda g: torch.cat([g[name].float().flatten() for name in sorted(reference)])  # noqa: E731
    assert torch.isfinite(flat(ours)).all()
    assert torch.nn.functional.cosine_similarity(flat(ours), flat(reference), dim=0) > 0.95


def test_fp16_step_uses_the_scaler(tiny_models: dict[str, Path]) -> None:
    gpu = torch.device("cuda", 0)
    step = on_gpu(make_step(tiny_models["bert"], Precision("fp16", gpu)))
    assert step.precision.scaler.is_enabled()
    result = step(batch())
    assert result.loss > 0 and torch.isfinite(torch.tensor(result.grad_norm))
    assert step.precision.scaler.get_scale() > 0


def test_gradient_cache_equals_one_full_batch_on_gpu(tiny_models: dict[str, Path]) -> None:
    gpu = torch.device("cuda", 0)
    full = on_gpu(make_step(tiny_models["bert"], Precision("no", gpu)))
    cached = on_gpu(make_step(tiny_models["bert"], Precision("no", gpu), grad_accum=4))
    full.encoder.model.eval(), cached.encoder.model.eval()
    assert cached.backward(batch())[0] == pytest.approx(full.backward(batch())[0], rel=1e-5)
    for name, grad in grads(full).items():
        torch.testing.assert_close(grads(cached)[name], grad, atol=1e-5, rtol=1e-3)


def test_replay_reproduces_gpu_dropout(tiny_models: dict[str, Path]) -> None:
    encoder = Encoder(EncoderOptions(model=str(tiny_models["bert"]), device="cuda"))
    encoder.model.train()
    ids = encoder.token_ids(["the quick brown fox", "where is the capital of france"])
    snapshot = RngSnapshot(encoder.device)
    with torch.no_grad():
        first = encoder.embed_ids(ids)
    with snapshot.replay():
        again = encoder.embed_ids(ids)
    assert torch.equal(first, again)


def test_loss_is_float32_under_cuda_bf16_autocast() -> None:
    q = torch.nn.functional.normalize(torch.randn(8, 16, device="cuda"), dim=-1).bfloat16()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        out = InfoNCELoss(0.05)(q, q)
    assert out.loss.dtype == torch.float32


def test_bf16_training_run_with_gradient_cache(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    from polyret.train.config import load_config
    from polyret.train.loop import train

    out = tmp_path / "gpu-run"
    config = load_config(None, {"model": str(tiny_models["bert"]), "strategy": "hybrid", "steps": 6, "batch_size": 8,
                                "grad_accum": 2, "data_dir": data_dir, "sources": "arcd,mintaka",
                                "languages": "ar,en,es", "output": out, "checkpoint_every": 3,
                                "check_leakage": False, "device": "auto"})
    train(config)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 7))
    assert all(r["loss"] > 0 for r in records)
    saved = json.loads((out / "polyret_model.json").read_text())
    assert saved["training"]["config"]["mixed_precision"] == "auto"
    assert saved["training"]["mixed_precision"] == ("bf16" if torch.cuda.is_bf16_supported() else "no")
    assert saved["training"]["device"] == "cuda:0"
    Encoder(EncoderOptions(model=str(out), device="cuda")).encode(["hello"], "query", use_cache=False)


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two GPUs")
def test_two_ranks_take_two_gpus(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    from builders import base_args, rank_records, torchrun

    done = torchrun(base_args(tiny_models["bert"], data_dir, tmp_path / "nccl", 3) + ["--device", "auto"],
                    record_dir=tmp_path / "records")
    assert done.returncode == 0, done.stderr[-3000:]
    first, second = rank_records(tmp_path / "records")
    assert all(first[s]["kind"] == second[s]["kind"] for s in first)
