"""Uncertainty for study results: cluster bootstrap confidence intervals and paired randomisation tests.

XQuAD-R asks each question in 11 languages; those 11 queries share one information need, so they are resampled
together (a cluster per question id), never as independent draws. Statistics are means over queries, which equal
the headline macro means when every language has the same queries (XQuAD-R and its `--articles` subsets).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


def clusters_from_ids(query_ids: list[str]) -> np.ndarray:
    """Cluster index per query: XQuAD-R ids are `<lang>/<question id>`, other ids are their own cluster."""
    keys = [qid.split("/", 1)[1] if "/" in qid else qid for qid in query_ids]
    _, index = np.unique(np.array(keys, dtype=object).astype(str), return_inverse=True)
    return index


def _cluster_sums(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = np.isfinite(values)
    n = int(clusters.max()) + 1 if len(clusters) else 0
    return (np.bincount(clusters[ok], weights=values[ok], minlength=n),
            np.bincount(clusters[ok], minlength=n).astype(np.float64))


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float
    high: float


def bootstrap_ci(values: np.ndarray, clusters: np.ndarray, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> Interval:
    """Percentile interval of the query mean, resampling whole clusters with replacement (NaN values skipped)."""
    sums, counts = _cluster_sums(np.asarray(values, dtype=np.float64), clusters)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    stats = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    tail = (1.0 - level) / 2.0
    return Interval(float(sums.sum() / counts.sum()), float(np.quantile(stats, tail)),
                    float(np.quantile(stats, 1.0 - tail)))


def bootstrap_macro_ci(pair_ap: np.ndarray, query_lang: np.ndarray, clusters: np.ndarray, cells: np.ndarray,
                       n_boot: int = 2000, seed: int = 0, level: float = 0.95) -> Interval:
    """Interval of a macro mean over (query language, candidate language) cells, resampling question clusters.

    `pair_ap` [n_queries, n_langs] holds each query's AP per candidate language (NaN: no relevant item there);
    `cells` [n_langs, n_langs] bool picks the cells averaged (the diagonal for Mo, the rest for Cr). Each replicate
    recomputes every cell's mean over the resampled queries and averages the cells that have any, so the interval
    is of the very statistic reported (on XQuAD-R, where every cell holds every question, it equals the query-mean
    interval; on MLQA-R it does not). The clusters are drawn as in bootstrap_ci, with the same seed.
    """
    n_langs = pair_ap.shape[1]
    flat = query_lang[:, None] * n_langs + np.arange(n_langs)[None, :]  # cell index of every (query, language)
    ok = np.isfinite(pair_ap)
    n_clusters = int(clusters.max()) + 1 if len(clusters) else 0
    key = np.broadcast_to(clusters[:, None], pair_ap.shape)[ok] * n_langs * n_langs + flat[ok]
    size = n_clusters * n_langs * n_langs
    sums = np.bincount(key, weights=pair_ap[ok], minlength=size).reshape(n_clusters, -1)
    counts = np.bincount(key, minlength=size).reshape(n_clusters, -1).astype(np.float64)
    chosen = np.flatnonzero(np.asarray(cells, dtype=bool).ravel())

    def macro(total: np.ndarray, n: np.ndarray) -> np.ndarray:
        means = np.divide(total[..., chosen], n[..., chosen], out=np.full(total[..., chosen].shape, np.nan),
                          where=n[..., chosen] > 0)
        return np.nanmean(means, axis=-1)

    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_clusters, size=(n_boot, n_clusters))
    weights = _weights(draws, n_clusters)
    stats = macro(weights @ sums, weights @ counts)
    tail = (1.0 - level) / 2.0
    return Interval(float(macro(sums.sum(0), counts.sum(0))), float(np.nanquantile(stats, tail)),
                    float(np.nanquantile(stats, 1.0 - tail)))


def paired_test(a: np.ndarray, b: np.ndarray, clusters: np.ndarray, n_perm: int = 10000,
                seed: int = 0) -> tuple[float, float]:
    """Mean difference a - b over queries, and its two-sided p-value by randomly swapping a and b per cluster."""
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    sums, counts = _cluster_sums(diff, clusters)
    observed = sums.sum() / counts.sum()
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(n_perm, len(sums)))
    null = (signs * sums).sum(axis=1) / counts.sum()
    p = (1 + np.count_nonzero(np.abs(null) >= abs(observed) - 1e-15)) / (n_perm + 1)
    return float(observed), float(p)


# ---------------------------------------------------------------------------------------------------------------
# Training randomness: seeds and questions together (a two-level bootstrap)
#
# With several training seeds a cell's number is a mean over seeds of query means. Resampling questions alone
# treats the seeds as fixed, so a difference that one seed shows and another does not still looks certain. Each
# replicate here draws the seeds with replacement (independently for the two sides of a comparison: seed i of one
# strategy has nothing in common with seed i of another) and, shared by every seed and both sides, the question
# clusters with replacement (the same questions are asked of every model). With few seeds the seed level is crude
# (two seeds give three distinct seed draws), which is the honest state of knowledge, not a flaw to hide.


def _weights(draws: np.ndarray, n: int) -> np.ndarray:
    """(replicates, n) matrix: how often each of n items was drawn in each replicate."""
    rows = np.repeat(np.arange(draws.shape[0]), draws.shape[1])
    out = np.zeros((draws.shape[0], n))
    np.add.at(out, (rows, draws.ravel()), 1.0)
    return out


def _by_seed(values: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if values.shape[1] != len(clusters):
        raise ValueError(f"{values.shape[1]} values per seed but {len(clusters)} cluster labels")
    pairs = [_cluster_sums(row, clusters) for row in values]
    return np.stack([s for s, _ in pairs]), np.stack([c for _, c in pairs])


def _seed_mean(sums: np.ndarray, counts: np.ndarray) -> float:
    return float(np.mean(sums.sum(axis=1) / counts.sum(axis=1)))


def two_level_replicates(sides: list[np.ndarray], clusters: np.ndarray, n_boot: int = 2000,
                         seed: int = 0) -> list[np.ndarray]:
    """Bootstrap replicates of the seed-mean of query means, one array per side, with shared question draws.

    `sides[k]` is a (seeds, queries) array (a 1-d array is one seed); every side uses the same queries and
    `clusters`. Replicate r of side k: draw its seeds with replacement, draw the question clusters with
    replacement (the same draw for every side), and average the seeds' resampled query means.
    """
    rng = np.random.default_rng(seed)
    split = [_by_seed(side, clusters) for side in sides]
    n_clusters = split[0][0].shape[1]
    cluster_w = _weights(rng.integers(0, n_clusters, size=(n_boot, n_clusters)), n_clusters)
    out = []
    for sums, counts in split:
        n_seeds = sums.shape[0]
        seed_w = _weights(rng.integers(0, n_seeds, size=(n_boot, n_seeds)), n_seeds)
        per_seed = (cluster_w @ sums.T) / (cluster_w @ counts.T)  # (replicates, seeds)
        out.append((seed_w * per_seed).sum(axis=1) / n_seeds)
    return out


def two_level_ci(values_by_seed: np.ndarray, clusters: np.ndarray, n_boot: int = 2000, seed: int = 0,
                 level: float = 0.95) -> Interval:
    """Percentile interval of the seed-mean of query means, resampling seeds and question clusters."""
    (stats,) = two_level_replicates([values_by_seed], clusters, n_boot, seed)
    tail = (1.0 - level) / 2.0
    return Interval(_seed_mean(*_by_seed(values_by_seed, clusters)), float(np.quantile(stats, tail)),
                    float(np.quantile(stats, 1.0 - tail)))


@dataclass(frozen=True)
class SeedComparison:
    """a - b in seed-mean of query means, its two-level percentile interval and bootstrap p-value."""

    difference: float
    low: float
    high: float
    p_value: float


def two_level_difference(a_by_seed: np.ndarray, b_by_seed: np.ndarray, clusters: np.ndarray, n_boot: int = 2000,
                         seed: int = 0, level: float = 0.95) -> SeedComparison:
    """Compare two strategies over their seeds and the same questions (either side may have one seed).

    The p-value is the two-sided bootstrap one, (1 + replicates on the far side of 0) / (1 + replicates), doubled
    and capped at 1, so p < 1 - level exactly when the percentile interval excludes 0 (up to the +1).
    """
    ra, rb = two_level_replicates([a_by_seed, b_by_seed], clusters, n_boot, seed)
    diff = ra - rb
    observed = _seed_mean(*_by_seed(a_by_seed, clusters)) - _seed_mean(*_by_seed(b_by_seed, clusters))
    tail = (1.0 - level) / 2.0
    side = min(np.count_nonzero(diff <= 0), np.count_nonzero(diff >= 0))
    p = min(1.0, 2.0 * (1 + side) / (n_boot + 1))
    return SeedComparison(float(observed), float(np.quantile(diff, tail)), float(np.quantile(diff, 1.0 - tail)),
                          float(p))


def per_query_array(per_query: dict[str, Any], key: str) -> np.ndarray:
    """One per-query measure of a result's `per_query` section as float64, None (undefined) as NaN."""
    return np.array([np.nan if v is None else v for v in per_query[key]], dtype=np.float64)


def compare(a: np.ndarray, b: np.ndarray, clusters: np.ndarray) -> dict[str, Any]:
    """a - b over the same queries: mean difference, its 95% bootstrap interval, paired randomisation p."""
    difference, p = paired_test(a, b, clusters)
    ci = bootstrap_ci(a - b, clusters)
    return {"difference": difference, "ci": [ci.low, ci.high], "p_value": p}


def paired_difference(a: dict[str, Any], b: dict[str, Any], key: str) -> dict[str, Any]:
    """`compare` of one per-query measure of two results' `per_query` sections (a - b), clustered by query id.

    The pairing is only meaningful over the same queries in the same order, so anything else is refused rather
    than silently paired by position."""
    if a["query_ids"] != b["query_ids"]:
        raise ValueError(f"the two results do not hold the same queries in the same order; no paired test of {key}")
    return compare(per_query_array(a, key), per_query_array(b, key), clusters_from_ids(a["query_ids"]))
