"""One fused pass over a float32 score block: per-language counts, error-band entries and top-k survivors.

Why polyret compiles its own kernel (numba) here: the exact search's matmul is BLAS, but what it does with
each score block is not a stock operation. Done with numpy, the per-pair comparisons, byte sums, band masks
and nonzero scans were seven single-threaded passes over every block, and they cost more than the matmul
(1M x 10k: 1.68x faiss flat top-100, of which the matmul is 0.77x). This kernel reads each block row once
into cache, compares it against every threshold of its query in vectorised loops, and runs rows in parallel
on numba's threads.

Semantics, for a block row r (a query) and each of its relevant pairs p (own: the pair's candidate column in
this block, or -1):

- above[p, lang] += #{j in a segment of language lang, j != own: row[j] > upper[p]}
  (surely above the pair's candidate: the float32 error cannot undo it);
- band entries of p: columns j != own with lower[p] <= row[j] <= upper[p], the ones float32 cannot decide,
  which the caller rescores in float64;
- kept columns of r: j with row[j] >= cut[r], the top-k candidates so far.

Outputs of variable length go into fixed-capacity buffers; a count larger than the capacity means the row
(or pair) did not fit, and that one is recomputed with numpy, so the capacities bound memory without
bounding correctness.

Without numba (a GPU machine that installs polyret with --no-deps, say) the same results come from numpy
reference implementations (_scan_numpy, _dot_rounded_numpy), several times slower; tests/test_block_scan.py
holds the kernels to them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

try:
    import numba
except ImportError:  # pragma: no cover - numba is a dependency; a --no-deps install may lack it
    numba = None

USE_KERNELS = numba is not None
"""Whether scan_block and dot_rounded run the compiled kernels (False: the numpy references)."""


def _jit(**options: object) -> Callable:
    return (lambda function: function) if numba is None else numba.njit(cache=True, **options)

KEEP_CAPACITY = 256
"""Kept columns stored per block row; a row with more (ties, tiny k cuts) is recomputed with numpy."""
BAND_CAPACITY = 32
"""Band columns stored per pair and block (a few is typical); more are recomputed with numpy."""


MAX_COLUMNS = 1 << 24
"""Widest block the kernel takes: its float32 counters are exact up to 2**24."""


_RUN = 64
"""Counts are also kept per run of this many columns, so that the few band and kept entries are then found by
scanning only the runs that hold some (a plain scan of the row does not vectorise: it cost 2-3x the counting)."""


@_jit(fastmath={"reassoc"})
def _count(row, start, end, up, lo, runs):  # pragma: no cover - compiled
    """(#row[j] > up, #row[j] >= lo) over [start, end); runs[i] = the second count minus the first in
    columns start + 64 i onwards (the entries in [lo, up] when lo <= up). float32 accumulators with
    reassociation are what lets LLVM vectorise the loop (integer counters stay scalar); sums of 0/1 in
    float32 are exact below 2**24."""
    n_up = 0
    n_lo = 0
    i = 0
    r0 = start
    while r0 < end:
        a = np.float32(0.0)
        b = np.float32(0.0)
        if r0 + _RUN <= end:  # a full run: a constant trip count, which LLVM unrolls and vectorises
            for j in range(r0, r0 + _RUN):
                value = row[j]
                a += np.float32(value > up)
                b += np.float32(value >= lo)
        else:
            for j in range(r0, end):
                value = row[j]
                a += np.float32(value > up)
                b += np.float32(value >= lo)
        runs[i] = int(b) - int(a)
        n_up += int(a)
        n_lo += int(b)
        i += 1
        r0 += _RUN
    return n_up, n_lo


@_jit(boundscheck=False)
def _gather(row, start, end, up, lo, skip, runs, found, out, cap):  # pragma: no cover - compiled
    """Append to out (up to cap entries; `found` so far) the columns j != skip of [start, end) with
    lo <= row[j] <= up, looking only inside the runs that _count found some in. Returns the new total."""
    i = 0
    for r0 in range(start, end, _RUN):
        if runs[i] > 0:
            for j in range(r0, min(r0 + _RUN, end)):
                value = row[j]
                if lo <= value <= up and j != skip:
                    if found < cap:
                        out[found] = j
                    found += 1
        i += 1
    return found


@_jit(parallel=True, boundscheck=False)
def _scan(scores, cut, row_ptr, upper, lower, own, seg_start, seg_end, seg_lang,
          above, keep_cols, keep_count, band_cols, band_count, run_counts):  # pragma: no cover - compiled
    n_rows, n_cols = scores.shape
    keep_cap = keep_cols.shape[1]
    band_cap = band_cols.shape[1]
    never = np.float32(np.inf)  # no finite score is above it: runs then count the entries >= the cut
    for r in numba.prange(n_rows):
        row = scores[r]
        runs = run_counts[r]
        threshold = cut[r]
        n_keep = _count(row, 0, n_cols, never, threshold, runs)[1]
        keep_count[r] = n_keep
        if 0 < n_keep <= keep_cap:
            _gather(row, 0, n_cols, never, threshold, -1, runs, 0, keep_cols[r], keep_cap)
        for p in range(row_ptr[r], row_ptr[r + 1]):
            up = upper[p]
            lo = lower[p]
            me = own[p]
            n_band = 0
            for s in range(seg_start.shape[0]):
                start = seg_start[s]
                end = seg_end[s]
                n_up, n_lo = _count(row, start, end, up, lo, runs)
                if start <= me < end:  # the pair's own candidate never counts, nor is it a band entry
                    n_up -= row[me] > up
                    n_lo -= row[me] >= lo
                above[p, seg_lang[s]] += n_up
                if n_lo > n_up:
                    n_band = _gather(row, start, end, up, lo, me, runs, n_band, band_cols[p], band_cap)
            band_count[p] = n_band


def scan_block(
    scores: np.ndarray, cut: np.ndarray, row_ptr: np.ndarray, upper: np.ndarray, lower: np.ndarray,
    own: np.ndarray, segments: np.ndarray, above: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """Count into `above` in place; return (keep_rows, keep_cols, band_pairs, band_cols), block-local.

    scores: [R, C] float32, C-contiguous. cut: [R] float32. row_ptr: [R + 1] int64, the pairs of row r are
    row_ptr[r]:row_ptr[r + 1] (in the order of upper, lower, own and above's rows). upper, lower: [P] float32.
    own: [P] int64 (-1 where the pair's candidate is not in this block). segments: [S, 3] int64 rows
    (start, end, language) covering the columns. above: [P, n_langs] int64.
    Kept entries come row-major (by row, then column); band entries by pair, then column.
    """
    n_rows, n_pairs = scores.shape[0], len(upper)
    if scores.shape[1] > MAX_COLUMNS:
        raise ValueError(f"scan_block: {scores.shape[1]:,} columns, at most {MAX_COLUMNS:,}")
    if not USE_KERNELS:
        return _scan_numpy(scores, cut, row_ptr, upper, lower, own, segments, above)
    _match_torch_threads()
    keep_cols = np.empty((n_rows, KEEP_CAPACITY), dtype=np.int64)
    keep_count = np.empty(n_rows, dtype=np.int64)
    band_cols = np.empty((n_pairs, BAND_CAPACITY), dtype=np.int64)
    band_count = np.empty(n_pairs, dtype=np.int64)
    run_counts = np.empty((n_rows, scores.shape[1] // _RUN + 2), dtype=np.int64)  # per row: no allocation inside
    _scan(scores, cut, row_ptr, upper, lower, own, segments[:, 0].copy(), segments[:, 1].copy(),
          segments[:, 2].copy(), above, keep_cols, keep_count, band_cols, band_count, run_counts)
    pair_row = np.repeat(np.arange(n_rows), np.diff(row_ptr))
    keep_rows, keep = _collect(keep_cols, keep_count, lambda r: np.flatnonzero(scores[r] >= cut[r]))

    def band_of(p: int) -> np.ndarray:
        row = scores[pair_row[p]]
        cols = np.flatnonzero((row >= lower[p]) & (row <= upper[p]))
        return cols[cols != own[p]]

    band_pairs, band = _collect(band_cols, band_count, band_of)
    return keep_rows, keep, band_pairs, band


def _scan_numpy(
    scores: np.ndarray, cut: np.ndarray, row_ptr: np.ndarray, upper: np.ndarray, lower: np.ndarray,
    own: np.ndarray, segments: np.ndarray, above: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """scan_block with numpy passes over the block: the reference the kernel is tested against."""
    n_rows, n_cols = scores.shape
    keep_rows, keep_cols = np.divmod(np.flatnonzero(scores >= cut[:, None]), n_cols)
    pair_row = np.repeat(np.arange(n_rows), np.diff(row_ptr))
    band_pairs, band_cols = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
    for g0 in range(0, len(pair_row), max(n_rows, 1)):  # at most a block's worth of rows at a time
        pairs = np.arange(g0, min(g0 + n_rows, len(pair_row)))
        rows = scores[pair_row[pairs]]
        is_above = rows > upper[pairs, None]
        in_band = (rows >= lower[pairs, None]) & ~is_above
        mine = own[pairs] >= 0
        is_above[mine, own[pairs][mine]] = False
        in_band[mine, own[pairs][mine]] = False
        for start, end, lang in segments:
            above[pairs, lang] += is_above[:, start:end].sum(axis=1)
        row, col = np.divmod(np.flatnonzero(in_band), n_cols)
        band_pairs.append(pairs[row])
        band_cols.append(col)
    return keep_rows, keep_cols, np.concatenate(band_pairs), np.concatenate(band_cols)


def _match_torch_threads() -> None:
    """Run the kernels on as many threads as torch's matmul (a user's cap applies to both)."""
    import torch

    numba.set_num_threads(max(1, min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)))


def _collect(cols: np.ndarray, count: np.ndarray, recompute) -> tuple[np.ndarray, np.ndarray]:
    """(owner, column) of the stored entries, row-major; owners that overflowed recomputed by `recompute`."""
    capacity = cols.shape[1]
    stored = np.where(count > capacity, 0, count)
    owners = np.repeat(np.arange(len(count)), stored)
    found = cols[np.arange(capacity)[None, :] < stored[:, None]]
    over = np.flatnonzero(count > capacity)
    if over.size == 0:
        return owners, found
    extra = [recompute(int(i)) for i in over]
    owners = np.concatenate([owners, np.repeat(over, [len(e) for e in extra])])
    found = np.concatenate([found, *extra])
    order = np.argsort(owners, kind="stable")  # back to owner order, columns ascending within each
    return owners[order], found[order]


@_jit(parallel=True, boundscheck=False)
def _dot_rounded(q_scaled, query, block, col, out):  # pragma: no cover - compiled
    dim = q_scaled.shape[1]
    tail = dim - dim % 4
    for i in numba.prange(len(query)):
        a = q_scaled[query[i]]
        b = block[col[i]]
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        for t in range(0, tail, 4):
            s0 += a[t] * b[t]
            s1 += a[t + 1] * b[t + 1]
            s2 += a[t + 2] * b[t + 2]
            s3 += a[t + 3] * b[t + 3]
        for t in range(tail, dim):
            s0 += a[t] * b[t]
        out[i] = np.rint((s0 + s1) + (s2 + s3))


def dot_rounded(q_scaled: np.ndarray, query: np.ndarray, block: np.ndarray, col: np.ndarray) -> np.ndarray:
    """rint(q_scaled[query[i]] . block[col[i]]) in float64, for every i: the reference score on its grid.

    The summation order is fixed (four interleaved partial sums, combined pairwise) and no operation is
    reassociated or contracted, so a score does not depend on the machine or the number of threads; float32
    candidates make every product exact. Parallel over entries, with no [n, d] temporaries.
    """
    out = np.empty(len(query), dtype=np.float64)
    if not USE_KERNELS:
        return _dot_rounded_numpy(q_scaled, query, block, col)
    if len(query):
        _match_torch_threads()
        _dot_rounded(q_scaled, np.ascontiguousarray(query, dtype=np.int64), block,
                     np.ascontiguousarray(col, dtype=np.int64), out)
    return out


def _dot_rounded_numpy(q_scaled: np.ndarray, query: np.ndarray, block: np.ndarray, col: np.ndarray,
                       step: int = 4096) -> np.ndarray:  # fmt: skip
    """dot_rounded with numpy, in bounded chunks. numpy sums in its own (pairwise) order, which gives the same
    rounded score except where the two orders land on either side of a half-way point: about never."""
    out = np.empty(len(query), dtype=np.float64)
    for p0 in range(0, len(query), step):
        rows = q_scaled[query[p0 : p0 + step]]
        out[p0 : p0 + len(rows)] = (rows * block[col[p0 : p0 + step]].astype(np.float64)).sum(axis=1)
    return np.rint(out)
