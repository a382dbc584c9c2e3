"""Dinucleotide-preserving shuffles (Altschul & Erickson 1985; Kandel et al. 1996).

Why dinucleotides: a model's response to a sequence depends strongly on its composition
(GC, CpG, poly-A tracts). A control that keeps every dinucleotide count but destroys
longer words (motifs, adapters) keeps the composition-driven part of the attribution and
removes the part that comes from specific sites, which is exactly the null a seqlet
should be compared with.

The shuffle is a random Eulerian path through the dinucleotide multigraph: choose a
random spanning arborescence of "last exit" edges rooted at the final letter, shuffle
each letter's other out-edges, then walk from the first letter. Every sequence with the
same dinucleotide counts, first and last letter is equally likely.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def dinucleotide_shuffle(sequence: str, rng: np.random.Generator) -> str:
    """Return a random sequence with the same dinucleotide counts as ``sequence``.

    Parameters
    ----------
    sequence
        Any string (letters other than ACGT, such as N, are shuffled as letters too).
    rng
        Random generator (seed it for reproducible controls).

    Returns
    -------
    The shuffled sequence; same length, first and last letter.
    """
    if len(sequence) <= 2:
        return sequence
    codes = np.frombuffer(sequence.encode("utf-32-le"), dtype=np.uint32)
    letters, ranks = np.unique(codes, return_inverse=True)
    out = np.empty(len(ranks), dtype=np.int64)
    _euler_shuffle(ranks.astype(np.int64), len(letters), rng, out)
    return letters[out].tobytes().decode("utf-32-le")


def shuffle_onehot(x: np.ndarray, rng: np.random.Generator, *, copies: int = 0) -> np.ndarray:
    """Dinucleotide-shuffle a one-hot ``(4, L)`` array (all-zero columns shuffle as N).

    The result is that of :func:`dinucleotide_shuffle` on the decoded sequence, encoded
    again (float32): ambiguity columns decode to their strongest base. With ``copies``,
    return ``(copies, 4, L)``: that many shuffles drawn one after another from ``rng``, as
    repeated calls would give, in one compiled loop (passing the generator into compiled
    code costs more than shuffling a short span).
    """
    out = np.zeros((max(copies, 1), 4, x.shape[-1]), dtype=np.float32)
    _shuffle_onehot_copies(np.asarray(x), rng, out)
    return out if copies else out[0]


# Ranks of the letters a one-hot column decodes to, in the sorted order the string shuffle
# sees them (A < C < G < N < T): argmax A, C, G, T give 0, 1, 2, 4; all-zero columns 3.
_RANK_OF_BASE = np.array([0, 1, 2, 4], dtype=np.int64)
_BASE_OF_RANK = np.array([0, 1, 2, -1, 3], dtype=np.int64)


@njit(cache=True)
def _shuffle_onehot_copies(x: np.ndarray, rng: np.random.Generator, out: np.ndarray) -> None:
    """Decode ``x`` (4, L), shuffle it ``len(out)`` times, one-hot into zeroed ``out``."""
    n = x.shape[1]
    r = np.empty(n, dtype=np.int64)
    for j in range(n):
        best = 0
        for b in range(1, 4):
            if x[b, j] > x[best, j]:
                best = b
        r[j] = _RANK_OF_BASE[best] if x[best, j] > 0 else 3
    s = np.empty(n, dtype=np.int64)
    for k in range(out.shape[0]):
        if n <= 2:
            s[:] = r
        else:
            _euler_shuffle(r, 5, rng, s)
        for j in range(n):
            b = _BASE_OF_RANK[s[j]]
            if b >= 0:
                out[k, b, j] = 1.0


@njit(cache=True)
def _euler_shuffle(s: np.ndarray, n_letters: int, rng: np.random.Generator,
                   out: np.ndarray) -> None:  # fmt: skip
    """The shuffle on letter ranks ``s`` (0 .. n_letters-1, ordered as sorted letters).

    Every random draw happens in the same order and with the same bounds as in the
    reference description (letters in sorted order: one ``integers`` per letter with
    out-edges other than the last letter, then one ``shuffle`` per letter's other edges),
    so a seed gives the same sequence as it always did. numba's Generator methods draw
    the same numbers as NumPy's.
    """
    n = len(s)
    count = np.zeros(n_letters, dtype=np.int64)
    for i in range(n - 1):
        count[s[i]] += 1
    start = np.zeros(n_letters + 1, dtype=np.int64)
    for c in range(n_letters):
        start[c + 1] = start[c] + count[c]
    succ = np.empty(n - 1, dtype=np.int64)
    fill = start[:n_letters].copy()
    for i in range(n - 1):
        succ[fill[s[i]]] = s[i + 1]
        fill[s[i]] += 1
    last = s[n - 1]
    last_edge = np.full(n_letters, -1, dtype=np.int64)
    seen = np.zeros(n_letters, dtype=np.bool_)
    while True:
        for c in range(n_letters):
            if c != last and count[c] > 0:
                last_edge[c] = rng.integers(0, count[c])
        # every letter with out-edges must reach ``last`` through its last-exit edge
        ok = True
        for c in range(n_letters):
            if last_edge[c] < 0:
                continue
            seen[:] = False
            seen[c] = True
            cur = c
            while cur != last:
                cur = succ[start[cur] + last_edge[cur]]
                if seen[cur]:
                    ok = False
                    break
                seen[cur] = True
            if not ok:
                break
        if ok:
            break
    order = np.empty(n - 1, dtype=np.int64)
    for c in range(n_letters):
        o, k = start[c], count[c]
        if k == 0:
            continue
        if last_edge[c] >= 0:
            j = 0
            for i in range(k):
                if i != last_edge[c]:
                    order[o + j] = succ[o + i]
                    j += 1
            rng.shuffle(order[o : o + k - 1])
            order[o + k - 1] = succ[o + last_edge[c]]
        else:
            order[o : o + k] = succ[o : o + k]
            rng.shuffle(order[o : o + k])
    pos = start[:n_letters].copy()
    cur = s[0]
    out[0] = cur
    for i in range(1, n):
        nxt = order[pos[cur]]
        pos[cur] += 1
        out[i] = nxt
        cur = nxt
