"""The compiled block scan and rescoring kernels against their numpy references and exact arithmetic."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

import polyret.evaluate.block_scan as block_scan
from polyret.evaluate.block_scan import dot_rounded, scan_block

pytestmark = pytest.mark.skipif(not block_scan.USE_KERNELS, reason="numba is not installed")


def scan_problem(seed: int, rows: int = 40, cols: int = 300):
    """Scores on a coarse grid (many exact ties with the thresholds), ragged pairs per row (some rows none),
    own columns inside and outside the block, and three language segments."""
    rng = np.random.default_rng(seed)
    scores = (rng.integers(-40, 40, size=(rows, cols)) / 64).astype(np.float32)
    per_row = rng.integers(0, 4, size=rows)
    row_ptr = np.concatenate([[0], np.cumsum(per_row)]).astype(np.int64)
    n_pairs = int(row_ptr[-1])
    pair_row = np.repeat(np.arange(rows), per_row)
    lower = (rng.integers(-40, 40, size=n_pairs) / 64).astype(np.float32)
    upper = lower + (rng.integers(0, 6, size=n_pairs) / 64).astype(np.float32)  # bands 0-5 grid steps wide
    own = np.where(rng.random(n_pairs) < 0.6, rng.integers(0, cols, size=n_pairs), -1).astype(np.int64)
    cut = np.quantile(scores, rng.uniform(0.5, 1.0, size=rows), axis=1).diagonal().astype(np.float32)
    cut[::7] = -np.inf  # rows still open: everything is kept
    segments = np.array([[0, 90, 2], [90, 91, 0], [91, cols, 1]], dtype=np.int64)
    return scores, cut, row_ptr, upper, lower, own, segments, pair_row


def by_hand(scores, cut, upper, lower, own, segments, pair_row, n_langs=3):
    """The promises of scan_block written out entry by entry."""
    above = np.zeros((len(upper), n_langs), dtype=np.int64)
    band = []
    for p, r in enumerate(pair_row):
        for start, end, lang in segments:
            for j in range(start, end):
                if j == own[p]:
                    continue
                value = scores[r, j]
                above[p, lang] += value > upper[p]
                if lower[p] <= value <= upper[p]:
                    band.append((p, j))
    keep = [(r, j) for r in range(len(scores)) for j in range(scores.shape[1]) if scores[r, j] >= cut[r]]
    return above, keep, band


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("capacities", [(256, 32), (2, 1), (0, 0)])
def test_scan_block_keeps_its_promises_whatever_the_capacities(monkeypatch, seed, capacities) -> None:
    # capacities (2, 1) and (0, 0) force the numpy recomputation of overflowing rows and pairs
    monkeypatch.setattr(block_scan, "KEEP_CAPACITY", capacities[0])
    monkeypatch.setattr(block_scan, "BAND_CAPACITY", capacities[1])
    scores, cut, row_ptr, upper, lower, own, segments, pair_row = scan_problem(seed)
    above = np.ones((len(upper), 3), dtype=np.int64)  # counts are added, not assigned
    keep_rows, keep_cols, band_pairs, band_cols = scan_block(scores, cut, row_ptr, upper, lower, own, segments,
                                                             above)
    expected_above, expected_keep, expected_band = by_hand(scores, cut, upper, lower, own, segments, pair_row)
    np.testing.assert_array_equal(above - 1, expected_above)
    assert list(zip(keep_rows.tolist(), keep_cols.tolist())) == expected_keep  # row-major
    assert list(zip(band_pairs.tolist(), band_cols.tolist())) == expected_band  # by pair, then column
    assert len(expected_band) > 10 and (own >= 0).sum() > 10  # the problem exercises what it should

    monkeypatch.setattr(block_scan, "USE_KERNELS", False)  # and the numpy reference agrees
    reference_above = np.ones_like(above)
    reference = scan_block(scores, cut, row_ptr, upper, lower, own, segments, reference_above)
    np.testing.assert_array_equal(reference_above, above)
    for got, want in zip(reference, (keep_rows, keep_cols, band_pairs, band_cols)):
        np.testing.assert_array_equal(got, want)


def test_scan_block_refuses_blocks_its_counters_cannot_count() -> None:
    wide = np.lib.stride_tricks.as_strided(np.zeros(1, dtype=np.float32), (1, block_scan.MAX_COLUMNS + 1), (0, 0))
    with pytest.raises(ValueError, match="columns"):
        scan_block(wide, np.zeros(1, dtype=np.float32), np.zeros(2, dtype=np.int64), np.zeros(0, np.float32),
                   np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros((0, 3), np.int64),
                   np.zeros((0, 1), np.int64))


def exact_dot(q_row: np.ndarray, c_row: np.ndarray) -> int:
    """Exact rational dot product, rounded half to even like np.rint."""
    return round(sum(Fraction(float(a)) * Fraction(float(b)) for a, b in zip(q_row, c_row)))


@pytest.mark.parametrize("dim", [384, 7])  # 7: the loop tail after the four interleaved sums
def test_dot_rounded_is_the_exactly_rounded_score(dim: int) -> None:
    rng = np.random.default_rng(dim)
    q = rng.standard_normal((20, dim)).astype(np.float32)
    c = rng.standard_normal((50, dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    q_scaled = q.astype(np.float64) * 2.0**32
    query, col = rng.integers(0, 20, size=300), rng.integers(0, 50, size=300)
    got = dot_rounded(q_scaled, query, c, col)
    np.testing.assert_array_equal(got, [exact_dot(q_scaled[i], c[j]) for i, j in zip(query, col)])
    np.testing.assert_array_equal(block_scan._dot_rounded_numpy(q_scaled, query, c, col), got)
    assert dot_rounded(q_scaled, query[:0], c, col[:0]).shape == (0,)


def test_kernels_do_not_depend_on_the_thread_count() -> None:
    import numba
    import torch

    scores, cut, row_ptr, upper, lower, own, segments, _ = scan_problem(5, rows=200)
    results = []
    before = torch.get_num_threads()
    try:
        for threads in (1, numba.config.NUMBA_NUM_THREADS):
            torch.set_num_threads(threads)  # the kernels follow torch's thread count
            above = np.zeros((len(upper), 3), dtype=np.int64)
            found = scan_block(scores, cut, row_ptr, upper, lower, own, segments, above)
            assert numba.get_num_threads() == min(threads, numba.config.NUMBA_NUM_THREADS)
            results.append((above, *found))
    finally:
        torch.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)
