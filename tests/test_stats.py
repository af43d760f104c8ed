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
