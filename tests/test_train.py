"""The training loop on a tiny model and real training data: logging, kinds, resume after SIGKILL, saving."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.train.config import load_config
from polyret.train.loop import train
from builders import base_args, cli, losses, rank_records, torchrun









def test_resume_after_sigkill_reproduces_the_uninterrupted_losses(tiny_models: dict[str, Path], data_dir: Path,
                                                                   tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = cli(base_args(tiny_models["bert"], data_dir, straight, 7))
    assert done.returncode == 0, done.stderr
    crash = cli(base_args(tiny_models["bert"], data_dir, killed, 7), kill_at_step=6)
    assert crash.returncode == -9  # died like kill -9 at the start of step 6; checkpoint of step 4 survives
    assert len(losses(killed)) == 5
    resumed = cli(base_args(tiny_models["bert"], data_dir, killed, 7) + ["--resume"])
    assert resumed.returncode == 0, resumed.stderr
    assert losses(killed) == losses(straight)  # bit-identical, not approximately equal
    assert losses(straight)[0][1] != losses(straight)[-1][1]


def test_log_holds_both_kinds_and_the_model_loads_everywhere(tiny_models: dict[str, Path], data_dir: Path,
                                                              tmp_path: Path) -> None:
    out = tmp_path / "model"
    config = load_config(None, {"model": str(tiny_models["xlm-roberta"]), "strategy": "hybrid", "alpha": 0.5,
                                "steps": 24, "batch_size": 4, "data_dir": data_dir, "sources": "arcd,mkqa",
                                "languages": "ar,en,es", "output": out, "checkpoint_every": 50,
                                "check_leakage": False})
    train(config)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == list(range(1, 25))
    kinds = [r["kind"] for r in records]
    assert 4 <= kinds.count("mono") <= 20  # alpha 0.5 over 24 steps: far outside this is a bug (p < 0.002)
    for r in records:
        assert set(r) >= {"step", "loss", "kind", "query_langs", "passage_langs"}
        if r["kind"] == "mono":
            assert r["query_langs"] == r["passage_langs"] and len(r["query_langs"]) == 1
        else:
            assert not set(r["query_langs"]) & set(r["passage_langs"])
    assert (out / "train_config.yaml").is_file() and json.loads((out / "data_stats.json").read_text())["groups"] > 0
    training = json.loads((out / "polyret_model.json").read_text())["training"]
    assert (training["device"], training["mixed_precision"], training["world_size"]) == ("cpu", "no", 1)

    texts = ["¿Cuál es la capital de Francia?", "What is the capital of France?"]
    ours = Encoder(EncoderOptions(model=str(out))).encode(texts, "query", use_cache=False)
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(out), device="cpu").encode(texts, prompt_name="query", normalize_embeddings=True)
    np.testing.assert_allclose(ours, st, atol=1e-5)
    from transformers import AutoModel

    assert AutoModel.from_pretrained(out).config.model_type == "xlm-roberta"
    base = Encoder(EncoderOptions(model=str(tiny_models["xlm-roberta"]))).encode(texts, "query", use_cache=False)
    assert not np.allclose(ours, base, atol=1e-4)  # training changed the model


def test_refuses_to_clobber_and_to_resume_nothing(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    config = load_config(None, {"model": str(tiny_models["bert"]), "steps": 2, "batch_size": 4, "data_dir": data_dir,
                                "sources": "arcd,mkqa", "languages": "ar,en", "output": out, "check_leakage": False})
    with pytest.raises(PolyretError, match="already exists"):
        train(config)
    with pytest.raises(PolyretError, match="no checkpoint"):
        train(config, resume=True)
    assert (out / "keep.txt").read_text() == "precious"


def test_config_errors_name_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "c.yaml"
    bad.write_text("alpha: 1.5\n")
    with pytest.raises(PolyretError, match=r"c.yaml: option 'alpha'"):
        load_config(bad, {})
    bad.write_text("alhpa: 0.5\n")
    with pytest.raises(PolyretError, match="alhpa"):
        load_config(bad, {})






def test_data_parallel_training_with_torchrun(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    """Two gloo ranks on the CPU train, agree on every step's batch setting, and save one loadable model."""
    out = tmp_path / "ddp"
    done = torchrun(base_args(tiny_models["bert"], data_dir, out, 4), record_dir=tmp_path / "records")
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert (out / "polyret_model.json").is_file()
    Encoder(EncoderOptions(model=str(out))).encode(["hello"], "query", use_cache=False)
    # What every rank itself trained on: the same kind and language pair, disjoint groups, half the batch each.
    first, second = rank_records(tmp_path / "records")
    assert sorted(first) == sorted(second) == [1, 2, 3, 4]
    for step, logged in zip(range(1, 5), records):
        a, b = first[step], second[step]
        assert a["kind"] == b["kind"] == logged["kind"] and a["language_pair"] == b["language_pair"] is not None
        assert len(a["group_ids"]) == len(b["group_ids"]) == 2 and not set(a["group_ids"]) & set(b["group_ids"])
        assert sorted(set(a["query_langs"])) == logged["query_langs"]
        # the logged loss is the global batch's: the mean of the two ranks' shares
        assert logged["loss"] == pytest.approx((a["local_loss"] + b["local_loss"]) / 2, rel=1e-12)
    assert {r["kind"] for r in records} <= {"mono", "cross"}


@pytest.mark.slow
def test_two_rank_run_killed_and_resumed_gives_every_rank_its_uninterrupted_losses(
        tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    """kill -9 of both ranks at step 6 (checkpoint 4), then --resume: every rank's losses equal the straight run's.

    With gradient caching over 2 micro-batches per rank and dropout on: each rank must get its own RNG back.
    """
    args = ["--batch-size", "8", "--grad-accum", "2"]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = torchrun(base_args(tiny_models["bert"], data_dir, straight, 7) + args, record_dir=tmp_path / "r-straight")
    assert done.returncode == 0, done.stderr[-3000:]
    crash = torchrun(base_args(tiny_models["bert"], data_dir, killed, 7) + args, record_dir=tmp_path / "r-killed",
                     kill_at_step=6)
    assert crash.returncode != 0
    assert [len(r) for r in rank_records(tmp_path / "r-killed")] == [5, 5]
    resumed = torchrun(base_args(tiny_models["bert"], data_dir, killed, 7) + args + ["--resume"],
                       record_dir=tmp_path / "r-killed")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    for ours, theirs in zip(rank_records(tmp_path / "r-killed"), rank_records(tmp_path / "r-straight")):
        assert sorted(ours) == sorted(theirs) == list(range(1, 8))
        assert [ours[s]["local_loss"] for s in ours] == [theirs[s]["local_loss"] for s in ours]  # bit-identical
        assert [ours[s]["group_ids"] for s in ours] == [theirs[s]["group_ids"] for s in ours]
    assert losses(killed) == losses(straight)
    first, second = rank_records(tmp_path / "r-straight")
    assert first[7]["local_loss"] != second[7]["local_loss"]  # the ranks did hold different shares


def test_nan_loss_stops_with_the_last_good_checkpoint(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from polyret.train.checkpoint import list_checkpoints, load_checkpoint
    from polyret.train.loss import InfoNCELoss

    real = InfoNCELoss.forward
    calls = {"n": 0}

    def poisoned(self, q, p, n=None):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        out = real(self, q, p, n)
        return out._replace(loss=out.loss * float("nan")) if calls["n"] == 3 else out

    monkeypatch.setattr(InfoNCELoss, "forward", poisoned)
    out = tmp_path / "nan"
    config = load_config(None, {"model": str(tiny_models["bert"]), "steps": 5, "batch_size": 4, "data_dir": data_dir,
                                "sources": "arcd,mkqa", "languages": "ar,en", "output": out, "checkpoint_every": 2,
                                "check_leakage": False})
    with pytest.raises(PolyretError, match=r"step 3: loss is nan.*\b2\b.*intact"):
        train(config)
    assert list_checkpoints(out) == [2]
    state = load_checkpoint(out, 2)
    assert all(torch.isfinite(v).all() for v in state["trainable"].values())
    assert not (out / "polyret_model.json").exists()  # no finished model is claimed


def test_yaml_config_with_flag_overrides_accumulation_and_checkpointing(tiny_models: dict[str, Path], data_dir: Path,
                                                                          tmp_path: Path) -> None:
    """A YAML config drives the run, a flag beats it, and the saved config is what ran."""
    import yaml

    cfg = tmp_path / "run.yaml"
    cfg.write_text(yaml.safe_dump({"model": str(tiny_models["bert"]), "strategy": "x_y", "steps": 9,
                                   "batch-size": 4, "grad_accum": 2, "gradient_checkpointing": True,
                                   "data_dir": str(data_dir), "sources": "mkqa", "languages": "en,es",
                                   "check_leakage": False}))
    out = tmp_path / "yaml-run"
    done = cli(["train", "--config", str(cfg), "--steps", "2", "--output", str(out)])
    assert done.returncode == 0, done.stderr
    saved = yaml.safe_load((out / "train_config.yaml").read_text())
    assert (saved["steps"], saved["grad_accum"], saved["gradient_checkpointing"], saved["strategy"]) == (2, 2, True, "x_y")
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == ["cross", "cross"]
    assert all(r["query_langs"] != r["passage_langs"] for r in records)
    bad = cli(["train", "--config", str(cfg), "--batch-size", "3", "--output", str(tmp_path / "bad")])
    assert bad.returncode == 2 and "--batch-size 3 must divide evenly" in bad.stderr
