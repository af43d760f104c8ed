"""Time and memory of exact_search on a large random pool, checked against a naive full sort.

    python benchmarks/search_memory.py [--pool 1000000 --queries 10000]

Random unit vectors (seeded, generated in chunks so generation stays bounded; the float32 pool itself,
1.5 GB at full size, is unavoidable), one relevant candidate per query at a random index, candidates spread
over --langs languages. Prints wall time and peak RSS of the search, then recomputes a subsample of queries
the naive way (all scores at once, a full stable sort by score) and checks that the per-language counts and
the top-k lists agree exactly. It also reports how many of those ranks float32 scoring would have changed,
the reason the search scores in float64.
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from polyret.evaluate.search import SCORE_SCALE, SearchResult, exact_search


def unit_vectors(rng: np.random.Generator, n: int, dim: int, chunk: int = 65536) -> np.ndarray:
    out = np.empty((n, dim), dtype=np.float32)
    for start in range(0, n, chunk):
        block = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
        out[start : start + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def naive_check(
    queries: np.ndarray, pool: np.ndarray, target: np.ndarray, cand_lang: np.ndarray, result: SearchResult,
    sample: np.ndarray, n_langs: int, batch: int = 8,
) -> tuple[int, int, int]:  # fmt: skip
    """(count mismatches, top-k mismatches, ranks float32 would change) over the sampled queries."""
    k = result.topk_indices.shape[1]
    bad_counts = bad_topk = float32_changed = 0
    for b0 in range(0, len(sample), batch):
        rows = sample[b0 : b0 + batch]
        exact = np.empty((len(rows), len(pool)))
        single = np.empty((len(rows), len(pool)), dtype=np.float32)
        for c0 in range(0, len(pool), 16384):
            part = pool[c0 : c0 + 16384]
            exact[:, c0 : c0 + len(part)] = queries[rows].astype(np.float64) @ part.astype(np.float64).T
            single[:, c0 : c0 + len(part)] = queries[rows] @ part.T
        exact = np.rint(exact * SCORE_SCALE)
        for i, q in enumerate(rows):
            order = np.argsort(-exact[i], kind="stable")  # score descending, ties by index ascending
            position = int(np.flatnonzero(order == target[q])[0])
            counts = np.bincount(cand_lang[order[:position]], minlength=n_langs)
            bad_counts += not np.array_equal(counts, result.above[q])
            bad_topk += not np.array_equal(order[:k], result.topk_indices[q])
            float32_changed += int((single[i] > single[i, target[q]]).sum()) != position
    return bad_counts, bad_topk, float32_changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pool", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--langs", type=int, default=11)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--check", type=int, default=200, help="queries recomputed naively")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    pool = unit_vectors(rng, args.pool, args.dim)
    queries = unit_vectors(rng, args.queries, args.dim)
    cand_lang = rng.integers(0, args.langs, args.pool)
    target = rng.integers(0, args.pool, args.queries)
    print(f"pool {args.pool:,} x {args.dim} ({pool.nbytes / 2**20:,.0f} MiB), {args.queries:,} queries, "
          f"{args.langs} languages, generated in {time.perf_counter() - t0:.1f} s")  # fmt: skip
    print(f"peak RSS after generation: {peak_rss_mib():,.0f} MiB")

    t0, cpu0 = time.perf_counter(), time.process_time()
    result = exact_search(queries, pool, [np.array([t]) for t in target], cand_lang, args.langs, k=args.k)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    scores = args.pool * args.queries
    print(f"search: {wall:.1f} s wall, {cpu:.1f} s CPU on {torch.get_num_threads()} threads "
          f"({scores / wall / 1e6:,.0f} M scores/s)")  # fmt: skip
    print(f"peak RSS after search: {peak_rss_mib():,.0f} MiB")

    sample = np.sort(rng.choice(args.queries, size=min(args.check, args.queries), replace=False))
    t0 = time.perf_counter()
    bad_counts, bad_topk, float32_changed = naive_check(
        queries, pool, target, cand_lang, result, sample, args.langs
    )
    print(f"naive full sort of {len(sample)} queries ({time.perf_counter() - t0:.1f} s): "
          f"{bad_counts} count mismatches, {bad_topk} top-{args.k} mismatches; "
          f"float32 scores would move {float32_changed} of these ranks")  # fmt: skip
    if bad_counts or bad_topk:
        raise SystemExit("MISMATCH against the naive reference")


if __name__ == "__main__":
    main()
