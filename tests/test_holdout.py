"""Held-out languages (--holdout-languages el,vi) never reach a training batch: checked on the sampler over many
steps and on a real training run's log.jsonl and sampler.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.data.training import load_training_groups
from polyret.errors import PolyretError
from polyret.sampling import make_sampler
from polyret.train.config import load_config

HELD = {"el", "vi"}


def test_config_subtracts_held_out_languages() -> None:
    config = load_config(None, {"holdout_languages": "el,vi"})
    assert config.training_languages == ["ar", "de", "en", "es", "hi", "ru", "th", "tr", "zh"]
    assert load_config(None, {"languages": "en,el", "holdout_languages": "el"}).training_languages == ["en"]
    assert load_config(None, {}).training_languages is None
    with pytest.raises(PolyretError, match="holdout_languages leaves no training language"):
        load_config(None, {"languages": "el", "holdout_languages": "el"})


@pytest.mark.parametrize("strategy", ["hybrid", "x_x"])
def test_no_batch_holds_a_held_out_language(data_dir: Path, strategy: str) -> None:
    languages = load_config(None, {"holdout_languages": "el,vi"}).training_languages
    data = load_training_groups(data_dir, ["xnli", "ntrex", "mkqa"], languages)
    assert not any(HELD & (set(g.queries) | set(g.passages)) for g in data.groups)
    sampler = make_sampler(strategy, data.groups, 16, languages=languages, per_example_pairs=strategy == "hybrid")
    seen = set()
    for step in range(300):
        batch = sampler.batch_at(step)
        seen |= set(batch.query_langs) | set(batch.positive_langs)
    assert seen == set(languages)  # every training language is drawn, no held-out one


def test_training_log_never_shows_a_held_out_language(tiny_models: dict[str, Path], data_dir: Path,
                                                      tmp_path: Path) -> None:
    from polyret.train.loop import train

    out = tmp_path / "run"
    config = load_config(None, {"model": str(tiny_models["bert"]), "strategy": "hybrid", "per_example_pairs": True,
                                "steps": 6, "batch_size": 4, "data_dir": data_dir, "sources": "xnli",
                                "holdout_languages": "el,vi", "output": out, "check_leakage": False,
                                "query_max_length": 16, "passage_max_length": 16})
    train(config)
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert len(records) == 6
    for record in records:
        langs = set(record["query_langs"]) | set(record["passage_langs"])
        langs |= {lang for pair in record["language_pairs"] for lang in pair.split("-")}
        assert langs and not langs & HELD
    info = json.loads((out / "sampler.json").read_text())
    assert not HELD & set(info["languages"])
    assert not any(HELD & set(pair.split("-")) for kind in info["probabilities"].values() for pair in kind)
