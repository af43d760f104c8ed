"""Bootstrap intervals and paired tests, and the per-query arrays they rest on."""

from __future__ import annotations

import numpy as np
import pytest

from polyret.evaluate.metrics import compute_metrics
from polyret.evaluate.search import exact_search
from polyret.report.stats import bootstrap_ci, clusters_from_ids, paired_test


def test_per_query_mo_cr_average_to_the_headline_on_balanced_data() -> None:
    rng = np.random.default_rng(3)
    n_langs, n_questions, dim = 3, 20, 8
    meaning = rng.normal(size=(n_questions, dim))
    cands = np.concatenate([meaning + rng.normal(scale=0.8, size=meaning.shape) for _ in range(n_langs)])
    queries = np.concatenate([meaning + rng.normal(scale=0.8, size=meaning.shape) for _ in range(n_langs)])
    cands /= np.linalg.norm(cands, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    lang = np.repeat(np.arange(n_langs), n_questions)
    relevant = [np.array([l * n_questions + (i % n_questions) for l in range(n_langs)]) for i in range(len(queries))]
    m = compute_metrics(exact_search(queries, cands, relevant, lang), lang, lang, ["a", "b", "c"])
    assert np.mean(m.query_mo_ap) == pytest.approx(m.mo_map, abs=1e-12)
    assert np.mean(m.query_cr_ap) == pytest.approx(m.cr_map, abs=1e-12)
    assert np.mean(m.query_mul_ap) == pytest.approx(m.mul_map, abs=1e-12)


def test_clusters_group_the_languages_of_one_question() -> None:
    clusters = clusters_from_ids(["en/q1", "de/q1", "en/q2", "x"])
    assert clusters[0] == clusters[1] != clusters[2] and len(set(clusters.tolist())) == 3


def test_bootstrap_interval_covers_the_mean_and_shrinks_with_data() -> None:
    rng = np.random.default_rng(0)
    small, large = rng.normal(0.5, 0.2, 50), rng.normal(0.5, 0.2, 5000)
    a = bootstrap_ci(small, np.arange(50))
    b = bootstrap_ci(large, np.arange(5000))
    assert a.low < a.mean < a.high and b.low < b.mean < b.high
    assert (b.high - b.low) < (a.high - a.low) / 5  # about sqrt(100) = 10 times narrower
    # normal theory: 95% half-width = 1.96 * sd / sqrt(n)
    assert (b.high - b.low) / 2 == pytest.approx(1.96 * 0.2 / np.sqrt(5000), rel=0.15)
    assert bootstrap_ci(small, np.arange(50)) == a  # seeded


def test_paired_test_detects_a_shift_and_not_noise() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, 400)
    clusters = np.arange(400) // 4
    diff, p = paired_test(base + 0.05 + rng.normal(0, 0.02, 400), base, clusters)
    assert diff == pytest.approx(0.05, abs=0.01) and p < 0.001
    _, p_null = paired_test(base + rng.normal(0, 0.02, 400), base, clusters)
    assert p_null > 0.01


def test_macro_interval_is_of_the_macro_statistic() -> None:
    """Mo/Cr are macro means over language-pair cells. On a balanced design (every question in every language) the
    cell bootstrap equals the query bootstrap; on an unbalanced one (MLQA-R) only the cell bootstrap is centred on
    the reported value."""
    from polyret.report.stats import bootstrap_ci, bootstrap_macro_ci

    rng = np.random.default_rng(1)
    n_q, langs = 40, 3
    query_lang = np.tile(np.arange(langs), n_q)  # question q asked in every language
    clusters = np.repeat(np.arange(n_q), langs)
    pair_ap = rng.random((n_q * langs, langs))
    off = ~np.eye(langs, dtype=bool)
    per_query_cr = np.array([pair_ap[i, off[query_lang[i]]].mean() for i in range(len(query_lang))])
    balanced = bootstrap_macro_ci(pair_ap, query_lang, clusters, off)
    plain = bootstrap_ci(per_query_cr, clusters)
    assert balanced.mean == pytest.approx(plain.mean) and balanced.low == pytest.approx(plain.low)
    assert balanced.high == pytest.approx(plain.high)

    # unbalanced: 30 questions in languages 0 and 1 with low cross AP, 3 questions in 1 and 2 with high cross AP
    rows, lang_of, cl = [], [], []
    for q in range(30):
        for lang in (0, 1):
            rows.append([np.nan, 0.1, np.nan] if lang == 0 else [0.1, np.nan, np.nan]); lang_of.append(lang); cl.append(q)
    for q in range(30, 33):
        for lang in (1, 2):
            rows.append([np.nan, np.nan, 0.9] if lang == 1 else [np.nan, 0.9, np.nan]); lang_of.append(lang); cl.append(q)
    pair_ap, query_lang, clusters = np.array(rows), np.array(lang_of), np.array(cl)
    # cells 0->1 and 1->0 hold 0.1, cells 1->2 and 2->1 hold 0.9: the macro mean is 0.5
    macro = bootstrap_macro_ci(pair_ap, query_lang, clusters, off)
    assert macro.mean == pytest.approx(0.5) and macro.low <= 0.5 <= macro.high
    query_mean = bootstrap_ci(np.nanmean(pair_ap, axis=1), clusters)
    assert not query_mean.low <= 0.5 <= query_mean.high  # the query-weighted interval misses the reported value


def test_paired_difference_of_two_results_pairs_by_query_and_clusters_by_question() -> None:
    """What the development-score scripts compare: two results.json `per_query` sections on one measure."""
    from polyret.report.stats import compare, paired_difference

    rng = np.random.default_rng(2)
    questions = [f"q{i}" for i in range(60)]
    ids = [f"{lang}/{q}" for q in questions for lang in ("ar", "de", "en")]
    shared = np.repeat(rng.normal(0, 0.1, 60), 3)  # the three languages of a question move together
    b = rng.uniform(0.3, 0.7, len(ids))
    a = b + 0.02 + shared
    a_pq = {"query_ids": ids, "mo_ap": a.tolist()}
    b_pq = {"query_ids": ids, "mo_ap": b.tolist()}
    result = paired_difference(a_pq, b_pq, "mo_ap")
    assert result["difference"] == pytest.approx(float(np.mean(a - b)), abs=1e-12)
    assert result == compare(a, b, clusters_from_ids(ids))
    per_query_clusters = compare(a, b, np.arange(len(ids)))
    # clustering by question widens the interval: 60 independent needs, not 180
    assert result["ci"][1] - result["ci"][0] > 1.3 * (per_query_clusters["ci"][1] - per_query_clusters["ci"][0])
    with pytest.raises(ValueError, match="same queries in the same order"):
        paired_difference(a_pq, {"query_ids": ids[::-1], "mo_ap": b.tolist()[::-1]}, "mo_ap")
