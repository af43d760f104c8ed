"""exact_search: counts and top-k against hand-worked ranks and a naive full sort."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import polyret.evaluate.block_scan as block_scan
import polyret.evaluate.search as search_module
from polyret.errors import PolyretError
from polyret.evaluate.search import SCORE_SCALE, exact_search

# Hand-worked pool: queries are the unit vectors e0, e1, e2, so score(q_i, c) = CANDS[c, i] exactly.
# Candidates 0-2 are language 0 (en), 3-5 language 1 (de). Scores in sixteenths (exact in binary):
#   q0: c0 15, c1 13, c2  2, c3 11, c4  3, c5  5  -> order c0 c1 c3 c5 c4 c2
#   q1: c0 14, c1  4, c2 12, c3 10, c4 11, c5  8  -> order c0 c2 c4 c3 c5 c1
#   q2: c0  7, c1  9, c2  9, c3  9, c4  1, c5  9  -> ties at 9 by index: c1 c2 c3 c5, then c0 c4
HAND_SCORES = np.array([[15, 13, 2, 11, 3, 5], [14, 4, 12, 10, 11, 8], [7, 9, 9, 9, 1, 9]]) / 16
HAND_QUERIES = np.eye(3, dtype=np.float32)
HAND_CANDS = np.ascontiguousarray(HAND_SCORES.T, dtype=np.float32)
HAND_CAND_LANG = np.array([0, 0, 0, 1, 1, 1])
HAND_RELEVANT = [np.array([0, 3]), np.array([1, 4]), np.array([2, 5])]


def naive(queries, cands, relevant, cand_lang, n_langs, k):
    """Reference: score every pair with the same rounding rule, fully sort, read off counts and top k."""
    scores = np.rint(queries.astype(np.float64) * SCORE_SCALE @ cands.astype(np.float64).T)
    above, topk = [], []
    for q, rel in enumerate(relevant):
        order = np.lexsort((np.arange(len(cands)), -scores[q]))  # score descending, index ascending
        topk.append(order[:k])
        for c in rel:
            ranked_above = order[: np.flatnonzero(order == c)[0]]
            above.append(np.bincount(cand_lang[ranked_above], minlength=n_langs))
    return np.array(above).reshape(-1, n_langs), np.array(topk)


def random_problem(seed: int, nq: int = 40, nc: int = 300, d: int = 16, n_langs: int = 3):
    """Unit vectors with exact duplicates (true ties) and ragged relevance lists, some empty."""
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((nq, d)).astype(np.float32)
    c = rng.standard_normal((nc, d)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    c[rng.integers(0, nc, 30)] = c[5]  # duplicates of candidate 5 scattered over the pool
    q[0] = c[5]
    cand_lang = rng.integers(0, n_langs, nc)
    relevant = [rng.choice(nc, size=rng.integers(0, 5), replace=False) for _ in range(nq)]
    relevant[0] = np.flatnonzero((c == c[5]).all(axis=1))[::-1].copy()  # all tied, listed in reverse
    return q, c, relevant, cand_lang, n_langs


def test_hand_worked_counts_and_topk():
    res = exact_search(HAND_QUERIES, HAND_CANDS, HAND_RELEVANT, HAND_CAND_LANG, 2, k=4)
    # Pairs in query order. Counts = [en above, de above]:
    #   q0/c0: nothing above                        -> [0, 0], pool rank 1, en rank 1
    #   q0/c3: c0, c1 above                         -> [2, 0], pool rank 3, de rank 1
    #   q1/c1: c0 c2 c4 c3 c5 above (last)          -> [2, 3], pool rank 6, en rank 3
    #   q1/c4: c0, c2 above                         -> [2, 0], pool rank 3, de rank 1
    #   q2/c2: c1 above (tie at 9, lower index)     -> [1, 0], pool rank 2, en rank 2
    #   q2/c5: c1, c2, c3 above (ties, lower index) -> [2, 1], pool rank 4, de rank 2
    np.testing.assert_array_equal(res.above, [[0, 0], [2, 0], [2, 3], [2, 0], [1, 0], [2, 1]])
    np.testing.assert_array_equal(res.pool_ranks, [1, 3, 6, 3, 2, 4])
    np.testing.assert_array_equal(res.language_ranks, [1, 1, 3, 1, 2, 2])
    np.testing.assert_array_equal(res.pair_query, [0, 0, 1, 1, 2, 2])
    np.testing.assert_array_equal(res.pair_language, [0, 1, 0, 1, 0, 1])
    np.testing.assert_array_equal(res.topk_indices, [[0, 1, 3, 5], [0, 2, 4, 3], [1, 2, 3, 5]])
    np.testing.assert_allclose(res.topk_scores * 16, [[15, 13, 11, 5], [14, 12, 11, 10], [9, 9, 9, 9]])


@pytest.fixture(params=["kernels", "numpy"])
def scan_engine(request, monkeypatch):
    """The CPU path with the compiled block kernels, and with their numpy references (what runs without numba)."""
    if request.param == "kernels" and not block_scan.USE_KERNELS:
        pytest.skip("numba is not installed")
    monkeypatch.setattr(block_scan, "USE_KERNELS", request.param == "kernels")
    return request.param


@pytest.mark.parametrize("seed", [0, 1])
def test_matches_naive_full_sort(seed, scan_engine):
    q, c, relevant, cand_lang, n_langs = random_problem(seed)
    res = exact_search(q, c, relevant, cand_lang, n_langs, k=25, query_chunk=16, cand_chunk=64)
    above, topk = naive(q, c, relevant, cand_lang, n_langs, k=25)
    np.testing.assert_array_equal(res.above, above)
    np.testing.assert_array_equal(res.topk_indices, topk)
    # Query 0 is itself candidate 5, so its tied duplicates fill the top ranks in index order.
    tied = np.flatnonzero((c == c[5]).all(axis=1))
    np.testing.assert_array_equal(res.topk_indices[0], tied[:25])
    np.testing.assert_array_equal(np.sort(res.pool_ranks[res.pair_query == 0]), np.arange(1, len(tied) + 1))


def test_chunk_sizes_do_not_change_anything():
    q, c, relevant, cand_lang, n_langs = random_problem(2, nq=12, nc=120)
    one_block = exact_search(q, c, relevant, cand_lang, n_langs, k=20, query_chunk=1000, cand_chunk=1000)
    for query_chunk, cand_chunk in [(1, 1), (3, 7), (7, 19), (30, 5)]:
        res = exact_search(q, c, relevant, cand_lang, n_langs, k=20, query_chunk=query_chunk, cand_chunk=cand_chunk)
        for field in ("above", "topk_indices", "topk_scores", "pair_query", "pair_candidate"):
            np.testing.assert_array_equal(getattr(res, field), getattr(one_block, field), err_msg=field)


def test_relevant_item_never_counts_itself(monkeypatch):
    # The pair score is computed apart from the score blocks; should the two round one grid step apart,
    # the candidate must still not be counted above itself. Simulate that by lowering the pair scores.
    # (Duplicates of candidate 5 are exact ties, which a lowered score legitimately reorders: skip them.)
    q, c, relevant, cand_lang, n_langs = random_problem(4)
    expected = exact_search(q, c, relevant, cand_lang, n_langs)
    original = search_module._pair_scores
    monkeypatch.setattr(search_module, "_pair_scores", lambda *args: original(*args) - 1.0)
    shifted = exact_search(q, c, relevant, cand_lang, n_langs)
    untied = ~(c[expected.pair_candidate] == c[5]).all(axis=1)
    assert untied.sum() > 50
    np.testing.assert_array_equal(shifted.above[untied], expected.above[untied])


def test_ties_across_the_topk_cut_go_to_lower_indices():
    # Every candidate identical: the order is the index order, whatever the chunking.
    c = np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (50, 1))
    q = np.array([[1.0, 0.0]], dtype=np.float32)
    res = exact_search(q, c, [np.array([37, 3])], np.zeros(50, dtype=int), k=10, cand_chunk=7)
    np.testing.assert_array_equal(res.topk_indices[0], np.arange(10))
    np.testing.assert_array_equal(res.above[:, 0], [37, 3])


def test_topk_lists_that_grow_past_2k_are_compacted_without_losing_the_top(monkeypatch):
    # Scores rise with the candidate index, so every block's entries beat everything before them: each block
    # adds to the kept lists and the older entries fall below the cut, until the lists are compacted.
    angles = np.linspace(1.5, 0.1, 200)
    c = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    q = np.array([[1.0, 0.0], [0.8, 0.6]], dtype=np.float32)
    relevant = [np.array([150, 3]), np.array([199])]
    compactions = []
    original = np.argsort
    monkeypatch.setattr(np, "argsort", lambda a, *args, **kw: compactions.append(a.dtype == bool)
                        or original(a, *args, **kw))
    res = exact_search(q, c, relevant, np.zeros(200, dtype=int), k=4, cand_chunk=3)
    monkeypatch.setattr(np, "argsort", original)
    above, topk = naive(q, c, relevant, np.zeros(200, dtype=int), 1, k=4)
    np.testing.assert_array_equal(res.above, above)
    np.testing.assert_array_equal(res.topk_indices, topk)
    assert sum(compactions) > 10  # the compaction ran, again and again


def test_topk_agrees_with_counted_ranks_and_memmap_pool(tmp_path):
    q, c, relevant, cand_lang, n_langs = random_problem(3)
    pool = np.memmap(tmp_path / "pool.f32", dtype=np.float32, mode="w+", shape=c.shape)
    pool[:] = c
    res = exact_search(q, pool, relevant, cand_lang, n_langs, k=300, cand_chunk=50)  # k = whole pool
    position = np.argsort(res.topk_indices, axis=1)  # position[q, c] = 0-based rank of c for q
    np.testing.assert_array_equal(res.pool_ranks, position[res.pair_query, res.pair_candidate] + 1)
    assert np.all(np.diff(res.topk_scores, axis=1) <= 0)


def test_pool_smaller_than_k():
    res = exact_search(HAND_QUERIES, HAND_CANDS, HAND_RELEVANT, HAND_CAND_LANG, k=100)
    assert res.topk_indices.shape == (3, 6)
    np.testing.assert_array_equal(res.topk_indices[2], [1, 2, 3, 5, 0, 4])


@pytest.mark.parametrize(
    ("relevant", "message"),
    [
        ([np.array([0]), np.array([6]), np.array([])], "outside the pool"),
        ([np.array([0, 2, 0]), np.array([1]), np.array([])], "listed twice"),
        ([np.array([0])], "3 queries"),
    ],
)
def test_bad_relevance_is_refused(relevant, message):
    with pytest.raises(PolyretError, match=message):
        exact_search(HAND_QUERIES, HAND_CANDS, relevant, HAND_CAND_LANG)


def test_bad_embeddings_are_refused():
    cands = HAND_CANDS.copy()
    cands[4, 1] = np.nan
    with pytest.raises(PolyretError, match="NaN"):
        exact_search(HAND_QUERIES, cands, HAND_RELEVANT, HAND_CAND_LANG)
    with pytest.raises(PolyretError, match="same dimension"):
        exact_search(HAND_QUERIES[:, :2], HAND_CANDS, HAND_RELEVANT, HAND_CAND_LANG)
    with pytest.raises(PolyretError, match="language indices"):
        exact_search(HAND_QUERIES, HAND_CANDS, HAND_RELEVANT, HAND_CAND_LANG, n_langs=1)


def near_tie_problem(seed: int, nq: int = 24, nc: int = 400, d: int = 32, n_langs: int = 4):
    """Exact ties (duplicates) plus near-ties: copies of one candidate nudged by 1-4 float32 ulps in one
    coordinate, so their scores sit within a few grid steps of each other and of the relevant one."""
    q, c, relevant, cand_lang, _ = random_problem(seed, nq=nq, nc=nc, d=d, n_langs=n_langs)
    rng = np.random.default_rng(seed + 100)
    base = c[7].copy()
    for j, slot in enumerate(rng.choice(nc, size=60, replace=False)):
        nudged = base.copy()
        coord = rng.integers(0, d)
        for _ in range(j % 4 + 1):
            nudged[coord] = np.nextafter(nudged[coord], np.float32(np.inf if j % 2 else -np.inf))
        c[slot] = nudged
    q[1:4] = base  # these queries score the near-tied copies almost the same
    relevant[1] = np.flatnonzero((np.abs(c - base) < 1e-6).all(axis=1))[:5]
    return q, c, relevant, cand_lang, n_langs


@pytest.mark.parametrize("seed", range(4))
def test_torch_path_equals_numpy_path_on_ties_and_near_ties(seed: int, scan_engine) -> None:
    q, c, relevant, cand_lang, n_langs = near_tie_problem(seed)
    expected_above, expected_topk = naive(q, c, relevant, cand_lang, n_langs, k=9)
    for chunks in ((7, 50), (1024, 8192), (5, 399)):
        a = exact_search(q, c, relevant, cand_lang, n_langs, k=9, query_chunk=chunks[0], cand_chunk=chunks[1])
        b = exact_search(q, c, relevant, cand_lang, n_langs, k=9, query_chunk=chunks[0], cand_chunk=chunks[1],
                         engine="torch")
        for field in ("pair_query", "pair_candidate", "pair_language", "above", "topk_indices", "topk_scores"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=f"{field} {chunks}")
        np.testing.assert_array_equal(b.above, expected_above)
        np.testing.assert_array_equal(b.topk_indices, expected_topk)
    scores = np.rint(q[1].astype(np.float64) * SCORE_SCALE @ c.astype(np.float64).T)
    near = np.sort(scores[np.abs(c - c[7]).max(axis=1) < 1e-6])
    assert (np.diff(near) == 0).any() and ((np.diff(near) > 0) & (np.diff(near) < 2**12)).any()  # real near-ties


def cancellation_problem(seed: int, nq: int = 30, nc: int = 500, d: int = 64):
    """Large, cancelling coordinates: float32 sums lose the small differences that decide the order."""
    rng = np.random.default_rng(seed)
    big = rng.choice([-1.0, 1.0], size=d) * 1e3
    q = (big + rng.standard_normal((nq, d)) * 1e-2).astype(np.float32)
    c = (np.roll(big, 1) * rng.choice([-1.0, 1.0], size=(nc, d)) + rng.standard_normal((nc, d)) * 1e-2)
    c = c.astype(np.float32)
    c[rng.integers(0, nc, 20)] = c[3]  # exact ties as well
    cand_lang = rng.integers(0, 3, nc)
    relevant = [rng.choice(nc, size=3, replace=False) for _ in range(nq)]
    return q, c, relevant, cand_lang, 3


@pytest.mark.parametrize("seed", range(3))
def test_float32_blocks_with_rescoring_stay_exact_where_float32_alone_is_wrong(seed: int, scan_engine) -> None:
    q, c, relevant, cand_lang, n_langs = cancellation_problem(seed)
    res = exact_search(q, c, relevant, cand_lang, n_langs, k=15, query_chunk=8, cand_chunk=97)
    above, topk = naive(q, c, relevant, cand_lang, n_langs, k=15)
    np.testing.assert_array_equal(res.above, above)
    np.testing.assert_array_equal(res.topk_indices, topk)
    # the test means something: plain float32 scores would rank some of these pairs differently
    single = q @ c.T
    float32_above = [(single[qi] > single[qi, ci]).sum() for qi, rel in enumerate(relevant) for ci in rel]
    assert np.any(np.array(float32_above) != res.above.sum(axis=1))


def test_only_entries_inside_the_error_band_are_rescored(monkeypatch) -> None:
    # unit vectors at the encoder's width: the band (about 2.3e-5) holds a few entries in ten thousand
    rng = np.random.default_rng(0)
    q = rng.standard_normal((64, 384)).astype(np.float32)
    c = rng.standard_normal((3000, 384)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    relevant = [rng.choice(3000, size=4, replace=False) for _ in range(64)]
    cand_lang = rng.integers(0, 5, 3000)
    rescored = []
    original = search_module._rescore
    monkeypatch.setattr(search_module, "_rescore", lambda qs, query, *rest: rescored.append(len(query))
                        or original(qs, query, *rest))
    res = exact_search(q, c, relevant, cand_lang, 5, k=10, cand_chunk=1000)
    above, topk = naive(q, c, relevant, cand_lang, 5, k=10)
    np.testing.assert_array_equal(res.above, above)
    np.testing.assert_array_equal(res.topk_indices, topk)
    compared = 64 * 4 * 3000 + 64 * 3000  # pair comparisons and top-k candidates
    assert 0 < sum(rescored) < 0.01 * compared


def test_reduced_float32_matmul_precision_is_overridden_and_restored() -> None:
    q, c, relevant, cand_lang, n_langs = near_tie_problem(0)
    expected = exact_search(q, c, relevant, cand_lang, n_langs, k=9)
    torch.set_float32_matmul_precision("medium")
    try:
        res = exact_search(q, c, relevant, cand_lang, n_langs, k=9)
        assert torch.get_float32_matmul_precision() == "medium"
    finally:
        torch.set_float32_matmul_precision("highest")
    np.testing.assert_array_equal(res.above, expected.above)
    np.testing.assert_array_equal(res.topk_indices, expected.topk_indices)
