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

import itertools

import numpy as np


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
    n = len(sequence)
    if n <= 2:
        return sequence
    letters = sorted(set(sequence))
    edges: dict[str, list[str]] = {c: [] for c in letters}
    for a, b in itertools.pairwise(sequence):
        edges[a].append(b)
    last = sequence[-1]
    while True:
        last_edge: dict[str, int] = {}
        for c in letters:
            if c != last and edges[c]:
                last_edge[c] = int(rng.integers(len(edges[c])))
        # every letter with out-edges must reach ``last`` through its last-exit edge
        ok = True
        for c in last_edge:
            seen = {c}
            cur = c
            while cur != last:
                cur = edges[cur][last_edge[cur]]
                if cur in seen:
                    ok = False
                    break
                seen.add(cur)
            if not ok:
                break
        if ok:
            break
    order: dict[str, list[str]] = {}
    for c in letters:
        out = list(edges[c])
        tail = None
        if c in last_edge:
            tail = out.pop(last_edge[c])
        rng.shuffle(out)
        if tail is not None:
            out.append(tail)
        order[c] = out
    pos = {c: 0 for c in letters}
    result = [sequence[0]]
    cur = sequence[0]
    for _ in range(n - 1):
        nxt = order[cur][pos[cur]]
        pos[cur] += 1
        result.append(nxt)
        cur = nxt
    return "".join(result)


def shuffle_onehot(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Dinucleotide-shuffle a one-hot ``(4, L)`` array (all-zero columns shuffle as N)."""
    from seqlantern.encode import decode, one_hot

    return one_hot(dinucleotide_shuffle(decode(x), rng))
