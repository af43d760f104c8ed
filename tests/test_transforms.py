"""Language-bias transforms on constructed embeddings with known answers, and the oracle guard via the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.errors import PolyretError
from polyret.evaluate.transforms import (LanguageMeans, TransformSpec, apply_transform, parse_transform,
                                         tatoeba_texts)
from builders import SENTENCES

runner = CliRunner()
LANGS = ["de", "en", "es"]
DIM = 16


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _world(seed: int = 0, offset_dims: int = 3) -> tuple[dict[str, np.ndarray], np.ndarray, LanguageMeans]:
    """Offsets live in the first `offset_dims` coordinates, semantics in the rest; source and eval texts differ."""
    rng = np.random.default_rng(seed)
    offsets = {lang: np.concatenate([rng.normal(size=offset_dims) * 3, np.zeros(DIM - offset_dims)]) for lang in LANGS}
    semantic = np.concatenate([np.zeros((5, offset_dims)), rng.normal(size=(5, DIM - offset_dims))], axis=1)
    source = np.concatenate([np.zeros((40, offset_dims)), rng.normal(size=(40, DIM - offset_dims))], axis=1)
    vectors = np.concatenate([source + offsets[lang] for lang in LANGS])
    labels = [lang for lang in LANGS for _ in range(len(source))]
    stats = LanguageMeans.estimate({"query": vectors, "passage": vectors}, {"query": labels, "passage": labels},
                                   LANGS, "test")
    return offsets, semantic, stats


def _cosines_across_languages(spec: TransformSpec, offsets: dict[str, np.ndarray], semantic: np.ndarray,
                              stats: LanguageMeans) -> np.ndarray:
    out = {lang: apply_transform(spec, stats, semantic + offsets[lang], [lang] * len(semantic), "query")
           for lang in LANGS}
    return np.array([np.sum(out[a] * out[b], axis=1) for a in LANGS for b in LANGS])


def test_center_removes_a_pure_language_offset_exactly() -> None:
    offsets, semantic, stats = _world()
    cos = _cosines_across_languages(TransformSpec("center", None, "test"), offsets, semantic, stats)
    assert cos == pytest.approx(1.0, abs=1e-5)  # the same sentence in every language coincides
    raw = _unit(semantic + offsets["de"]) @ _unit(semantic + offsets["es"]).T
    assert np.diag(raw).min() < 0.99  # ... which it did not before


def test_subspace_with_n_minus_one_directions_removes_all_mean_differences() -> None:
    offsets, semantic, stats = _world()
    cos = _cosines_across_languages(TransformSpec("subspace", len(LANGS) - 1, "test"), offsets, semantic, stats)
    assert cos == pytest.approx(1.0, abs=1e-5)


def test_subspace_keeps_semantic_directions_orthogonal_to_the_language_subspace() -> None:
    _, semantic, stats = _world()
    for k in (1, 2):
        kept = apply_transform(TransformSpec("subspace", k, "test"), stats, semantic, ["en"] * len(semantic), "query")
        assert kept == pytest.approx(_unit(semantic), abs=1e-6)


def test_subspace_k1_removes_the_dominant_language_direction() -> None:
    rng = np.random.default_rng(1)
    direction = np.eye(DIM)[0]
    means = np.stack([3.0 * direction * s + 0.01 * rng.normal(size=DIM) for s in (-1, 0, 1)])
    stats = LanguageMeans(LANGS, {"query": means, "passage": means}, {"query": {}, "passage": {}})
    out = apply_transform(TransformSpec("subspace", 1, "test"), stats, np.eye(DIM)[:2], ["en", "en"], "query")
    assert abs(out[0, 0]) < 0.05 and out[1] == pytest.approx(np.eye(DIM)[1], abs=1e-2)


def test_roles_use_their_own_statistics() -> None:
    means = {"query": np.eye(4)[[0, 1]], "passage": np.eye(4)[[2, 3]]}
    stats = LanguageMeans(["de", "en"], means, {"query": {}, "passage": {}})
    x = np.array([[1.0, 0.0, 1.0, 1.0]])
    spec = TransformSpec("center", None, "test")
    assert apply_transform(spec, stats, x, ["de"], "query") == pytest.approx(_unit(np.array([[0.0, 0, 1, 1]])))
    assert apply_transform(spec, stats, x, ["de"], "passage") == pytest.approx(_unit(np.array([[1.0, 0, 0, 1]])))


def test_missing_language_is_an_error_naming_it() -> None:
    _, semantic, stats = _world()
    with pytest.raises(PolyretError, match="'fr'"):
        apply_transform(TransformSpec("center", None, "test"), stats, semantic[:1], ["fr"], "query")
    with pytest.raises(PolyretError, match="'fr'"):
        LanguageMeans.estimate({"query": semantic, "passage": semantic}, {"query": ["en"] * 5, "passage": ["en"] * 5},
                               ["en", "fr"], "test")


def test_subspace_k_must_be_below_the_number_of_languages() -> None:
    offsets, semantic, stats = _world()
    with pytest.raises(PolyretError, match="below the number of languages"):
        apply_transform(TransformSpec("subspace", 3, "test"), stats, semantic, ["en"] * 5, "query")


@pytest.mark.parametrize(("transform", "source", "allow", "message"), [
    ("mean", "tatoeba", False, "unknown transform"),
    ("subspace:x", "tatoeba", False, "not an integer"),
    ("center", None, False, "--transform-source is required"),
    ("center", "eval", False, "unknown source"),
    ("center", "oracle-eval-pool", False, "--allow-oracle"),
])
def test_parse_errors(transform: str, source: str | None, allow: bool, message: str) -> None:
    with pytest.raises(PolyretError, match=message):
        parse_transform(transform, source, allow)


def test_parse_defaults() -> None:
    assert parse_transform("subspace", "training", False) == TransformSpec("subspace", 1, "training")
    assert parse_transform("center", "oracle-eval-pool", True).oracle


def _fake_tatoeba(root: Path, langs: dict[str, str]) -> Path:
    folder = root / "dev" / "tatoeba"
    folder.mkdir(parents=True)
    for lang, code in langs.items():
        (folder / f"tatoeba.{code}-eng.{code}").write_text("\n".join(SENTENCES[lang]) + "\n", encoding="utf-8")
        (folder / f"tatoeba.{code}-eng.eng").write_text("\n".join(SENTENCES["en"]) + "\n", encoding="utf-8")
    return root


def test_tatoeba_texts_cap_and_missing_language(tmp_path: Path) -> None:
    root = _fake_tatoeba(tmp_path, {"de": "deu"})
    texts = tatoeba_texts(root, ["de", "en"], cap=3)
    assert len(texts["de"]) == 3 and set(texts["de"]) <= set(SENTENCES["de"])
    assert texts == tatoeba_texts(root, ["de", "en"], cap=3)  # deterministic
    with pytest.raises(PolyretError, match="'es'"):
        tatoeba_texts(root, ["de", "es"], cap=3)


def test_cli_transform_tatoeba_and_oracle_guard(tiny_models: dict[str, Path], parallel_bench: Path,
                                                tmp_path: Path) -> None:
    data = _fake_tatoeba(tmp_path / "data", {"de": "deu", "es": "spa"})
    base = ["evaluate", "--model", str(tiny_models["bert"]), "--benchmark", str(parallel_bench),
            "--data-dir", str(data)]
    out = tmp_path / "tatoeba"
    result = runner.invoke(app, [*base, "--output", str(out), "--transform", "subspace:2",
                                 "--transform-source", "tatoeba"])
    assert result.exit_code == 0, result.output
    section = json.loads((out / "results.json").read_text())["transform"]
    assert section["name"] == "subspace" and section["k"] == 2 and section["oracle"] is False
    assert section["counts"]["query"] == {"de": 4, "en": 4, "es": 4} == section["counts"]["passage"]
    saved = np.load(out / "transform_stats.npz")
    stats = LanguageMeans(list(saved["languages"]), {"query": saved["query_means"], "passage": saved["passage_means"]},
                          section["counts"])
    assert stats.languages == ["de", "en", "es"] and stats.sha256() == section["stats_sha256"]

    oracle = tmp_path / "oracle"
    refused = runner.invoke(app, [*base, "--output", str(oracle), "--transform", "center",
                                  "--transform-source", "oracle-eval-pool"])
    assert refused.exit_code == 2 and "--allow-oracle" in refused.output
    assert len(refused.output.strip().splitlines()) == 1 and not oracle.exists()
    allowed = runner.invoke(app, [*base, "--output", str(oracle), "--transform", "center",
                                  "--transform-source", "oracle-eval-pool", "--allow-oracle"])
    assert allowed.exit_code == 0, allowed.output
    labelled = json.loads((oracle / "results.json").read_text())
    assert labelled["transform"]["oracle"] is True and labelled["options"]["allow_oracle"] is True
    assert labelled["transform"]["counts"]["passage"] == {"de": 4, "en": 4, "es": 4}


def test_training_source_reads_training_queries_per_language(data_dir: Path) -> None:
    from polyret.evaluate.transforms import training_texts

    texts = training_texts(data_dir, ["de", "en", "es"], cap=5)
    assert {lang: len(v) for lang, v in texts.items()} == {"de": 5, "en": 5, "es": 5}
    assert texts == training_texts(data_dir, ["de", "en", "es"], cap=5)  # deterministic sample
    from polyret.data.training import load_training_groups

    questions = {q for g in load_training_groups(data_dir, languages=["de", "en", "es"]).groups
                 for q in g.queries.values()}
    assert all(t in questions for v in texts.values() for t in v)  # training queries, never evaluation text
    with pytest.raises(PolyretError, match="'xx'"):
        training_texts(data_dir, ["xx", "en"], cap=5)  # no training question in that language (XNLI and NTREX
        # gave Greek training text, so the check now uses a code no source has)
