"""The NTREX dialect benchmark: held-out test documents only (never in training), every variety against the 11
standard languages, per-variety scores and the Cr gap to the parent; the evaluator runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.dialects import VARIETIES, load_ntrex_benchmark, variety_scores
from polyret.data.sources.ntrex import FILES, document_split, read_document_ids
from polyret.data.training import load_training_groups


def test_benchmark_holds_held_out_test_documents_and_every_variety(data_dir: Path) -> None:
    bench = load_ntrex_benchmark(data_dir)
    ids = read_document_ids(data_dir / "train/ntrex/DOCUMENT_IDS.tsv")
    split = document_split(ids)
    assert set(bench.options["documents"]) == {d for d in ids if split[d] == "test"} and len(bench.options["documents"]) == 25
    n = bench.options["sentences"]
    assert n == 386 and len(bench.candidates) == 11 * n and bench.languages == sorted(FILES)
    assert len(bench.queries) == (len(VARIETIES) + 4) * n
    lines = (data_dir / "dev/ntrex-variants/newstest2019-ref.gsw-BE.txt").read_text(encoding="utf-8").splitlines()
    query = next(q for q in bench.queries if q.id.startswith("gsw-BE/"))
    line = int(query.id.split("/")[1])
    assert query.text == lines[line - 1] and query.lang == "de" and split[ids[line - 1]] == "test"
    assert bench.qrels[query.id] == {f"{lang}:{line}" for lang in FILES}
    assert len(load_ntrex_benchmark(data_dir, max_sentences=10).candidates) == 110


def test_benchmark_documents_never_appear_in_training(data_dir: Path) -> None:
    bench = load_ntrex_benchmark(data_dir)
    data = load_training_groups(data_dir)
    trained_docs = {g.id.split("/")[1] for g in data.groups if g.source == "ntrex"}
    assert trained_docs and not trained_docs & set(bench.options["documents"])
    every = {t for g in data.groups for side in (g.queries, g.passages) for t in side.values()}
    ntrex = "\n".join(t for g in data.groups if g.source == "ntrex" for side in (g.queries, g.passages)
                      for t in side.values())
    assert not [c.text for c in bench.candidates if c.text in every or c.text in ntrex]
    dev = load_ntrex_benchmark(data_dir, "dev", varieties=False)
    assert not set(dev.options["documents"]) & (trained_docs | set(bench.options["documents"]))


def test_variety_scores_pair_each_variety_with_its_parent_on_the_same_sentences() -> None:
    ids = ["gsw-BE/1", "gsw-BE/2", "de/1", "de/2", "es-MX/1", "es/1"]
    per_query = {"query_ids": ids, "mul_ap": [0.5, 0.7, 0.9, 1.0, 0.2, 0.4], "mo_ap": [0.6, 0.8, 1.0, 1.0, 0.3, 1.0],
                 "cr_ap": [0.4, 0.6, 0.7, 0.9, 0.1, 0.5], "rank_distance": [1, 2, 3, 4, 5, 6]}
    scores = variety_scores(per_query)
    assert set(scores) == {"gsw-BE", "es-MX"}
    gsw = scores["gsw-BE"]
    assert gsw["parent"] == "de" and gsw["n_queries"] == 2
    assert gsw["cr_map"] == pytest.approx(0.5) and gsw["parent_cr_map"] == pytest.approx(0.8)
    assert gsw["cr_gap"]["difference"] == pytest.approx(-0.3) and gsw["mul_map"] == pytest.approx(0.6)
    assert scores["es-MX"]["cr_gap"]["difference"] == pytest.approx(-0.4)


def test_evaluator_runs_the_dialect_benchmark(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["evaluate", "--model", str(tiny_models["bert"]), "--data-dir", str(data_dir),
                                      "--benchmark", "ntrex-dialects", "--articles", "8", "--output", str(out)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    scores = variety_scores(metrics["per_query"])
    assert set(scores) == set(VARIETIES) and all(s["n_queries"] == 8 for s in scores.values())
    assert all(np.isfinite(s["cr_gap"]["difference"]) for s in scores.values())


def test_variety_differences_pair_each_variety_by_sentence() -> None:
    """Hand-made: the cell beats the baseline by exactly 0.1 Cr AP on gsw-BE and equals it on es-MX."""
    from polyret.data.dialects import variety_differences
    from polyret.errors import PolyretError

    ids = [f"gsw-BE/{i}" for i in range(20)] + [f"es-MX/{i}" for i in range(20)] + [f"de/{i}" for i in range(20)]
    base = [0.3 + 0.02 * (i % 10) for i in range(60)]
    cell = [v + 0.1 if i < 20 else v for i, v in enumerate(base)]
    got = variety_differences({"query_ids": ids, "cr_ap": cell}, {"query_ids": ids, "cr_ap": base})
    assert set(got) == {"gsw-BE", "es-MX"}  # the parent's own queries are not a variety
    assert got["gsw-BE"]["n_queries"] == 20
    assert got["gsw-BE"]["difference"] == pytest.approx(0.1)
    assert got["gsw-BE"]["ci"][0] == pytest.approx(0.1) and got["gsw-BE"]["p_value"] < 0.001
    assert got["es-MX"]["difference"] == pytest.approx(0.0) and got["es-MX"]["p_value"] == pytest.approx(1.0)
    with pytest.raises(PolyretError, match="different queries"):
        variety_differences({"query_ids": ids[::-1], "cr_ap": cell}, {"query_ids": ids, "cr_ap": base})
