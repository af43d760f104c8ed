"""The training loop on a tiny model and real training data: logging, kinds, resume after SIGKILL, saving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.train.config import load_config
from polyret.train.loop import KILL_ENV, train

REPO = Path(__file__).resolve().parents[1]


def base_args(model: Path, data_dir: Path, output: Path, steps: int) -> list[str]:
    return ["train", "--model", str(model), "--strategy", "hybrid", "--alpha", "0.5", "--steps", str(steps),
            "--batch-size", "4", "--data-dir", str(data_dir), "--sources", "arcd,mkqa", "--languages", "ar,en,es",
            "--output", str(output), "--checkpoint-every", "2", "--lr", "1e-3", "--no-check-leakage",
            "--no-freeze-embeddings", "--query-max-length", "24", "--passage-max-length", "32"]


def cli(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polyret", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=REPO)


def losses(output: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in map(json.loads, (output / "log.jsonl").read_text().splitlines())]


def test_resume_after_sigkill_reproduces_the_uninterrupted_losses(tiny_models: dict[str, Path], data_dir: Path,
                                                                   tmp_path: Path) -> None:
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = cli(base_args(tiny_models["bert"], data_dir, straight, 7))
    assert done.returncode == 0, done.stderr
    crash = cli(base_args(tiny_models["bert"], data_dir, killed, 7), env={KILL_ENV: "6"})
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
