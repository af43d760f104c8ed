"""LAReQA retrieval measures (docs/design.md section 2) from the ranks that exact_search keeps.

Definitions (binary relevance; a rank is 1-based under the ranking rule of polyret.evaluate.search):

- Mul, the whole pool ranked with no cut-off, one query q with relevant items at ranks r_1 < ... < r_n:
  AP = (1/n) sum_i i / r_i (mul_map is its mean over all queries); RR = 1 / r_1 (mul_mrr);
  R@k = |{i: r_i <= k}| / n (so with 11 relevant, R@1 is at most 1/11 and R@10 at most 10/11);
  nDCG@10 = sum_{r_i <= 10} 1/log2(r_i + 1) / sum_{j=1..min(n, 10)} 1/log2(j + 1).
  These are trec_eval's map, recip_rank, recall_k and ndcg_cut_10 (cross_check compares them).
- Language pair (A, B): queries of language A, only language-B candidates ranked. Same AP and R@k, over q's
  relevant items in B (in XQuAD-R exactly one, so AP = 1/rank and R@k = [rank <= k]); a query counts for
  (A, B) only if it has a relevant item in B. pair_* matrices are means over those queries, rows = query
  language, columns = candidate language; NaN where a pair has none, and NaN cells are left out of every mean.
  Mo = macro mean of the diagonal, Cr = macro mean off the diagonal, r_at_1/r_at_10 = macro mean of all cells.
- Rank distance (Huang et al., SIGIR 2023): r_n - r_1 in the Mul ranking, averaged per query language, then
  macro mean over query languages. 0 for a query with one relevant item.
- Same-language share at 10: fraction of a query's Mul top 10 in the query's own language, averaged per
  query language (a direct view of language bias).

Use: check_relevance (before the search, cheap) -> exact_search -> compute_metrics -> cross_check (the
standard implementation agrees) -> RetrievalMetrics.to_dict / write_trec_run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ir_measures
import numpy as np

from polyret.errors import PolyretError
from polyret.evaluate.search import SearchResult


_SCALARS = (
    "mul_map", "mul_mrr", "mul_r_at_1", "mul_r_at_10", "mul_ndcg_at_10", "mo_map", "cr_map",
    "mo_r_at_1", "mo_r_at_10", "cr_r_at_1", "cr_r_at_10", "r_at_1", "r_at_10", "rank_distance",
)  # fmt: skip


@dataclass(frozen=True)
class RetrievalMetrics:
    """Every number of one evaluation, plus the per-query arrays that bootstrap tests need."""

    languages: tuple[str, ...]
    mul_map: float
    mul_mrr: float
    mul_r_at_1: float
    mul_r_at_10: float
    mul_ndcg_at_10: float
    mo_map: float
    cr_map: float
    mo_r_at_1: float
    mo_r_at_10: float
    cr_r_at_1: float
    cr_r_at_10: float
    r_at_1: float
    r_at_10: float
    rank_distance: float
    pair_map: np.ndarray
    """[n_langs, n_langs] query language x candidate language; NaN where the pair has no query."""
    pair_r_at_1: np.ndarray
    pair_r_at_10: np.ndarray
    pair_n_queries: np.ndarray
    """[n_langs, n_langs] int: queries behind each pair cell."""
    language_n_queries: np.ndarray
    """[n_langs] int, by query language; the three arrays below are NaN for a language without queries."""
    language_mul_map: np.ndarray
    language_rank_distance: np.ndarray
    language_same_language_at_10: np.ndarray
    query_mul_ap: np.ndarray
    """[n_queries] Mul average precision of each query."""
    query_rank_distance: np.ndarray
    """[n_queries] Mul rank distance of each query."""
    query_mo_ap: np.ndarray
    """[n_queries] AP among the candidates of the query's own language (NaN if none is relevant there)."""
    query_cr_ap: np.ndarray
    """[n_queries] mean AP over the other candidate languages that hold a relevant item (NaN if none)."""
    query_language: np.ndarray | None = None
    """[n_queries] index of each query's language in `languages`."""
    query_pair_ap: np.ndarray | None = None
    """[n_queries, n_langs] AP among each candidate language's candidates (NaN where none is relevant): what an
    interval of the macro-averaged Mo and Cr must resample (their cells hold different numbers of queries on
    MLQA-R, so the query-level means above are not the same estimand there)."""
    query_ids: tuple[str, ...] | None = None

    def to_dict(self, per_query: bool = False) -> dict[str, Any]:
        """JSON-ready nested dicts and lists (NaN becomes None); per_query adds the per-query arrays."""
        out: dict[str, Any] = {name: _json_float(getattr(self, name)) for name in _SCALARS}
        out["n_queries"] = len(self.query_mul_ap)
        out["per_query_language"] = {
            lang: {
                "n_queries": int(self.language_n_queries[i]),
                "mul_map": _json_float(self.language_mul_map[i]),
                "rank_distance": _json_float(self.language_rank_distance[i]),
                "same_language_at_10": _json_float(self.language_same_language_at_10[i]),
            }
            for i, lang in enumerate(self.languages)
        }
        for name in ("pair_map", "pair_r_at_1", "pair_r_at_10", "pair_n_queries"):
            matrix = getattr(self, name)
            out[name] = {
                "languages": list(self.languages),
                "matrix": [[_json_float(v) if matrix.dtype.kind == "f" else int(v) for v in row] for row in matrix],
            }
        if per_query:
            out["per_query"] = {
                "query_ids": list(self.query_ids) if self.query_ids is not None else None,
                "mul_ap": self.query_mul_ap.tolist(),
                "rank_distance": self.query_rank_distance.tolist(),
                "mo_ap": [_json_float(v) for v in self.query_mo_ap],
                "cr_ap": [_json_float(v) for v in self.query_cr_ap],
            }
            if self.query_pair_ap is not None and self.query_language is not None:
                out["per_query"]["languages"] = list(self.languages)
                out["per_query"]["query_language"] = self.query_language.tolist()
                out["per_query"]["pair_ap"] = [[_json_float(v) for v in row] for row in self.query_pair_ap]
        return out


def compute_metrics(
    search: SearchResult,
    query_lang: np.ndarray,
    cand_lang: np.ndarray,
    languages: Sequence[str],
    query_ids: Sequence[str] | None = None,
) -> RetrievalMetrics:
    """All measures of the module docstring from one exact_search result.

    query_lang: [nq] and cand_lang: [nc] indices into languages (cand_lang as given to exact_search).
    Raises PolyretError if a query has no relevant candidate: it has no defined AP, and scoring it 0 would
    silently blame the model for a data problem.
    """
    n_langs = len(languages)
    query_lang = np.asarray(query_lang, dtype=np.int64)
    cand_lang = np.asarray(cand_lang, dtype=np.int64)
    _check_inputs(search, query_lang, cand_lang, n_langs, query_ids)
    pool = _pool_measures(search)
    pairs = _pair_measures(search, query_lang, n_langs)
    lang_n = np.bincount(query_lang, minlength=n_langs)
    lang_rank_distance = _group_mean(query_lang, pool["rank_distance"], lang_n)
    same_lang = (cand_lang[search.topk_indices[:, :10]] == query_lang[:, None]).mean(axis=1)
    diagonal = np.eye(n_langs, dtype=bool)
    pair_map, pair_r1, pair_r10 = pairs["map"], pairs["r1"], pairs["r10"]
    return RetrievalMetrics(
        languages=tuple(languages),
        mul_map=_mean(pool["ap"]),
        mul_mrr=_mean(pool["rr"]),
        mul_r_at_1=_mean(pool["r1"]),
        mul_r_at_10=_mean(pool["r10"]),
        mul_ndcg_at_10=_mean(pool["ndcg10"]),
        mo_map=_mean(pair_map[diagonal]),
        cr_map=_mean(pair_map[~diagonal]),
        mo_r_at_1=_mean(pair_r1[diagonal]),
        mo_r_at_10=_mean(pair_r10[diagonal]),
        cr_r_at_1=_mean(pair_r1[~diagonal]),
        cr_r_at_10=_mean(pair_r10[~diagonal]),
        r_at_1=_mean(pair_r1),
        r_at_10=_mean(pair_r10),
        rank_distance=_mean(lang_rank_distance),
        pair_map=pair_map,
        pair_r_at_1=pair_r1,
        pair_r_at_10=pair_r10,
        pair_n_queries=pairs["n"],
        language_n_queries=lang_n,
        language_mul_map=_group_mean(query_lang, pool["ap"], lang_n),
        language_rank_distance=lang_rank_distance,
        language_same_language_at_10=_group_mean(query_lang, same_lang, lang_n),
        query_mul_ap=pool["ap"],
        query_rank_distance=pool["rank_distance"],
        query_mo_ap=pairs["query_mo_ap"],
        query_cr_ap=pairs["query_cr_ap"],
        query_language=query_lang,
        query_pair_ap=pairs["query_pair_ap"],
        query_ids=tuple(query_ids) if query_ids is not None else None,
    )


def _check_inputs(search: SearchResult, query_lang: np.ndarray, cand_lang: np.ndarray, n_langs: int,
                  query_ids: Sequence[str] | None) -> None:
    """Refuse a search result and language arrays that do not belong together, and queries with nothing relevant."""
    nq = search.n_queries
    if search.above.shape[1] != n_langs:
        raise PolyretError(f"search counted {search.above.shape[1]} candidate languages, {n_langs} were named")
    if query_lang.shape != (nq,) or (nq and (query_lang.min() < 0 or query_lang.max() >= n_langs)):
        raise PolyretError(f"query_lang must hold {nq} language indices in [0, {n_langs})")
    if query_ids is not None and len(query_ids) != nq:
        raise PolyretError(f"{len(query_ids)} query ids for {nq} queries")
    seen = np.concatenate([search.pair_candidate, search.topk_indices.ravel()])
    if (seen.size and seen.max() >= len(cand_lang)) or not np.array_equal(
        cand_lang[search.pair_candidate], search.pair_language
    ):
        raise PolyretError("cand_lang does not match the one the search was run with")
    _require_relevant(np.bincount(search.pair_query, minlength=nq), query_ids)
    width = search.topk_indices.shape[1]
    if width < min(10, len(cand_lang)):
        raise PolyretError(f"the search kept only the top {width}; the same-language share needs the top 10")


def _pool_measures(search: SearchResult) -> dict[str, np.ndarray]:
    """Per query, against the whole multilingual pool: AP, reciprocal rank, R@1, R@10, nDCG@10, rank distance."""
    nq = search.n_queries
    n_rel = np.bincount(search.pair_query, minlength=nq)
    ranks = search.pool_ranks
    first, last = _first_last(search.pair_query, ranks, nq)
    dcg = np.bincount(search.pair_query, weights=np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0), minlength=nq)
    ideal_dcg = np.cumsum(1.0 / np.log2(np.arange(2.0, 12.0)))[np.minimum(n_rel, 10) - 1]
    return {
        "ap": _average_precision(search.pair_query, ranks, nq),
        "rr": 1.0 / first,
        "r1": np.bincount(search.pair_query, weights=ranks <= 1, minlength=nq) / n_rel,
        "r10": np.bincount(search.pair_query, weights=ranks <= 10, minlength=nq) / n_rel,
        "ndcg10": dcg / ideal_dcg,
        "rank_distance": (last - first).astype(np.float64),
    }


def _pair_measures(search: SearchResult, query_lang: np.ndarray, n_langs: int) -> dict[str, np.ndarray]:
    """Per (query language, candidate language) cell: mAP, R@1 and R@10 with ranks inside the candidate language,
    the number of queries, and per query its own-language AP (Mo's share), cross-language AP (Cr's) and each
    language's AP."""
    nq = search.n_queries
    # One group per (query, candidate language) that has relevant items; ranks inside that language.
    group_key = search.pair_query * n_langs + search.pair_language
    keys, group = np.unique(group_key, return_inverse=True)
    lang_ranks = search.language_ranks
    group_size = np.bincount(group).astype(np.float64)
    cell = query_lang[keys // n_langs] * n_langs + keys % n_langs
    pair_n = np.bincount(cell, minlength=n_langs * n_langs).reshape(n_langs, n_langs)

    def pair_mean(per_group: np.ndarray) -> np.ndarray:
        total = np.bincount(cell, weights=per_group, minlength=n_langs * n_langs).reshape(n_langs, n_langs)
        return np.divide(total, pair_n, out=np.full(total.shape, np.nan), where=pair_n > 0)

    group_ap = _average_precision(group, lang_ranks, len(keys))
    group_query = keys // n_langs
    own = keys % n_langs == query_lang[group_query]
    n_own = np.bincount(group_query[own], minlength=nq)
    n_cross = np.bincount(group_query[~own], minlength=nq)
    query_pair_ap = np.full((nq, n_langs), np.nan)
    query_pair_ap[group_query, keys % n_langs] = group_ap
    return {
        "map": pair_mean(group_ap),
        "r1": pair_mean(np.bincount(group, weights=lang_ranks <= 1) / group_size),
        "r10": pair_mean(np.bincount(group, weights=lang_ranks <= 10) / group_size),
        "n": pair_n,
        "query_mo_ap": np.divide(np.bincount(group_query[own], weights=group_ap[own], minlength=nq), n_own,
                                 out=np.full(nq, np.nan), where=n_own > 0),
        "query_cr_ap": np.divide(np.bincount(group_query[~own], weights=group_ap[~own], minlength=nq), n_cross,
                                 out=np.full(nq, np.nan), where=n_cross > 0),
        "query_pair_ap": query_pair_ap,
    }


def check_relevance(relevant: Sequence[np.ndarray], query_ids: Sequence[str] | None = None) -> None:
    """Fail early (before an expensive search) if any query has no relevant candidate."""
    _require_relevant(np.array([len(np.atleast_1d(r)) for r in relevant], dtype=np.int64), query_ids)


def ir_measures_from_run(
    search: SearchResult, query_ids: Sequence[str] | None = None, doc_ids: Sequence[str] | None = None
) -> dict[str, float]:
    """nDCG@10, R@1, R@10, RR and AP@k of the top-k run, computed by pytrec_eval through ir_measures.

    The run is given scores that encode our order (k, k-1, ...), so trec_eval's own tie-breaking (by
    document id) cannot reorder tied candidates. Only the top k is seen: RR and AP@k count a relevant item
    ranked below k as not retrieved.
    """
    qids = [str(i) for i in range(search.n_queries)] if query_ids is None else list(query_ids)

    def doc(c: int) -> str:
        return str(c) if doc_ids is None else doc_ids[c]

    width = search.topk_indices.shape[1]
    qrels: dict[str, dict[str, int]] = {qid: {} for qid in qids}
    for q, c in zip(search.pair_query.tolist(), search.pair_candidate.tolist()):
        qrels[qids[q]][doc(c)] = 1
    run = {
        qid: {doc(c): float(width - pos) for pos, c in enumerate(row)}
        for qid, row in zip(qids, search.topk_indices.tolist())
    }
    measures = [ir_measures.nDCG @ 10, ir_measures.R @ 1, ir_measures.R @ 10, ir_measures.RR, ir_measures.AP @ width]
    values = ir_measures.pytrec_eval.calc_aggregate(measures, qrels, run)
    return {str(m): float(values[m]) for m in measures}


CROSS_CHECK_QUERIES = 20_000
"""Above this many queries the ir_measures cross-check runs on a seeded sample (its run is a Python dict)."""


def cross_check(search: SearchResult, metrics: RetrievalMetrics, atol: float = 1e-9,
                max_queries: int = CROSS_CHECK_QUERIES, seed: int = 0) -> dict[str, float]:
    """Recompute the Mul measures with ir_measures from the top-k run and fail if they disagree with ours.

    RR and AP@k are compared with our values cut at k (identical to mul_mrr and mul_map when k covers the
    pool). Returns ir_measures' values. Above max_queries queries, ir_measures sees a seeded sample of
    max_queries of them (compared with ours on the same sample), and ours on the sample are computed by the
    same code that must reproduce `metrics` on all queries, so memory stays bounded at a million queries.
    """
    width = search.topk_indices.shape[1]
    whole = _mul_measures(search)
    ours = {"nDCG@10": metrics.mul_ndcg_at_10, "R@1": metrics.mul_r_at_1, "R@10": metrics.mul_r_at_10,
            "RR": whole["RR"], f"AP@{width}": whole[f"AP@{width}"]}
    sample = None
    if search.n_queries > max_queries:
        wrong = {name: (ours[name], whole[name]) for name in ours if abs(ours[name] - whole[name]) > atol}
        if wrong:
            raise PolyretError(f"the sampled cross-check's measures disagree with ours (ours, sampled code): {wrong}")
        sample = np.sort(np.random.default_rng(seed).choice(search.n_queries, size=max_queries, replace=False))
        search = _restrict(search, sample)
        ours = _mul_measures(search)
    theirs = ir_measures_from_run(search)
    wrong = {name: (ours[name], theirs[name]) for name in ours if abs(ours[name] - theirs[name]) > atol}
    if wrong:
        raise PolyretError(f"our measures disagree with ir_measures (ours, theirs): {wrong}")
    return theirs if sample is None else {**theirs, "queries_checked": float(len(sample))}


def _mul_measures(search: SearchResult) -> dict[str, float]:
    """nDCG@10, R@1, R@10, RR@k and AP@k of the Mul ranking (k = the top-k width), means over queries."""
    width, nq = search.topk_indices.shape[1], search.n_queries
    ranks = search.pool_ranks
    n_rel = np.bincount(search.pair_query, minlength=nq)
    first, _ = _first_last(search.pair_query, ranks, nq)
    dcg = np.bincount(search.pair_query, weights=np.where(ranks <= 10, 1.0 / np.log2(ranks + 1.0), 0.0), minlength=nq)
    ideal = np.cumsum(1.0 / np.log2(np.arange(2.0, 12.0)))[np.minimum(n_rel, 10) - 1]
    return {"nDCG@10": _mean(dcg / ideal),
            "R@1": _mean(np.bincount(search.pair_query, weights=ranks <= 1, minlength=nq) / n_rel),
            "R@10": _mean(np.bincount(search.pair_query, weights=ranks <= 10, minlength=nq) / n_rel),
            "RR": _mean(np.where(first <= width, 1.0 / first, 0.0)),
            f"AP@{width}": _mean(_average_precision(search.pair_query, ranks, nq, cutoff=width))}


def _restrict(search: SearchResult, queries: np.ndarray) -> SearchResult:
    """The search result of the given (sorted) query indices only, renumbered from 0."""
    new_index = np.full(search.n_queries, -1, dtype=np.int64)
    new_index[queries] = np.arange(len(queries))
    keep = new_index[search.pair_query] >= 0
    return SearchResult(pair_query=new_index[search.pair_query[keep]], pair_candidate=search.pair_candidate[keep],
                        pair_language=search.pair_language[keep], above=search.above[keep],
                        topk_indices=search.topk_indices[queries], topk_scores=search.topk_scores[queries])


def write_trec_run(
    path: str | Path, search: SearchResult, query_ids: Sequence[str], doc_ids: Sequence[str], tag: str = "polyret"
) -> None:
    """Write the top-k lists as a TREC run: `qid Q0 docid rank score tag`, rank from 1, best first.

    Scores are written exactly (shortest round-trip repr). trec_eval re-sorts by score and breaks ties by
    document id, which can differ from our index rule for exactly tied scores.
    """
    with open(path, "w", encoding="utf-8") as f:
        for qid, row, scores in zip(query_ids, search.topk_indices.tolist(), search.topk_scores.tolist()):
            f.writelines(f"{qid} Q0 {doc_ids[c]} {r} {s!r} {tag}\n" for r, (c, s) in enumerate(zip(row, scores), 1))


def _average_precision(group: np.ndarray, ranks: np.ndarray, n_groups: int, cutoff: int | None = None) -> np.ndarray:
    """Per group: mean over its relevant items, sorted by rank, of (position among them) / rank.

    With a cutoff, items ranked below it contribute 0 but still count in the denominator (trec_eval map_cut).
    """
    order = np.lexsort((ranks, group))
    g, r = group[order], ranks[order]
    size = np.bincount(g, minlength=n_groups)
    position = np.arange(len(g)) - (np.cumsum(size) - size)[g] + 1
    precision = position / r if cutoff is None else np.where(r <= cutoff, position / r, 0.0)
    return np.bincount(g, weights=precision, minlength=n_groups) / size


def _first_last(group: np.ndarray, ranks: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Best (smallest) and worst rank of each group's relevant items."""
    first = np.full(n_groups, np.iinfo(np.int64).max)
    last = np.zeros(n_groups, dtype=np.int64)
    np.minimum.at(first, group, ranks)
    np.maximum.at(last, group, ranks)
    return first, last


def _group_mean(group: np.ndarray, values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Mean of values per group index; NaN for an empty group."""
    total = np.bincount(group, weights=values, minlength=len(counts))
    return np.divide(total, counts, out=np.full(len(counts), np.nan), where=counts > 0)


def _mean(values: np.ndarray) -> float:
    """Mean over the defined (non-NaN) values; NaN if there are none."""
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan


def _json_float(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


def _require_relevant(n_relevant: np.ndarray, query_ids: Sequence[str] | None) -> None:
    missing = np.flatnonzero(n_relevant == 0)
    if missing.size:
        first = query_ids[missing[0]] if query_ids is not None else f"#{missing[0]}"
        raise PolyretError(
            f"{missing.size} of {len(n_relevant)} queries have no relevant candidate (first: {first}); "
            "fix the relevance data, they cannot be scored"
        )
