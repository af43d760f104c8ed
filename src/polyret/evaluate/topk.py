"""Top-k search through faiss, for runs that need the top k only (`--search faiss-flat` or `faiss-hnsw`).

The LAReQA measures (Mul AP with no cut-off, Mo/Cr per language pair, rank distance) need exact ranks of every
relevant candidate: polyret.evaluate.search. When a pool is too large for that, or only top-k measures are
wanted, faiss gives each query's top k: `flat` is IndexFlatIP (exact inner products in float32, so near-ties
within float32 rounding may order differently from the exact float64 path), `hnsw` an approximate graph index
(IndexHNSWFlat, inner product). The result names the index and its parameters; the measures it supports are
the top-k ones: nDCG@10, R@1, R@10, RR@k and AP@k of the Mul ranking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from polyret.errors import PolyretError

INDEXES = ("flat", "hnsw")


@dataclass(frozen=True)
class TopK:
    indices: np.ndarray
    """[n_queries, k] int64, best first (-1 where the index returned fewer than k)."""
    scores: np.ndarray
    """[n_queries, k] float32 inner products."""
    index: dict[str, Any]
    """Which faiss index and parameters produced it (recorded in results.json)."""


def faiss_topk(queries: np.ndarray, candidates: np.ndarray, k: int, index: str = "flat", *, hnsw_m: int = 32,
               ef_construction: int = 80, ef_search: int = 128, query_batch: int = 16384) -> TopK:
    """Each query's k best candidates by inner product (unit vectors: cosine); candidates are added in chunks."""
    import faiss

    if index not in INDEXES:
        raise PolyretError(f"faiss index {index!r}: use one of {', '.join(INDEXES)}")
    if queries.ndim != 2 or candidates.ndim != 2 or queries.shape[1] != candidates.shape[1]:
        raise PolyretError(f"queries {queries.shape} and candidates {candidates.shape} must be 2-D, same dimension")
    dim, k = candidates.shape[1], min(k, len(candidates))
    if index == "flat":
        built = faiss.IndexFlatIP(dim)
        described: dict[str, Any] = {"faiss": "IndexFlatIP", "exact": True}
    else:
        built = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        built.hnsw.efConstruction = ef_construction
        built.hnsw.efSearch = ef_search
        described = {"faiss": "IndexHNSWFlat", "exact": False, "M": hnsw_m, "efConstruction": ef_construction,
                     "efSearch": ef_search}
    for c0 in range(0, len(candidates), 65536):  # a memmapped pool is read chunk by chunk
        built.add(np.ascontiguousarray(candidates[c0:c0 + 65536], dtype=np.float32))
    indices = np.empty((len(queries), k), dtype=np.int64)
    scores = np.empty((len(queries), k), dtype=np.float32)
    for q0 in range(0, len(queries), query_batch):
        part = np.ascontiguousarray(queries[q0:q0 + query_batch], dtype=np.float32)
        scores[q0:q0 + len(part)], indices[q0:q0 + len(part)] = built.search(part, k)
    described.update(k=k, faiss_version=faiss.__version__)
    return TopK(indices=indices, scores=scores, index=described)


def topk_measures(top: TopK, relevant: Sequence[np.ndarray]) -> dict[str, float]:
    """Mul nDCG@10, R@1, R@10, RR@k and AP@k from the top-k lists (trec_eval's definitions; a relevant item
    outside the top k counts as not retrieved, but in AP's denominator)."""
    k = top.indices.shape[1]
    ndcg, r1, r10, rr, ap = [], [], [], [], []
    discount = 1.0 / np.log2(np.arange(2.0, k + 2.0))
    for row, rel in zip(top.indices, relevant):
        rel = np.asarray(rel)
        if not len(rel):
            raise PolyretError("a query has no relevant candidate")
        hit = np.isin(row, rel)
        ranks = np.flatnonzero(hit) + 1
        ideal = discount[: min(len(rel), 10)].sum()
        ndcg.append(discount[ranks[ranks <= 10] - 1].sum() / ideal)
        r1.append((ranks <= 1).sum() / len(rel))
        r10.append((ranks <= 10).sum() / len(rel))
        rr.append(1.0 / ranks[0] if len(ranks) else 0.0)
        ap.append(float((np.arange(1, len(ranks) + 1) / ranks).sum() / len(rel)))
    return {"mul_ndcg_at_10": float(np.mean(ndcg)), "mul_r_at_1": float(np.mean(r1)),
            "mul_r_at_10": float(np.mean(r10)), f"mul_mrr_at_{k}": float(np.mean(rr)),
            f"mul_map_at_{k}": float(np.mean(ap))}
