"""Numba kernels of pattern discovery: aligned similarity of contribution windows.

A seqlet is represented by its window of *hypothetical* contributions, (4, W): at each
position, what each base would contribute there. Two seqlets are similar when one
window, shifted by at most ``max_shift`` columns and possibly reverse-complemented,
points the same way as the other (cosine of the overlapping columns, each window of
unit norm, so a small overlap cannot score high). The sign is kept: a site the model
reads as activating and the same bases read as repressing score -1 and never cluster.

Alignment convention: ``b`` aligned to ``a`` with shift ``s`` and strand ``r`` puts
column ``j`` of ``b`` (of its reverse complement when ``r == 1``) on column ``j + s`` of
``a``. The reverse complement of a (4, W) window in A, C, G, T order is the window read
backwards with the channels reversed.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(cache=True, fastmath=True)
def best_alignment(a: np.ndarray, b: np.ndarray, max_shift: int) -> tuple[float, int, int]:
    """Best (similarity, shift, strand) of unit-norm windows ``b`` onto ``a`` (4, W)."""
    w = a.shape[1]
    best, bs, br = -2.0, 0, 0
    for r in range(2):
        for s in range(-max_shift, max_shift + 1):
            acc = 0.0
            for i in range(max(0, s), min(w, w + s)):
                j = i - s
                if r == 0:
                    for c in range(4):
                        acc += a[c, i] * b[c, j]
                else:
                    jj = w - 1 - j
                    for c in range(4):
                        acc += a[c, i] * b[3 - c, jj]
            if acc > best:
                best, bs, br = acc, s, r
    return best, bs, br


@njit(cache=True, parallel=True)
def pair_similarity(
    windows: np.ndarray, left: np.ndarray, right: np.ndarray, max_shift: int
) -> np.ndarray:
    """Aligned similarity of each candidate pair ``(left[k], right[k])``."""
    out = np.empty(len(left), dtype=np.float32)
    for k in prange(len(left)):
        out[k] = best_alignment(windows[left[k]], windows[right[k]], max_shift)[0]
    return out


@njit(cache=True, parallel=True)
def assign(
    wide: np.ndarray, norms: np.ndarray, offset: int, refs: np.ndarray, max_shift: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each window's best reference: (similarity, reference, shift, strand).

    The windows are the columns ``offset .. offset + W`` of the wide windows (W: the
    references' width), divided by their ``norms`` here, so no normalised copy of all
    windows is held. Linear in the number of windows: every window is compared with
    every reference (a few dozen patterns), not with every other window.
    """
    n, k, w = wide.shape[0], refs.shape[0], refs.shape[2]
    sim = np.full(n, -2.0, dtype=np.float32)
    ref = np.full(n, -1, dtype=np.int64)
    shift = np.zeros(n, dtype=np.int64)
    strand = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        window = wide[i, :, offset : offset + w]
        scale = 1.0 / max(norms[i], 1e-12)
        for p in range(k):
            s, sh, st = best_alignment(refs[p], window, max_shift)
            s *= scale
            if s > sim[i]:
                sim[i], ref[i], shift[i], strand[i] = s, p, sh, st
    return sim, ref, shift, strand


@njit(cache=True)
def accumulate(
    wide: np.ndarray,
    members: np.ndarray,
    target: np.ndarray,
    shift: np.ndarray,
    strand: np.ndarray,
    max_shift: int,
    out: np.ndarray,
) -> None:
    """Add each member's wide window (C, W + 2 max_shift) into ``out[target]``, aligned.

    ``out`` is (P, C, W + 4 max_shift): reference column 0 sits at index
    ``2 max_shift``, so every alignment of every wide window fits. With 4 channels
    the reverse complement reverses the channels; other channel counts (a coverage
    row) are only read backwards.
    """
    c_n, wp = wide.shape[1], wide.shape[2]
    for m in range(len(members)):
        i, p, s = members[m], target[m], shift[m]
        for k in range(wp):
            col = k + max_shift + s
            for c in range(c_n):
                if strand[m] == 0:
                    out[p, c, col] += wide[i, c, k]
                else:
                    cc = 3 - c if c_n == 4 else c
                    out[p, c, col] += wide[i, cc, wp - 1 - k]
