"""The development curve during training: scored when due, written after every point, best weights kept and
restored, resumable. A minimal stand-in for the trainer moves the weights between scorings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from polyret.errors import PolyretError
from polyret.evaluate.dev import DevSetConfig, load_dev_set
from polyret.evaluate.dev_curve import BEST, CURVE, FIGURE, DevCurve


@pytest.fixture()
def encoder(tiny_models: dict[str, Path]) -> Any:
    from polyret.model.encoder import Encoder, EncoderOptions

    enc = Encoder(EncoderOptions(model=str(tiny_models["bert"])))
    enc.model.get_input_embeddings().weight.requires_grad_(False)  # as the trainer's default freezing
    enc.model.train()
    return enc


def _fake_step(model: torch.nn.Module, generator: torch.Generator) -> None:
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(0.2 * torch.randn(p.shape, generator=generator))


def test_curve_is_scored_when_due_and_keeps_the_best_weights(encoder: Any, data_dir: Path, tmp_path: Path) -> None:
    dev = load_dev_set(data_dir, DevSetConfig(languages=["ar", "de", "hi", "zh"], per_language=8))
    curve = DevCurve(dev, every=2, output=tmp_path / "run", last_step=5, keep_best=True)
    generator = torch.Generator().manual_seed(0)
    snapshots = {}
    for step in range(0, 6):
        if step:
            _fake_step(encoder.model, generator)
        if curve.due(step):
            curve.record(step, encoder)
            snapshots[step] = {n: p.detach().clone() for n, p in encoder.model.named_parameters()}
    assert encoder.model.training  # scoring left the trainer's mode alone
    saved = json.loads((tmp_path / "run" / CURVE).read_text())
    steps = [p["step"] for p in saved["points"]]
    assert steps == [0, 2, 4, 5]  # before training, every 2 steps, and the last step
    best = max(saved["points"], key=lambda p: (p["mixed_mrr"], -p["step"]))
    assert saved["best"] == {"step": best["step"], "mixed_mrr": best["mixed_mrr"]}
    assert saved["dev_set"]["pairs"] == len(dev.pairs) and saved["dev_set"]["source"] == "dev/tatoeba"
    assert (tmp_path / "run" / FIGURE).stat().st_size > 1000
    assert all(0 <= p["mixed_mrr"] <= 1 and set(p["per_language"]) == set(dev.config.languages)
               for p in saved["points"])

    # the kept weights are those of the best step, not the last; frozen weights are not stored
    stored = torch.load(tmp_path / "run" / BEST, weights_only=True)
    assert stored["step"] == best["step"]
    assert "embeddings.word_embeddings.weight" not in stored["state"]
    assert curve.restore_best(encoder.model) == best["step"]
    for name, p in encoder.model.named_parameters():
        assert torch.equal(p, snapshots[best["step"]][name]), name

    # a resumed run restarts from the checkpoint at step 2: later points are dropped, the next must follow
    again = DevCurve(dev, every=2, output=tmp_path / "run", last_step=5, keep_best=True)
    again.resume(2)
    assert [p["step"] for p in again.points] == [0, 2]
    with pytest.raises(PolyretError, match="step 1 after step 2"):
        again.record(1, encoder)


def test_without_keep_best_nothing_is_stored(encoder: Any, data_dir: Path, tmp_path: Path) -> None:
    dev = load_dev_set(data_dir, DevSetConfig(languages=["de", "zh"], per_language=5))
    curve = DevCurve(dev, every=10, output=tmp_path / "run", last_step=3)
    assert [s for s in range(4) if curve.due(s)] == [0, 3]
    curve.record(0, encoder)
    assert not (tmp_path / "run" / BEST).exists() and curve.restore_best(encoder.model) is None
    with pytest.raises(PolyretError, match="unknown measure"):
        DevCurve(dev, every=1, output=tmp_path, last_step=1, measure="xquad_mul_map")


def test_the_study_report_shows_each_cells_curve(encoder: Any, data_dir: Path, tmp_path: Path) -> None:
    from polyret.study.report import DEV_FIGURE, _dev_section
    from polyret.study.summary import dev_curve_summary

    dev = load_dev_set(data_dir, DevSetConfig(languages=["es", "th"], per_language=5))
    curve = DevCurve(dev, every=1, output=tmp_path / "train" / "x", last_step=2)
    generator = torch.Generator().manual_seed(1)
    for step in range(3):
        if step:
            _fake_step(encoder.model, generator)
        curve.record(step, encoder)
    assert dev_curve_summary(tmp_path / "train" / "nothing") is None
    reduced = dev_curve_summary(tmp_path / "train" / "x")
    assert [p["step"] for p in reduced["points"]] == [0, 1, 2] and reduced["best"] == curve.to_json()["best"]
    row = {"status": "done", "strategy": "x_y", "seed": 0, "transform": None, "dev_curve": reduced}
    lines = _dev_section({"cells": [row]}, tmp_path)
    best, last = reduced["best"], reduced["points"][-1]
    assert f"| x_y (seed 0) | {reduced['points'][0]['mixed_mrr']:.3f} | {best['mixed_mrr']:.3f} ({best['step']}) | " \
           f"{last['mixed_mrr']:.3f} (2) |" in "\n".join(lines)
    assert (tmp_path / DEV_FIGURE).stat().st_size > 1000
    assert _dev_section({"cells": [{**row, "dev_curve": None}]}, tmp_path) == []


def _state(encoder: Any, output: Path, steps: int, start: int = 0, main: bool = True) -> Any:
    """The TrainState fields the hook reads (train/hooks.py), for a run of `steps` steps."""
    from types import SimpleNamespace

    return SimpleNamespace(config=SimpleNamespace(steps=steps), output=output, is_main=main, encoder=encoder,
                           model=encoder.model, start_step=start, step=start)


def test_dev_eval_hook_in_a_stand_in_training_loop(encoder: Any, data_dir: Path, tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from polyret.train.dev_hook import DevEvalHook

    dev = load_dev_set(data_dir, DevSetConfig(languages=["ar", "ru", "vi"], per_language=6))
    out = tmp_path / "run"
    hook = DevEvalHook(dev, every=2, keep_best=True)
    state = _state(encoder, out, steps=5)
    generator = torch.Generator().manual_seed(3)
    snapshots = {}
    hook.on_train_start(state)  # scores step 0
    snapshots[0] = {n: p.detach().clone() for n, p in encoder.model.named_parameters()}
    for step in range(1, 6):
        state.step = step
        hook.on_step_start(state)
        _fake_step(encoder.model, generator)
        rng = torch.get_rng_state()
        hook.on_step_end(state)
        assert torch.equal(rng, torch.get_rng_state())  # scoring consumed no random numbers of the run
        snapshots[step] = {n: p.detach().clone() for n, p in encoder.model.named_parameters()}
    hook.on_before_save(state)  # the best point's weights go back into the model...
    encoder.model.save_pretrained(out, safe_serialization=True)  # ...before the trainer saves it
    hook.on_train_end(state)
    saved = json.loads((out / CURVE).read_text())
    assert [p["step"] for p in saved["points"]] == [0, 2, 4, 5]
    best = saved["best"]["step"]
    assert saved["model_step"] == best
    weights = load_file(str(out / "model.safetensors"))  # the model's weights are now the best step's
    for name, value in weights.items():
        assert torch.equal(value, snapshots[best][name]), name

    # resumed from step 4's checkpoint after a kill that lost points 4 and 5: step 4 is scored again at start
    kept = [p for p in saved["points"] if p["step"] <= 2]
    (out / CURVE).write_text(json.dumps({**saved, "points": kept}))
    again = DevEvalHook(dev, every=2)
    again.on_train_start(_state(encoder, out, steps=5, start=4))
    assert [p["step"] for p in again.curve.points] == [0, 2, 4]

    # other ranks neither score nor write
    other = DevEvalHook(dev, every=1)
    other.on_train_start(_state(encoder, tmp_path / "rank1", steps=2, main=False))
    other.on_before_save(_state(encoder, tmp_path / "rank1", steps=2, main=False))
    other.on_train_end(_state(encoder, tmp_path / "rank1", steps=2, main=False))
    assert other.curve is None and not (tmp_path / "rank1").exists()


def test_the_hook_in_the_real_trainer(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    """The same losses with and without the hook."""
    from polyret.train.dev_hook import DevEvalHook
    from polyret.train.config import TrainConfig
    from polyret.train.loop import train

    dev = load_dev_set(data_dir, DevSetConfig(languages=["ar", "de", "zh"], per_language=10))
    losses = {}
    for name, hooks in (("plain", []), ("hooked", [DevEvalHook(dev, every=2, keep_best=True)])):
        config = TrainConfig(model=str(tiny_models["bert"]), strategy="x_y", steps=5, batch_size=8, data_dir=data_dir,
                             output=tmp_path / name, languages=["ar", "de", "en", "zh"], checkpoint_every=2,
                             check_leakage=False, device="cpu")
        train(config, hooks=hooks)  # type: ignore[call-arg]
        losses[name] = [json.loads(line)["loss"] for line in (tmp_path / name / "log.jsonl").read_text().splitlines()]
    assert losses["plain"] == losses["hooked"]  # scoring left the run's randomness and weights alone
    curve = json.loads((tmp_path / "hooked" / CURVE).read_text())
    assert [p["step"] for p in curve["points"]] == [0, 2, 4, 5] and curve["model_step"] == curve["best"]["step"]
