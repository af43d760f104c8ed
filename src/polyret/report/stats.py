"""Uncertainty for study results: cluster bootstrap confidence intervals and paired randomisation tests.

XQuAD-R asks each question in 11 languages; those 11 queries share one information need, so they are resampled
together (a cluster per question id), never as independent draws. Statistics are means over queries, which equal
the headline macro means when every language has the same queries (XQuAD-R and its `--articles` subsets).
"""

from __future__ import annotations

from dataclasses import dataclass

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
