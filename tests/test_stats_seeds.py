"""Training randomness inside the verdict: the two-level (seeds x questions) bootstrap and what the answer says."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from polyret.report.stats import (
    bootstrap_ci,
    paired_test,
    two_level_ci,
    two_level_difference,
    two_level_replicates,
)
from polyret.study.report import _across_seeds_section, answer
from polyret.study.summary import across_seeds, paired


def _exact_distribution(values: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Every equally likely outcome of (seed draw, cluster draw), written out by loops: the definition itself."""
    n_seeds, n_clusters = values.shape[0], int(clusters.max()) + 1
    outcomes = []
    for seed_draw in itertools.product(range(n_seeds), repeat=n_seeds):
        for cluster_draw in itertools.product(range(n_clusters), repeat=n_clusters):
            means = []
            for s in seed_draw:
                total, count = 0.0, 0
                for c in cluster_draw:
                    for q in np.flatnonzero(clusters == c):
                        total += values[s, q]
                        count += 1
                means.append(total / count)
            outcomes.append(sum(means) / n_seeds)
    return np.array(outcomes)


def test_two_level_replicates_match_a_brute_force_enumeration() -> None:
    # 2 seeds, 3 question clusters of unequal size (ratio of sums, not mean of cluster means)
    values = np.array([[0.9, 0.7, 0.2, 0.5, 0.4], [0.6, 0.8, 0.1, 0.3, 0.0]])
    clusters = np.array([0, 0, 1, 2, 2])
    exact = _exact_distribution(values, clusters)  # 4 x 27 = 108 outcomes
    (boot,) = two_level_replicates([values], clusters, n_boot=200_000, seed=5)
    assert boot.mean() == pytest.approx(exact.mean(), abs=4 * exact.std() / np.sqrt(len(boot)))
    assert boot.var() == pytest.approx(exact.var(), rel=0.02)
    atoms = np.unique(np.round(exact, 12))
    for q in (0.025, 0.25, 0.5, 0.75, 0.975):  # the whole distribution, not two moments
        i = min(np.searchsorted(atoms, np.quantile(exact, q)), len(atoms) - 2)
        point = (atoms[i] + atoms[i + 1]) / 2  # between two atoms: rounding cannot move an outcome across it
        assert np.mean(boot <= point) == pytest.approx(np.mean(exact <= point), abs=0.005)


def test_seed_level_variance_has_its_closed_form() -> None:
    # no question variance inside a seed: the replicate is the mean of S seed means drawn with replacement,
    # whose variance is the population variance of the seed means over S
    seed_means = np.array([0.50, 0.62, 0.41])
    values = np.repeat(seed_means[:, None], 40, axis=1)
    (boot,) = two_level_replicates([values], np.arange(40), n_boot=100_000, seed=1)
    assert boot.var() == pytest.approx(seed_means.var() / 3, rel=0.02)
    # one seed: the two-level interval is the cluster bootstrap's (same distribution, closed-form width)
    rng = np.random.default_rng(0)
    one = rng.normal(0.5, 0.2, 3000)
    ci = two_level_ci(one[None, :], np.arange(3000))
    assert (ci.high - ci.low) / 2 == pytest.approx(1.96 * 0.2 / np.sqrt(3000), rel=0.1)
    assert ci.mean == pytest.approx(one.mean())


def test_question_draws_are_shared_by_both_sides_of_a_comparison() -> None:
    rng = np.random.default_rng(2)
    base = rng.uniform(0, 1, 300)  # large question variance, identical shift
    c = two_level_difference(base + 0.01, base, np.arange(300) // 3)
    assert c.difference == pytest.approx(0.01) and c.low == pytest.approx(0.01) and c.high == pytest.approx(0.01)
    assert c.p_value < 0.001
    # NaNs (a measure a query does not have) are skipped, as in the one-level bootstrap
    with_nan = base.copy()
    with_nan[::7] = np.nan
    assert two_level_ci(with_nan[None, :], np.arange(300)).mean == pytest.approx(np.nanmean(with_nan))


def _seeded_world() -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], list[str]]:
    """Hand-made: 400 questions in 2 languages; strategy A beats B clearly in seed 0 and loses clearly in seed 1."""
    rng = np.random.default_rng(7)
    n_q = 400
    ids = [f"{lang}/q{i}" for lang in ("en", "de") for i in range(n_q)]
    question = np.tile(rng.uniform(0.3, 0.8, n_q), 2)  # how hard each question is, shared by every model
    b = {s: np.clip(question + rng.normal(0, 0.01, 2 * n_q), 0, 1) for s in (0, 1)}
    shift = {0: +0.030, 1: -0.012}  # training randomness: same strategy, opposite verdicts
    a = {s: np.clip(question + shift[s] + rng.normal(0, 0.01, 2 * n_q), 0, 1) for s in (0, 1)}
    return a, b, ids


def test_seed_variance_changes_the_verdict() -> None:
    a, b, ids = _seeded_world()
    clusters = np.array([int(i.split("/q")[1]) for i in ids])
    for seed, sign in ((0, 1), (1, -1)):  # each seed alone: an interval far from 0, p < 0.001
        ci = bootstrap_ci(a[seed] - b[seed], clusters)
        assert (ci.low > 0 if sign > 0 else ci.high < 0)
        assert paired_test(a[seed], b[seed], clusters)[1] < 0.001
    pooled = two_level_difference(np.stack([a[0], a[1]]), np.stack([b[0], b[1]]), clusters)
    assert pooled.low < 0 < pooled.high and pooled.p_value > 0.05
    assert pooled.difference == pytest.approx(np.mean([a[0] - b[0], a[1] - b[1]]))


def _per_query(values: np.ndarray, ids: list[str]) -> dict:
    return {"query_ids": ids, "mul_ap": values.tolist(), "mo_ap": values.tolist(), "cr_ap": values.tolist(),
            "rank_distance": (100 * (1 - values)).tolist()}


def _summary(a: dict[int, np.ndarray], b: dict[int, np.ndarray], ids: list[str]) -> dict:
    """A study summary as collect() builds it, for hybrid+noise (A) against x_x_mono (B), two seeds each."""
    bench = {"n_queries": len(ids), "languages": ["de", "en"]}
    rows, pq = [], {}
    for strategy, values in (("x_x_mono", b), ("hybrid+noise", a)):
        for seed in (0, 1):
            slug = f"m__{strategy}__s{seed}"
            pq[slug] = _per_query(values[seed], ids)
            m = float(np.mean(values[seed]))
            rows.append({"cell": slug, "model": "m", "strategy": strategy, "seed": seed, "status": "done",
                         "base": strategy, "transform": None, "benchmark": bench,
                         "metrics": {"mul_map": m, "mo_map": m, "cr_map": m, "rank_distance": 100 * (1 - m),
                                     "r_at_1": m, "r_at_10": m},
                         "intervals": {}, "versus": {}})
    for row in rows:
        if row["strategy"] == "hybrid+noise":
            row["versus"]["x_x_mono"] = paired(pq[row["cell"]], pq[f"m__x_x_mono__s{row['seed']}"])
    profile = {"name": "standard", "articles": None, "train": {"steps": 300, "batch_size": 16}}
    return {"profile": profile, "models": ["m"], "cells": rows, "across_seeds": across_seeds(rows, pq)}


def test_the_answer_says_reliably_only_when_the_comparison_holds_across_seeds() -> None:
    a, b, ids = _seeded_world()
    summary = _summary(a, b, ids)
    per_seed = [r["versus"]["x_x_mono"]["mul_map"] for r in summary["cells"] if r["strategy"] == "hybrid+noise"]
    assert all(c["p_value"] < 0.001 for c in per_seed)  # each seed alone would have said "reliably"
    pooled = {e["strategy"]: e for e in summary["across_seeds"]}["hybrid+noise"]["versus"]["x_x_mono"]["mul_map"]
    assert not pooled["holds_across_seeds"] and pooled["ci"][0] < 0 < pooled["ci"][1]
    text = " ".join(answer(summary))
    assert "reliably" not in text
    assert f"not established across seeds: per seed {per_seed[0]['difference']:+.3f}, -0.012" in text
    assert "standard profile" in text and "2 training seeds (0, 1)" in text
    assert "does not hold" in "\n".join(_across_seeds_section(summary))

    # the same world where seed 1 agrees with seed 0: now the answer may say it, and says "in every seed"
    a[1] = np.clip(a[1] + 0.042, 0, 1)
    held = _summary(a, b, ids)
    pooled = {e["strategy"]: e for e in held["across_seeds"]}["hybrid+noise"]["versus"]["x_x_mono"]["mul_map"]
    assert pooled["holds_across_seeds"] and pooled["ci"][0] > 0
    assert "reliably better, in every seed" in " ".join(answer(held))


def test_one_seed_summaries_have_no_pooled_part() -> None:
    a, b, ids = _seeded_world()
    rows = [{"cell": f"m__{s}__s0", "model": "m", "strategy": s, "seed": 0, "status": "done", "versus": {}}
            for s in ("x_x_mono", "hybrid")]
    pq = {"m__x_x_mono__s0": _per_query(b[0], ids), "m__hybrid__s0": _per_query(a[0], ids)}
    assert across_seeds(rows, pq) == []  # so collect() adds no "across_seeds" key and the report is unchanged


def test_designs_are_never_pooled_as_seeds() -> None:
    """One seed in each of two designs is one seed per (design, strategy), not two seeds of one strategy."""
    a, b, ids = _seeded_world()
    rows, pq = [], {}
    for design in ("practical", "controlled"):
        for strategy, values in (("x_x_mono", b), ("hybrid", a)):
            slug = f"m__{design}__{strategy}__s0"
            pq[slug] = _per_query(values[0], ids)
            rows.append({"cell": slug, "model": "m", "strategy": strategy, "seed": 0, "status": "done",
                         "design": design, "versus": {}})
    assert across_seeds(rows, pq) == []

    # two seeds in each design: one pooled entry per design, each compared with its own design's baseline
    a, b, ids = _seeded_world()
    summary = _summary(a, b, ids)
    both = []
    for design in ("practical", "controlled"):
        for row in summary["cells"]:
            both.append({**row, "design": design, "cell": f"{design}/{row['cell']}"})
    pq = {r["cell"]: _per_query((a if r["strategy"] == "hybrid+noise" else b)[r["seed"]], ids) for r in both}
    pooled = across_seeds(both, pq)
    assert sorted((e["design"], e["strategy"], tuple(e["seeds"])) for e in pooled) == [
        ("controlled", "hybrid+noise", (0, 1)), ("controlled", "x_x_mono", (0, 1)),
        ("practical", "hybrid+noise", (0, 1)), ("practical", "x_x_mono", (0, 1))]
    for entry in pooled:
        if entry["strategy"] == "hybrid+noise":
            assert all(cell.startswith(entry["design"] + "/") for cell in entry["cells"])
            assert "x_x_mono" in entry["versus"]
    text = " ".join(answer({**summary, "cells": both, "across_seeds": pooled}))
    assert text.index("Design: **controlled**") < text.index("Design: **practical**")
