"""The faiss top-k path: IndexFlatIP agrees with exact search, HNSW is named as approximate, the CLI records it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.evaluate.metrics import cross_check, compute_metrics
from polyret.evaluate.search import exact_search
from polyret.evaluate.topk import faiss_topk, topk_measures
from builders import random_run


def test_flat_index_matches_exact_search_and_ir_measures() -> None:
    q, c, relevant, cand_lang, query_lang, _ = random_run(3, nq=50, nc=400)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    exact = exact_search(q, c, relevant, cand_lang, 3, k=20)
    top = faiss_topk(q, c, 20, "flat")
    assert top.index["faiss"] == "IndexFlatIP" and top.index["exact"] is True
    np.testing.assert_array_equal(top.indices, exact.topk_indices)  # continuous scores: no near-ties
    np.testing.assert_allclose(top.scores, exact.topk_scores, atol=1e-6)
    ours = topk_measures(top, relevant)
    theirs = cross_check(exact, compute_metrics(exact, query_lang, cand_lang, ["a", "b", "c"]))
    for mine, library in (("mul_ndcg_at_10", "nDCG@10"), ("mul_r_at_1", "R@1"), ("mul_r_at_10", "R@10"),
                          ("mul_mrr_at_20", "RR"), ("mul_map_at_20", "AP@20")):
        assert ours[mine] == pytest.approx(theirs[library], abs=1e-12), mine


def test_hnsw_is_approximate_and_says_so() -> None:
    rng = np.random.default_rng(0)
    c = rng.standard_normal((3000, 32)).astype(np.float32)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    q = c[:100] + 0.05 * rng.standard_normal((100, 32)).astype(np.float32)
    flat, hnsw = faiss_topk(q, c, 10, "flat"), faiss_topk(q, c, 10, "hnsw")
    assert hnsw.index["faiss"] == "IndexHNSWFlat" and hnsw.index["exact"] is False and hnsw.index["efSearch"] > 0
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(flat.indices, hnsw.indices)])
    assert overlap > 0.9 and (hnsw.indices[:, 0] == np.arange(100)).mean() > 0.95


def test_cli_faiss_search_names_the_index(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    from builders import QUESTIONS, SENTENCES
    from builders import write_generic

    corpus = [{"id": f"{lang}{i}", "text": t, "lang": lang} for lang, ts in SENTENCES.items() for i, t in enumerate(ts)]
    queries = [{"id": f"q{lang}{i}", "text": t, "lang": lang} for lang, ts in QUESTIONS.items() for i, t in enumerate(ts)]
    qrels = [f"q{ql}{i} 0 {cl}{i} 1" for ql in QUESTIONS for i in range(3) for cl in SENTENCES]
    bench = write_generic(tmp_path / "bench", corpus, queries, qrels)
    base = ["evaluate", "--model", str(tiny_models["bert"]), "--benchmark", str(bench)]
    exact = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "exact")])
    flat = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "flat"), "--search", "faiss-flat", "--trec-run"])
    assert exact.exit_code == 0 and flat.exit_code == 0, flat.output
    a = json.loads((tmp_path / "exact" / "results.json").read_text())
    b = json.loads((tmp_path / "flat" / "results.json").read_text())
    assert a["search"]["engine"] == "exact" and b["search"]["engine"] == "faiss-flat"
    assert b["search"]["faiss"] == "IndexFlatIP" and "mo_map" not in b["metrics"]
    for key in ("mul_ndcg_at_10", "mul_r_at_10"):
        assert b["metrics"][key] == pytest.approx(a["metrics"][key], abs=1e-9)
    assert len((tmp_path / "flat" / "run.trec").read_text().splitlines()) == 9 * 12
    bad = CliRunner().invoke(app, [*base, "--output", str(tmp_path / "x"), "--search", "faiss-hnsw", "--robustness"])
    assert bad.exit_code == 2 and "need --search exact" in bad.output
