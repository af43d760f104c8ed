"""Noise where it is used: training batches (deterministic per seed, step, group, role) and evaluation queries."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.benchmark import Query
from polyret.errors import PolyretError
from polyret.noise.apply import BatchNoiser, NoiseConfig, QueryNoise
from polyret.noise.engine import noise_text, stream_seed
from polyret.sampling import Batch
from polyret.train.config import load_config

runner = CliRunner()
SENTENCES = ["What did you know about the small church?", "They were not tired, you know.",
             "Where did the children go before the war?", "How many people live in the old town?"]


def english_batch(step: int, n: int = 200) -> Batch:
    texts = [SENTENCES[i % len(SENTENCES)] + f" {i}" for i in range(n)]
    return Batch(step=step, kind="mono", language_pair=("en", "en"), query_langs=["en"] * n,
                 positive_langs=["en"] * n, group_ids=[f"g{i}" for i in range(n)], queries=texts,
                 positives=[t.upper() for t in texts])


def test_batch_noise_is_a_function_of_seed_step_group_and_role() -> None:
    noiser = BatchNoiser(NoiseConfig(dialects=["en-*"], rate=0.8, share=0.5), seed=7)
    first, tally = noiser.noise_batch(english_batch(3))
    again, _ = BatchNoiser(NoiseConfig(dialects=["en-*"], rate=0.8, share=0.5), seed=7).noise_batch(english_batch(3))
    assert first == again  # what a resumed run recomputes for the same step
    later, _ = noiser.noise_batch(english_batch(4))
    assert later.queries != first.queries  # a group drawn at a later step gets a fresh draw
    other_seed, _ = BatchNoiser(NoiseConfig(dialects=["en-*"], rate=0.8, share=0.5), seed=8).noise_batch(
        english_batch(3))
    assert other_seed.queries != first.queries
    assert first.positives == english_batch(3).positives  # apply_to=query leaves passages alone
    assert 0.38 < tally.noised / tally.texts < 0.62  # share 0.5 of 200 examples (binomial, 3.4 sd)
    assert 0 < tally.changed <= tally.noised and tally.families


def test_share_apply_to_and_languages_without_targets() -> None:
    none, tally = BatchNoiser(NoiseConfig(dialects=["en-*"], share=0.0), seed=0).noise_batch(english_batch(1))
    assert none == english_batch(1) and tally.noised == 0
    both, _ = BatchNoiser(NoiseConfig(dialects=["en-sco"], share=1.0, rate=1.0, apply_to="both"),
                          seed=0).noise_batch(english_batch(1))
    assert all(q != o for q, o in zip(both.queries, english_batch(1).queries))
    assert any(p != o for p, o in zip(both.positives, english_batch(1).positives))
    batch = english_batch(1)
    foreign = Batch(**{**batch.__dict__, "query_langs": ["xx"] * len(batch)})
    kept, tally = BatchNoiser(NoiseConfig(dialects=["en-*"], share=1.0), seed=0).noise_batch(foreign)
    assert kept.queries == batch.queries and tally.noised == 0  # no table for "xx": left clean, never an error


def test_noise_config_in_training_config() -> None:
    config = load_config(None, {"strategy": "hybrid+noise"})
    assert config.noise == NoiseConfig() and config.sampler_strategy == "hybrid"
    assert load_config(None, {"strategy": "hybrid"}).noise is None
    with pytest.raises(PolyretError, match="noise"):
        load_config(None, {"noise": {"rate": 2.0}})
    with pytest.raises(PolyretError, match="families"):
        load_config(None, {"noise": {"families": ["nope"]}})


def test_noise_flags_refine_the_config_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("strategy: hybrid\nnoise:\n  rate: 0.7\n  dialects: [en-sco]\n")
    config = load_config(path, {"noise": {"share": 0.9, "rate": None}})
    assert config.noise is not None
    assert (config.noise.rate, config.noise.share, config.noise.dialects) == (0.7, 0.9, ["en-sco"])


def test_query_noise_parse_and_apply() -> None:
    plan = QueryNoise.parse(["en-sus:0.5"], seed=1)
    assert plan.plan == {"en": ("sus", 0.5)}
    queries = [Query(id=f"q{i}", text=s, lang="en") for i, s in enumerate(SENTENCES)] + [
        Query(id="d", text="Wie heißt die Stadt?", lang="de")]
    noised, tally = QueryNoise.parse(["en-sco:1.0"]).apply(queries)
    assert [q.id for q in noised] == [q.id for q in queries]
    assert noised[-1] == queries[-1] and tally.noised == len(SENTENCES)
    assert noised[0].text == noise_text(queries[0].text, "en", "sco", 1.0, stream_seed(0, "q0")).text
    assert noised[0].text != queries[0].text
    assert QueryNoise.parse(["en-sco:1.0"]).apply(queries)[0] == noised  # deterministic
    for bad, message in (("en-sco", "DIALECT_SPEC:RATE"), ("en-sco:x", "not a number"), ("en-sco:1.5", "[0, 1]"),
                         ("en-xyz:0.2", "unknown dialect"), ("xx:0.2", "unknown language")):
        with pytest.raises(PolyretError, match=message.replace("[", r"\[")):
            QueryNoise.parse([bad])
    with pytest.raises(PolyretError, match="already noised"):
        QueryNoise.parse(["en-sco:0.2", "en-sus:0.3"])


def test_evaluate_with_query_noise_and_robustness(tiny_models: dict[str, Path], data_dir: Path,
                                                 tmp_path: Path) -> None:
    base = ["evaluate", "--model", str(tiny_models["bert"]), "--data-dir", str(data_dir), "--articles", "1",
            "--languages", "de,en"]
    clean = runner.invoke(app, [*base, "--output", str(tmp_path / "clean")])
    noisy = runner.invoke(app, [*base, "--output", str(tmp_path / "noisy"), "--query-noise", "en-sco:1.0"])
    assert clean.exit_code == 0 and noisy.exit_code == 0, noisy.output
    a = json.loads((tmp_path / "clean" / "results.json").read_text())
    b = json.loads((tmp_path / "noisy" / "results.json").read_text())
    assert a["query_noise"] is None and b["query_noise"]["targets"] == {"en": "en-sco"}
    assert b["query_noise"]["changed"] > 0 and b["query_noise"]["noised"] == a["metrics"]["per_query_language"][
        "en"]["n_queries"]
    langs = b["metrics"]["per_query_language"]
    assert langs["de"] == a["metrics"]["per_query_language"]["de"]  # German queries were not touched
    assert langs["en"]["mul_map"] != a["metrics"]["per_query_language"]["en"]["mul_map"]

    robust = runner.invoke(app, [*base, "--output", str(tmp_path / "r"), "--robustness", "--robustness-dialects",
                                 "en-*", "--robustness-rates", "0.5,1"])
    assert robust.exit_code == 0, robust.output
    curve = json.loads((tmp_path / "r" / "robustness.json").read_text())
    assert curve["rates"] == [0.0, 0.5, 1.0]
    assert {line["dialect"] for line in curve["lines"]} == {"en-sco", "en-sus", "en-net"}
    for line in curve["lines"]:  # rate 0 is the clean evaluation; a rate that changes queries moves the score
        assert line["mul_map"][0] == pytest.approx(a["metrics"]["per_query_language"]["en"]["mul_map"])
        assert line["changed_share"][0] == 0 and line["changed_share"][2] > 0
    sco = next(line for line in curve["lines"] if line["dialect"] == "en-sco")  # same noise as --query-noise
    assert sco["mul_map"][2] == pytest.approx(b["metrics"]["per_query_language"]["en"]["mul_map"])
    assert (tmp_path / "r" / "robustness.png").stat().st_size > 1000

    conflict = runner.invoke(app, [*base, "--output", str(tmp_path / "x"), "--robustness", "--query-noise",
                                   "en:0.2"])
    assert conflict.exit_code == 2 and "leave out --query-noise" in conflict.output
    unknown = runner.invoke(app, [*base, "--output", str(tmp_path / "y"), "--query-noise", "en-klingon:0.2"])
    assert unknown.exit_code == 2 and "en-sco" in unknown.output  # the error lists the choices
