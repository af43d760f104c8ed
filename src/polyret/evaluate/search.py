"""Exact dense search over a candidate pool, streamed in blocks so memory stays bounded.

The LAReQA measures need the rank of every relevant candidate in the whole pool and inside each candidate
language, with no cut-off, so an approximate index or a top-k list alone is not enough. One pass over the
[n_queries, n_candidates] score matrix, one block at a time, keeps for every (query, relevant candidate) pair
the number of candidates ranked above it in each candidate language, plus the top-k list of every query.
Any rank the metrics need follows from those counts:

- rank in the whole pool = 1 + counts.sum()
- rank among the candidates of language L (for a relevant candidate of language L) = 1 + counts[L]

Ranking rule (deterministic, and independent of chunk sizes, thread count and BLAS kernel choice):
the score is the dot product, computed in float64 and rounded to a multiple of 2**-32 (about 2.3e-10).
Products of float32 numbers are exact in float64, so float64 summation error (about 1e-16 for unit vectors)
sits far below that grid, and the grid far below float32 resolution (about 6e-8): scores that differ in the
embeddings stay distinct, and the few that agree to ten digits are ties. Scores sort descending; ties go to
the lower candidate index first. A plain float32 matmul would not do: its last bits depend on the block shape
(MKL picks different kernels), and in a pool of a million several candidates lie within one float32 rounding
error of a relevant score, so counts would change with the chunking.

On CPU the score blocks are nevertheless float32 (twice the matmul speed, half the memory traffic): a float32
dot product has a proven error bound, so an entry whose float32 score clears a threshold by more than that
bound is decided, and only the few inside the band (a few in ten thousand for unit vectors at d = 384) are
rescored in float64 the reference way; the top-k lists keep every candidate within two bands of the k-th best
and rescore those at the end. The result is the reference ranking, not an approximation of it
(tests/test_search.py holds it against a naive float64 sort, on cancelling coordinates where float32 alone
ranks wrongly). The matmul runs in torch (torch.get_num_threads() threads, full float32 precision enforced),
everything else on a block in one fused, multithreaded pass (polyret.evaluate.block_scan, compiled with numba;
numpy references where numba is missing) that reads each score once. On a
GPU (or with engine="torch") the whole pass runs in torch on that device in float64, with the same rounding and
an integer sort key (score, then index) that makes the ties exact: both paths return identical results
(tests/test_search.py forces the torch path on CPU).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from polyret.errors import PolyretError
from polyret.evaluate.block_scan import dot_rounded, scan_block

SCORE_SCALE = 2.0**32
"""Scores are rounded to multiples of 1 / SCORE_SCALE (see the module docstring)."""

_NO_INDEX = np.iinfo(np.int64).max
"""Index of an empty top-k slot; sorts after every real candidate."""


@dataclass(frozen=True)
class SearchResult:
    """What one streaming pass keeps: per-language counts for each relevant pair and each query's top k.

    Pairs are ordered by query, then in the order the relevant indices were given.
    """

    pair_query: np.ndarray
    """[n_pairs] int64: query index of each (query, relevant candidate) pair, ascending."""
    pair_candidate: np.ndarray
    """[n_pairs] int64: the relevant candidate's index."""
    pair_language: np.ndarray
    """[n_pairs] int64: the relevant candidate's language."""
    above: np.ndarray
    """[n_pairs, n_langs] int64: candidates of each language ranked strictly above the pair's candidate."""
    topk_indices: np.ndarray
    """[n_queries, min(k, n_candidates)] int64: best candidates first."""
    topk_scores: np.ndarray
    """[n_queries, min(k, n_candidates)] float64: their (rounded) scores."""

    @property
    def n_queries(self) -> int:
        return self.topk_indices.shape[0]

    @property
    def pool_ranks(self) -> np.ndarray:
        """[n_pairs] 1-based rank of each relevant candidate in the whole pool."""
        return 1 + self.above.sum(axis=1)

    @property
    def language_ranks(self) -> np.ndarray:
        """[n_pairs] 1-based rank of each relevant candidate among the candidates of its own language."""
        return 1 + self.above[np.arange(len(self.above)), self.pair_language]


def exact_search(
    queries: np.ndarray,
    candidates: np.ndarray,
    relevant: Sequence[np.ndarray],
    cand_lang: np.ndarray,
    n_langs: int | None = None,
    *,
    k: int = 100,
    query_chunk: int = 1024,
    cand_chunk: int = 8192,
    device: torch.device | str | None = None,
    engine: str = "auto",
) -> SearchResult:
    """Rank every candidate for every query and keep what the metrics need (see the module docstring).

    queries: [nq, d] and candidates: [nc, d] float arrays (a np.memmap pool is read once, chunk by chunk).
    relevant: per query, the indices of its relevant candidates (may be empty; no duplicates).
    cand_lang: [nc] language index of each candidate, in [0, n_langs); n_langs defaults to max + 1.
    The float64 score block is query_chunk x cand_chunk (64 MiB with the defaults); the working set is a
    few such blocks plus the queries in float64.
    device: where the encoder ran; engine "auto" runs the torch path on a CUDA device and numpy on CPU,
    "torch" or "numpy" force one (the torch path needs a pool below 2**24 candidates).
    """
    if queries.ndim != 2 or candidates.ndim != 2 or queries.shape[1] != candidates.shape[1]:
        raise PolyretError(
            f"queries {queries.shape} and candidates {candidates.shape} must be 2-D with the same dimension"
        )
    if k < 1 or query_chunk < 1 or cand_chunk < 1:
        raise PolyretError(f"k, query_chunk and cand_chunk must be positive, got {k}, {query_chunk}, {cand_chunk}")
    nq, nc = queries.shape[0], candidates.shape[0]
    if nc == 0:
        raise PolyretError("the candidate pool is empty")
    cand_lang = np.asarray(cand_lang, dtype=np.int64)
    if cand_lang.shape != (nc,):
        raise PolyretError(f"cand_lang has shape {cand_lang.shape}, expected ({nc},)")
    n_langs = int(cand_lang.max()) + 1 if n_langs is None else n_langs
    if cand_lang.min() < 0 or cand_lang.max() >= n_langs:
        raise PolyretError(f"cand_lang must hold language indices in [0, {n_langs})")
    pair_query, pair_cand = _flatten_relevant(relevant, nq, nc)
    device = torch.device(device or "cpu")
    if engine not in ("auto", "torch", "numpy"):
        raise PolyretError(f"search engine {engine!r}: use auto, torch or numpy")
    if engine == "torch" or (engine == "auto" and device.type == "cuda"):
        return _torch_search(queries, candidates, pair_query, pair_cand, cand_lang, n_langs, k, query_chunk,
                             cand_chunk, device)

    return _numpy_search(queries, candidates, pair_query, pair_cand, cand_lang, n_langs, k, query_chunk, cand_chunk)


def _numpy_search(
    queries: np.ndarray, candidates: np.ndarray, pair_query: np.ndarray, pair_cand: np.ndarray,
    cand_lang: np.ndarray, n_langs: int, k: int, query_chunk: int, cand_chunk: int,
) -> SearchResult:  # fmt: skip
    """The CPU path: float32 score blocks, float64 rescoring of only the entries the float32 error could flip.

    A float32 dot product of d terms, summed in any order (with or without FMA), is within
    gamma = (d+2)u / (1 - (d+2)u) * |q| |c| of the exact one (u = 2**-24; the +2 covers rounding float64
    inputs to float32). An entry whose float32 score lies more than that, plus two grid steps, above (below)
    a threshold has a reference score (float64, rounded to the grid) strictly above (below) it, so only the
    entries inside the band are rescored the reference way. On unit vectors at d = 384 the band is about
    2.3e-5 wide: a few entries in ten thousand. Results equal the float64 torch path (tests/test_search.py).
    Per block: the matmul, then block_scan.scan_block (counts, band entries, top-k survivors in one pass).
    """
    nq, nc, dim = queries.shape[0], candidates.shape[0], queries.shape[1]
    terms = (dim + 2) * 2.0**-24
    gamma = terms / (1 - terms)
    # Candidates are visited grouped by language (stable, so by index inside a language): a block then
    # spans one or two languages and per-language counts are sums over a few column ranges.
    visit = np.argsort(cand_lang, kind="stable")
    visit_lang = cand_lang[visit]
    visit_position = np.empty(nc, dtype=np.int64)
    visit_position[visit] = np.arange(nc)
    pair_position = visit_position[pair_cand]

    q_scaled = _to_float64(queries, "queries").mul_(SCORE_SCALE)  # exact: a power of two
    q32 = q_scaled.div(SCORE_SCALE).to(torch.float32)
    # band half-width per query: the float32 error bound plus two grid steps (rounding, float64 sums); the
    # float32 norms are inflated by their own rounding error (d terms, then a square root)
    band = gamma * np.linalg.norm(queries.astype(np.float64), axis=1) * _max_norm(candidates) * (1 + 2 * gamma)
    band += 2.0 / SCORE_SCALE
    pair_score = _pair_scores(q_scaled, candidates, pair_query, pair_cand)
    pair_band = band[pair_query]
    pair_upper = _float32_bound(pair_score / SCORE_SCALE + pair_band, np.inf)  # /: exact, a power of two
    pair_lower = _float32_bound(pair_score / SCORE_SCALE - pair_band, -np.inf)
    # the pairs of each query chunk, and per block row where its pairs start (pairs are ordered by query)
    chunk_pairs = []
    for q0 in range(0, nq, query_chunk):
        bounds = np.searchsorted(pair_query, np.arange(q0, min(q0 + query_chunk, nq) + 1))
        chunk_pairs.append((int(bounds[0]), int(bounds[-1]), bounds - bounds[0]))
    above = np.zeros((len(pair_query), n_langs), dtype=np.int64)
    width = min(k, nc)
    kept = [_Kept.empty(min(q0 + query_chunk, nq) - q0) for q0 in range(0, nq, query_chunk)]
    buffer = torch.empty(min(query_chunk, nq) * min(cand_chunk, nc), dtype=torch.float32)  # reused: no page faults

    with _full_float32_matmul():
        for c0 in range(0, nc, cand_chunk):
            c1 = min(c0 + cand_chunk, nc)
            block_index = visit[c0:c1]
            block = _finite(candidates[block_index], f"candidates {c0}:{c1} (in language order)")
            block32 = block if block.dtype == torch.float32 else block.to(torch.float32)
            seg_starts = np.flatnonzero(np.diff(visit_lang[c0:c1], prepend=-1))
            segments = np.stack([seg_starts, np.append(seg_starts[1:], c1 - c0), visit_lang[c0 + seg_starts]], 1)
            for qi, (q0, (p0, p1, row_ptr)) in enumerate(zip(range(0, nq, query_chunk), chunk_pairs)):
                q1 = min(q0 + query_chunk, nq)
                out = buffer[: (q1 - q0) * (c1 - c0)].view(q1 - q0, c1 - c0)
                # torch's matmul: with numpy's (OpenBLAS) benchmarks/search_memory.py measured 1.56x faiss, not 1.36x
                scores = torch.mm(q32[q0:q1], block32.T, out=out).numpy()
                own = pair_position[p0:p1] - c0  # the pair's own candidate as a block column, -1 if elsewhere
                own[(own < 0) | (own >= c1 - c0)] = -1
                cut = kept[qi].cut(scores, band[q0:q1], width)
                keep_rows, keep_cols, band_pairs, band_cols = scan_block(
                    scores, cut, row_ptr, pair_upper[p0:p1], pair_lower[p0:p1], own, segments, above[p0:p1]
                )
                kept[qi] = kept[qi].merge(scores, keep_rows, keep_cols, block_index, band[q0:q1], width)
                if band_pairs.size:  # the few entries float32 cannot decide: rescore them the reference way
                    pair, cand = p0 + band_pairs, block_index[band_cols]
                    exact = _rescore(q_scaled, pair_query[pair], block.numpy(), band_cols)
                    threshold = pair_score[pair]
                    ranked_above = (exact > threshold) | ((exact == threshold) & (cand < pair_cand[pair]))
                    np.add.at(above, (pair[ranked_above], visit_lang[c0 + band_cols[ranked_above]]), 1)

    top_scores = np.empty((nq, width))
    top_indices = np.empty((nq, width), dtype=np.int64)
    for q0, chunk in zip(range(0, nq, query_chunk), kept):
        q1 = q0 + len(chunk.indices)
        top_scores[q0:q1], top_indices[q0:q1] = chunk.exact_top(q_scaled, q0, candidates, width, band[q0:q1])
    return SearchResult(
        pair_query=pair_query,
        pair_candidate=pair_cand,
        pair_language=cand_lang[pair_cand],
        above=above,
        topk_indices=top_indices,
        topk_scores=top_scores / SCORE_SCALE,
    )


@dataclass(frozen=True)
class _Kept:
    """Per query, every candidate whose float32 score is within two bands of its k-th best so far (unordered),
    and possibly some that have since fallen below that cut.

    The reference top k is among them: the k-th best reference score is at least the k-th best float32 score
    minus a band, and a candidate reaching it has a float32 score at most a band lower. Padded with -inf.
    Unordered on purpose: a partition finds the k-th best, and only exact_top sorts, once. Entries below the
    cut are dropped only when a list grows past 2k (dropping them at every block cost more than the scan);
    exact_top ignores them.
    """

    scores: np.ndarray
    """[rows, width] float32 (-inf in padding)."""
    indices: np.ndarray
    """[rows, width] int64 candidate indices (_NO_INDEX in padding)."""
    kth: np.ndarray
    """[rows] float32: each row's k-th best kept score (-inf while it holds fewer than k)."""

    @classmethod
    def empty(cls, rows: int) -> _Kept:
        return cls(np.full((rows, 0), -np.inf, dtype=np.float32), np.full((rows, 0), _NO_INDEX, dtype=np.int64),
                   np.full(rows, -np.inf, dtype=np.float32))

    def cut(self, scores: np.ndarray, band: np.ndarray, k: int) -> np.ndarray:
        """Per row, the float32 cut a block's entries must reach to be kept: two bands below the k-th best.

        A row still holding fewer than k takes the block's own k-th best, which also bounds its final one.
        """
        n_cols = scores.shape[1]
        kth = self.kth.copy()
        open_rows = np.isneginf(kth)
        if open_rows.any() and n_cols >= k:
            kth[open_rows] = np.partition(scores[open_rows], n_cols - k, axis=1)[:, n_cols - k]
        return _float32_bound(kth - 2 * band, -np.inf)

    def merge(self, scores: np.ndarray, rows: np.ndarray, cols: np.ndarray, block_index: np.ndarray,
              band: np.ndarray, k: int) -> _Kept:  # fmt: skip
        """These lists with a block's entries (rows, cols), row-major, that reached the row's cut merged in."""
        if rows.size == 0:
            return self
        counts = np.bincount(rows, minlength=len(scores))
        slot = np.arange(rows.size) - np.repeat(np.cumsum(counts) - counts, counts)
        new_scores = np.full((len(scores), counts.max()), -np.inf, dtype=np.float32)
        new_indices = np.full(new_scores.shape, _NO_INDEX, dtype=np.int64)
        new_scores[rows, slot] = scores[rows, cols]
        new_indices[rows, slot] = block_index[cols]
        merged_scores = np.concatenate([self.scores, new_scores], axis=1)
        merged_indices = np.concatenate([self.indices, new_indices], axis=1)
        width = merged_scores.shape[1]
        if width < k:
            return _Kept(merged_scores, merged_indices, np.full(len(scores), -np.inf, dtype=np.float32))
        kth = np.partition(merged_scores, width - k, axis=1)[:, width - k]
        if width <= 2 * k:  # entries below the cut are harmless (real candidates); compact only now and then
            return _Kept(merged_scores, merged_indices, kth)
        keep = merged_scores >= _float32_bound(kth - 2 * band, -np.inf)[:, None]  # drop what fell below the cut
        kept_width = max(k, int(keep.sum(axis=1).max()))
        if kept_width < width:  # compact: kept entries first (a stable sort of booleans is a counting pass)
            order = np.argsort(~keep, axis=1, kind="stable")[:, :kept_width]
            keep = np.take_along_axis(keep, order, axis=1)
            merged_scores = np.take_along_axis(merged_scores, order, axis=1)
            merged_indices = np.take_along_axis(merged_indices, order, axis=1)
        merged_scores[~keep], merged_indices[~keep] = -np.inf, _NO_INDEX
        return _Kept(merged_scores, merged_indices, kth)

    def exact_top(self, q_scaled: torch.Tensor, q0: int, candidates: np.ndarray, k: int, band: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The reference top k of these rows: candidates above the final cut rescored, by score descending,
        then index."""
        cut = _float32_bound(self.kth - 2 * band, -np.inf)
        rows, slots = np.nonzero((self.indices != _NO_INDEX) & (self.scores >= cut[:, None]))
        exact = np.full(self.indices.shape, -np.inf)
        exact[rows, slots] = _pair_scores(q_scaled, candidates, rows + q0, self.indices[rows, slots])
        keep = np.lexsort((self.indices, -exact), axis=1)[:, :k]
        return np.take_along_axis(exact, keep, axis=1), np.take_along_axis(self.indices, keep, axis=1)


@contextmanager
def _full_float32_matmul() -> Iterator[None]:
    """The error bound assumes true float32 products: keep torch from using TF32 or bfloat16 inside matmuls."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def _float32_bound(values: np.ndarray, direction: float) -> np.ndarray:
    """float32 numbers at least as far out as `values` (float64) in `direction` (+inf: >=, -inf: <=)."""
    return np.nextafter(values.astype(np.float32), np.float32(direction))


def _rescore(q_scaled: torch.Tensor, query: np.ndarray, block: np.ndarray, col: np.ndarray) -> np.ndarray:
    """Reference scores (float64, on the grid) of the given (query, block column) entries.

    The one place the reference score is computed (_pair_scores reads the pool and calls it), so a candidate
    rescored inside a block and its own pair score agree exactly (block_scan.dot_rounded: fixed order).
    """
    return dot_rounded(q_scaled.numpy(), query, block, col)


def _flatten_relevant(relevant: Sequence[np.ndarray], nq: int, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """Relevance lists -> (pair_query, pair_candidate) arrays, checked for range and duplicates."""
    if len(relevant) != nq:
        raise PolyretError(f"relevant has {len(relevant)} entries for {nq} queries")
    lists = [np.asarray(r, dtype=np.int64).reshape(-1) for r in relevant]
    lengths = np.array([len(r) for r in lists], dtype=np.int64)
    pair_query = np.repeat(np.arange(nq, dtype=np.int64), lengths)
    pair_cand = np.concatenate(lists) if lists else np.zeros(0, dtype=np.int64)
    bad = (pair_cand < 0) | (pair_cand >= nc)
    if bad.any():
        i = int(bad.argmax())
        raise PolyretError(f"query {pair_query[i]}: relevant index {pair_cand[i]} is outside the pool of {nc}")
    order = np.lexsort((pair_cand, pair_query))
    dup = (np.diff(pair_query[order]) == 0) & (np.diff(pair_cand[order]) == 0)
    if dup.any():
        i = order[int(dup.argmax())]
        raise PolyretError(f"query {pair_query[i]}: relevant index {pair_cand[i]} is listed twice")
    return pair_query, pair_cand


def _finite(array: np.ndarray, what: str) -> torch.Tensor:
    """A chunk as a contiguous tensor of its own dtype, refusing NaN/inf (they would compare false)."""
    array = np.ascontiguousarray(array)
    if not np.isfinite(array).all():
        raise PolyretError(f"{what}: embeddings contain NaN or inf")
    return torch.from_numpy(array)


def _max_norm(candidates: np.ndarray, chunk: int = 65536) -> float:
    """The largest candidate norm, read in chunks (a memory-mapped pool is not loaded whole)."""
    return max(float(np.linalg.norm(candidates[c0 : c0 + chunk], axis=1).max())
               for c0 in range(0, len(candidates), chunk))


def _to_float64(array: np.ndarray, what: str) -> torch.Tensor:
    """A float64 copy of a chunk, refusing NaN/inf (they would compare false and silently drop out)."""
    return _finite(array, what).to(torch.float64)


def _pair_scores(q_scaled: torch.Tensor, candidates: np.ndarray, pair_query: np.ndarray, pair_cand: np.ndarray
                 ) -> np.ndarray:  # fmt: skip
    """Reference score of each (query, candidate) pair, read in place from the pool (a np.memmap too).

    No gathered copy and no finiteness check here: every candidate passes _finite (or _to_float64) in the
    block loop of either path before any result is returned.
    """
    return _rescore(q_scaled, pair_query, candidates, pair_cand)


_INDEX_BITS = 24
"""The torch path sorts by key = score * 2**24 + (2**24 - 1 - index): score descending, then index ascending."""


def _torch_search(
    queries: np.ndarray, candidates: np.ndarray, pair_query: np.ndarray, pair_cand: np.ndarray,
    cand_lang: np.ndarray, n_langs: int, k: int, query_chunk: int, cand_chunk: int, device: torch.device,
) -> SearchResult:  # fmt: skip
    """exact_search with every step in torch on `device`: same scores, rounding and tie rule as the numpy path."""
    nq, nc = queries.shape[0], candidates.shape[0]
    if nc >= 2**_INDEX_BITS:
        raise PolyretError(f"the torch search path takes pools below {2**_INDEX_BITS:,} candidates, not {nc:,}")
    low = 2**_INDEX_BITS - 1
    visit = np.argsort(cand_lang, kind="stable")
    visit_lang = cand_lang[visit]
    q_scaled = _to_float64(queries, "queries").mul_(SCORE_SCALE).to(device)
    pair_score = torch.from_numpy(_pair_scores(q_scaled.cpu(), candidates, pair_query, pair_cand)).to(device)
    pair_key = pair_score.to(torch.int64) * 2**_INDEX_BITS + (low - torch.from_numpy(pair_cand).to(device))
    pair_q = torch.from_numpy(pair_query).to(device)
    pair_c = torch.from_numpy(pair_cand).to(device)
    above = torch.zeros((len(pair_query), n_langs), dtype=torch.int64, device=device)
    width = min(k, nc)
    top = torch.full((nq, width), torch.iinfo(torch.int64).min, dtype=torch.int64, device=device)
    p_starts = np.searchsorted(pair_query, np.arange(0, nq + query_chunk, query_chunk).clip(max=nq))

    for c0 in range(0, nc, cand_chunk):
        c1 = min(c0 + cand_chunk, nc)
        block_index = torch.from_numpy(visit[c0:c1]).to(device)
        block = _to_float64(candidates[visit[c0:c1]], f"candidates {c0}:{c1} (in language order)").to(device)
        seg_starts = np.flatnonzero(np.diff(visit_lang[c0:c1], prepend=-1))
        segments = list(zip(seg_starts, np.append(seg_starts[1:], c1 - c0), visit_lang[c0 + seg_starts]))
        for qi, q0 in enumerate(range(0, nq, query_chunk)):
            q1 = min(q0 + query_chunk, nq)
            keys = torch.round(q_scaled[q0:q1] @ block.T).to(torch.int64).mul_(2**_INDEX_BITS).add_(low - block_index)
            merged = torch.cat([top[q0:q1], keys.topk(min(width, c1 - c0), dim=1).values], dim=1)
            top[q0:q1] = merged.topk(width, dim=1).values
            p0, p1 = int(p_starts[qi]), int(p_starts[qi + 1])
            for g0 in range(p0, p1, query_chunk):  # bounded: at most query_chunk pairs x block at a time
                pairs = slice(g0, min(g0 + query_chunk, p1))
                is_above = keys[pair_q[pairs] - q0] > pair_key[pairs, None]
                is_above &= block_index[None, :] != pair_c[pairs, None]  # never count itself
                for start, end, lang in segments:
                    above[pairs, int(lang)] += is_above[:, start:end].sum(dim=1)

    top_cpu = top.cpu()
    return SearchResult(
        pair_query=pair_query,
        pair_candidate=pair_cand,
        pair_language=cand_lang[pair_cand],
        above=above.cpu().numpy(),
        topk_indices=(low - (top_cpu & low)).numpy(),
        topk_scores=(top_cpu >> _INDEX_BITS).to(torch.float64).numpy() / SCORE_SCALE,
    )
