"""LAReQA measures: a hand-worked example, and agreement with ir_measures (pytrec_eval) on random runs."""

from __future__ import annotations

import dataclasses
import json
import math

import ir_measures
import numpy as np
import pytest
from ir_measures import AP, RR, R, nDCG

from polyret.errors import PolyretError
from polyret.evaluate.metrics import (
    check_relevance,
    compute_metrics,
    cross_check,
    ir_measures_from_run,
    write_trec_run,
)
from polyret.evaluate.search import exact_search
from builders import random_run  # noqa: F401 (shared builders)

# The hand-worked pool of test_search.py: queries are e0, e1, e2, so score(q_i, c) = HAND_CANDS[c, i].
# Scores in sixteenths; candidates 0-2 en, 3-5 de; queries q0, q1 en, q2 de.
#   q0: c0 15, c1 13, c2  2, c3 11, c4  3, c5  5 -> order c0 c1 c3 c5 c4 c2; relevant c0, c3 -> ranks 1, 3
#   q1: c0 14, c1  4, c2 12, c3 10, c4 11, c5  8 -> order c0 c2 c4 c3 c5 c1; relevant c1, c4 -> ranks 6, 3
#   q2: c0  7, c1  9, c2  9, c3  9, c4  1, c5  9 -> order c1 c2 c3 c5 c0 c4; relevant c2, c5 -> ranks 2, 4
#       (ties at 9 go to the lower index)
HAND_QUERIES = np.eye(3, dtype=np.float32)
HAND_CANDS = np.array([[15, 13, 2, 11, 3, 5], [14, 4, 12, 10, 11, 8], [7, 9, 9, 9, 1, 9]], np.float32).T / 16
HAND_CAND_LANG = np.array([0, 0, 0, 1, 1, 1])
LANGS = ["en", "de"]
QUERY_LANG = np.array([0, 0, 1])
RELEVANT = [np.array([0, 3]), np.array([1, 4]), np.array([2, 5])]


def hand_metrics():
    search = exact_search(HAND_QUERIES, HAND_CANDS, RELEVANT, HAND_CAND_LANG, 2, k=10)
    return search, compute_metrics(search, QUERY_LANG, HAND_CAND_LANG, LANGS, query_ids=["a", "b", "c"])


def test_hand_worked_example():
    _, m = hand_metrics()
    # Mul AP: q0 ranks (1, 3): (1/1 + 2/3) / 2 = 5/6; q1 ranks (3, 6): (1/3 + 2/6) / 2 = 1/3;
    # q2 ranks (2, 4): (1/2 + 2/4) / 2 = 1/2.  mul_map = (5/6 + 1/3 + 1/2) / 3 = 5/9.
    np.testing.assert_allclose(m.query_mul_ap, [5 / 6, 1 / 3, 1 / 2])
    assert m.mul_map == pytest.approx(5 / 9)
    # RR: 1, 1/3, 1/2 -> 11/18.  R@1: q0 has 1 of 2 at rank 1 -> 1/2, others 0 -> 1/6.  R@10: all found -> 1.
    assert m.mul_mrr == pytest.approx(11 / 18)
    assert m.mul_r_at_1 == pytest.approx(1 / 6)
    assert m.mul_r_at_10 == pytest.approx(1.0)
    # nDCG@10 = DCG / ideal DCG, ideal for 2 relevant = 1 + 1/log2(3):
    #   q0: 1/log2(2) + 1/log2(4) = 1.5;  q1: 1/log2(4) + 1/log2(7);  q2: 1/log2(3) + 1/log2(5)
    ideal = 1 + 1 / math.log2(3)
    dcg = [1.5, 1 / math.log2(4) + 1 / math.log2(7), 1 / math.log2(3) + 1 / math.log2(5)]
    assert m.mul_ndcg_at_10 == pytest.approx(sum(d / ideal for d in dcg) / 3)
    # Per pair, one relevant per language, AP = 1/rank inside the language:
    #   en->en: q0 c0 rank 1, q1 c1 rank 3 (after c0, c2)  -> (1 + 1/3) / 2 = 2/3; R@1 = 1/2
    #   en->de: q0 c3 rank 1, q1 c4 rank 1 (11 > 10 > 8)   -> 1;                  R@1 = 1
    #   de->en: q2 c2 rank 2 (tied with c1, c1 first)     -> 1/2;                R@1 = 0
    #   de->de: q2 c5 rank 2 (tied with c3, c3 first)     -> 1/2;                R@1 = 0
    np.testing.assert_allclose(m.pair_map, [[2 / 3, 1], [1 / 2, 1 / 2]])
    np.testing.assert_allclose(m.pair_r_at_1, [[1 / 2, 1], [0, 0]])
    np.testing.assert_allclose(m.pair_r_at_10, [[1, 1], [1, 1]])
    np.testing.assert_array_equal(m.pair_n_queries, [[2, 2], [1, 1]])
    # Mo = (2/3 + 1/2) / 2 = 7/12, Cr = (1 + 1/2) / 2 = 3/4; R@1: Mo (1/2 + 0)/2, Cr (1 + 0)/2, all 3/8.
    assert (m.mo_map, m.cr_map) == pytest.approx((7 / 12, 3 / 4))
    assert (m.mo_r_at_1, m.cr_r_at_1, m.r_at_1) == pytest.approx((1 / 4, 1 / 2, 3 / 8))
    assert (m.mo_r_at_10, m.cr_r_at_10, m.r_at_10) == pytest.approx((1, 1, 1))
    # Rank distance: q0 3-1 = 2, q1 6-3 = 3, q2 4-2 = 2; en mean 2.5, de 2; macro mean 2.25.
    np.testing.assert_array_equal(m.query_rank_distance, [2, 3, 2])
    np.testing.assert_allclose(m.language_rank_distance, [2.5, 2])
    assert m.rank_distance == pytest.approx(2.25)
    # Per query language Mul mAP: en (5/6 + 1/3) / 2 = 7/12, de 1/2. Top 10 = whole pool, half of it en.
    np.testing.assert_allclose(m.language_mul_map, [7 / 12, 1 / 2])
    np.testing.assert_allclose(m.language_same_language_at_10, [0.5, 0.5])


def test_to_dict_is_strict_json():
    _, m = hand_metrics()
    d = json.loads(json.dumps(m.to_dict(per_query=True), allow_nan=False))
    for key in ["mul_map", "mo_map", "cr_map", "r_at_1", "r_at_10", "rank_distance", "mul_r_at_10",
                "mul_ndcg_at_10", "mo_r_at_1", "mo_r_at_10", "cr_r_at_1", "cr_r_at_10"]:  # fmt: skip
        assert isinstance(d[key], float), key
    assert d["pair_map"] == {"languages": ["en", "de"], "matrix": [[pytest.approx(2 / 3), 1.0], [0.5, 0.5]]}
    assert d["pair_r_at_1"]["matrix"] == [[0.5, 1.0], [0.0, 0.0]]
    assert d["per_query_language"]["de"] == {
        "n_queries": 1, "mul_map": 0.5, "rank_distance": 2.0, "same_language_at_10": 0.5,
    }  # fmt: skip
    assert d["per_query"]["query_ids"] == ["a", "b", "c"]
    assert "per_query" not in m.to_dict()




def trec_dicts(scores, relevant, rows, cols):
    """qrels and run restricted to candidate columns `cols`, for queries `rows`, with the real scores."""
    qrels = {str(q): {str(c): 1 for c in relevant[q] if c in cols} for q in rows}
    run = {str(q): {str(c): float(scores[q, c]) for c in cols} for q in rows}
    return qrels, run


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mul_measures_match_ir_measures_on_full_runs(seed):
    q, c, relevant, cand_lang, query_lang, scores = random_run(seed)
    search = exact_search(q, c, relevant, cand_lang, 3, k=len(c))
    m = compute_metrics(search, query_lang, cand_lang, ["a", "b", "c"])
    qrels, run = trec_dicts(scores, relevant, range(len(q)), set(range(len(c))))
    ref = ir_measures.pytrec_eval.calc_aggregate([AP, RR, nDCG @ 10, R @ 10, R @ 1], qrels, run)
    assert m.mul_map == pytest.approx(ref[AP], abs=1e-12)
    assert m.mul_mrr == pytest.approx(ref[RR], abs=1e-12)
    assert m.mul_ndcg_at_10 == pytest.approx(ref[nDCG @ 10], abs=1e-12)
    assert m.mul_r_at_10 == pytest.approx(ref[R @ 10], abs=1e-12)
    assert m.mul_r_at_1 == pytest.approx(ref[R @ 1], abs=1e-12)
    per_query = {x.query_id: x.value for x in ir_measures.pytrec_eval.iter_calc([AP], qrels, run)}
    np.testing.assert_allclose(m.query_mul_ap, [per_query[str(i)] for i in range(len(q))], atol=1e-12)


@pytest.mark.parametrize("seed", [3, 4])
def test_pair_measures_match_ir_measures_on_per_pair_runs(seed):
    q, c, relevant, cand_lang, query_lang, scores = random_run(seed)
    m = compute_metrics(exact_search(q, c, relevant, cand_lang, 3, k=10), query_lang, cand_lang, ["a", "b", "c"])
    for a in range(3):
        for b in range(3):
            cols = set(np.flatnonzero(cand_lang == b).tolist())
            rows = [i for i in np.flatnonzero(query_lang == a) if cols.intersection(relevant[i].tolist())]
            assert rows, "the random problem should populate every pair"
            qrels, run = trec_dicts(scores, relevant, rows, cols)
            ref = ir_measures.pytrec_eval.calc_aggregate([AP, R @ 1, R @ 10], qrels, run)
            assert m.pair_n_queries[a, b] == len(rows)
            assert m.pair_map[a, b] == pytest.approx(ref[AP], abs=1e-12)
            assert m.pair_r_at_1[a, b] == pytest.approx(ref[R @ 1], abs=1e-12)
            assert m.pair_r_at_10[a, b] == pytest.approx(ref[R @ 10], abs=1e-12)


def test_cross_check_on_a_truncated_run_and_its_failure():
    q, c, relevant, cand_lang, query_lang, _ = random_run(5)
    search = exact_search(q, c, relevant, cand_lang, 3, k=15)
    m = compute_metrics(search, query_lang, cand_lang, ["a", "b", "c"])
    theirs = cross_check(search, m)
    assert set(theirs) == {"nDCG@10", "R@1", "R@10", "RR", "AP@15"}
    assert theirs["AP@15"] < m.mul_map  # relevant items below rank 15 are lost to AP@15 only
    with pytest.raises(PolyretError, match="nDCG@10"):
        cross_check(search, dataclasses.replace(m, mul_ndcg_at_10=m.mul_ndcg_at_10 + 1e-6))


def test_sampled_cross_check_sees_only_a_sample_and_still_catches_a_wrong_measure(monkeypatch):
    import polyret.evaluate.metrics as metrics_module

    q, c, relevant, cand_lang, query_lang, _ = random_run(6)
    search = exact_search(q, c, relevant, cand_lang, 3, k=15)
    m = compute_metrics(search, query_lang, cand_lang, ["a", "b", "c"])
    seen = []
    original = metrics_module.ir_measures_from_run
    monkeypatch.setattr(metrics_module, "ir_measures_from_run", lambda s: seen.append(s.n_queries) or original(s))
    sampled = cross_check(search, m, max_queries=7)
    assert seen == [7] and sampled["queries_checked"] == 7.0
    assert sampled["nDCG@10"] != pytest.approx(cross_check(search, m)["nDCG@10"], abs=1e-12)  # really a subset
    with pytest.raises(PolyretError, match="R@10"):
        cross_check(search, dataclasses.replace(m, mul_r_at_10=m.mul_r_at_10 + 1e-6), max_queries=7)


def test_query_without_relevant_is_an_error():
    search = exact_search(HAND_QUERIES, HAND_CANDS, [np.array([0]), np.array([], int), np.array([])], HAND_CAND_LANG)
    with pytest.raises(PolyretError, match=r"2 of 3 queries have no relevant candidate \(first: b\)"):
        compute_metrics(search, QUERY_LANG, HAND_CAND_LANG, LANGS, query_ids=["a", "b", "c"])
    with pytest.raises(PolyretError, match=r"1 of 2 queries .* \(first: #1\)"):
        check_relevance([np.array([4]), []])


def test_cand_lang_must_match_the_search():
    search, _ = hand_metrics()
    with pytest.raises(PolyretError, match="cand_lang does not match"):
        compute_metrics(search, QUERY_LANG, np.array([0, 0, 1, 1, 1, 1]), LANGS)


def test_absent_pairs_are_nan_and_left_out_of_means():
    # The hand-worked pool with candidate c5 relabelled "fr": no query is fr (row 2 empty), and q2 (de) now
    # has relevant items in en (c2) and fr (c5) but none in de (de->de empty). Language-only ranks:
    #   en->en: q0 c0 1, q1 c1 3 -> 2/3      en->de: q0 c3 1 (11 > 3), q1 c4 1 (11 > 10) -> 1
    #   de->en: q2 c2 2 -> 1/2               de->fr: q2 c5 alone -> 1
    cand_lang = np.array([0, 0, 0, 1, 1, 2])
    search = exact_search(HAND_QUERIES, HAND_CANDS, RELEVANT, cand_lang, 3)
    m = compute_metrics(search, QUERY_LANG, cand_lang, ["en", "de", "fr"])
    nan = np.nan
    np.testing.assert_allclose(m.pair_map, [[2 / 3, 1, nan], [1 / 2, nan, 1], [nan, nan, nan]])
    np.testing.assert_array_equal(m.pair_n_queries, [[2, 2, 0], [1, 0, 1], [0, 0, 0]])
    # Mo = the only defined diagonal cell, 2/3 (not (2/3 + 0 + 0) / 3); Cr = (1 + 1/2 + 1) / 3 = 5/6.
    assert (m.mo_map, m.cr_map) == pytest.approx((2 / 3, 5 / 6))
    assert m.language_n_queries.tolist() == [2, 1, 0] and np.isnan(m.language_mul_map[2])
    assert m.rank_distance == pytest.approx(2.25)  # the empty language does not pull the mean down
    assert m.to_dict()["per_query_language"]["fr"]["mul_map"] is None


def test_trec_run_file_round_trips(tmp_path):
    search, m = hand_metrics()
    path = tmp_path / "run.txt"
    write_trec_run(path, search, ["a", "b", "c"], [f"d{i}" for i in range(6)], tag="t")
    lines = path.read_text().splitlines()
    assert lines[0] == "a Q0 d0 1 0.9375 t"  # 15/16
    assert lines[12] == "c Q0 d1 1 0.5625 t" and lines[13] == "c Q0 d2 2 0.5625 t"  # ties in index order
    read = list(ir_measures.read_trec_run(str(path)))
    assert len(read) == 18 and read[2].doc_id == "d3"
    ids = ir_measures_from_run(search, ["a", "b", "c"], [f"d{i}" for i in range(6)])
    assert ids == ir_measures_from_run(search)
    assert ids["RR"] == pytest.approx(m.mul_mrr)
