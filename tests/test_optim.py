"""The optimiser and schedule registries, where users meet them: `polyret train --optimizer/--schedule`, the
config's error for an unknown name, and a user's own entry reaching the trainer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from polyret.errors import PolyretError
from polyret.train.config import TrainConfig, load_config
from polyret.train.optim import OPTIMIZERS, build_optimizer
from builders import base_args, cli


def _lrs(output: Path) -> list[float]:
    return [json.loads(line)["lr"] for line in (output / "log.jsonl").read_text().splitlines()]


def test_schedule_and_optimizer_reach_the_trainer(tiny_models: dict[str, Path], data_dir: Path,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "sgd"
    args = base_args(tiny_models["bert"], data_dir, out, steps=6)
    done = cli([*args, "--optimizer", "sgd", "--schedule", "constant", "--warmup-steps", "2"])
    assert done.returncode == 0, done.stderr
    lrs = _lrs(out)
    assert lrs[:2] == pytest.approx([5e-4, 1e-3]) and lrs[2:] == pytest.approx([1e-3] * 4)  # warmup, then flat
    state = torch.load(out / "checkpoints" / "step-6" / "state.pt", weights_only=True)
    assert "momentum_buffer" in next(iter(state["optimizer"]["state"].values()))  # SGD's state, not AdamW's
    linear = _lrs_of_config(TrainConfig(steps=10, warmup_steps=0, lr=1.0))
    assert linear == pytest.approx([1.0 - i / 10 for i in range(10)])


def _lrs_of_config(config: TrainConfig) -> list[float]:
    optimizer, schedule = build_optimizer([torch.nn.Parameter(torch.zeros(1))], config)
    out = []
    for _ in range(config.steps):
        out.append(schedule.get_last_lr()[0])
        optimizer.step()
        schedule.step()
    return out


def test_unknown_names_are_refused_naming_the_option(tmp_path: Path) -> None:
    with pytest.raises(PolyretError, match=r"option 'optimizer'.*unknown optimizer 'adam'; registered: adamw, sgd"):
        load_config(None, {"optimizer": "adam", "output": tmp_path})
    with pytest.raises(PolyretError, match=r"option 'schedule'.*unknown schedule 'step'"):
        load_config(None, {"schedule": "step", "output": tmp_path})


def test_a_registered_optimizer_is_a_config_value() -> None:
    OPTIMIZERS["adagrad"] = lambda params, config: torch.optim.Adagrad(params, lr=config.lr)
    try:
        optimizer, _ = build_optimizer([torch.nn.Parameter(torch.zeros(1))], TrainConfig(optimizer="adagrad"))
        assert isinstance(optimizer, torch.optim.Adagrad)
    finally:
        del OPTIMIZERS["adagrad"]
