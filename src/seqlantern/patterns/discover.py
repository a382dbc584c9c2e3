"""De novo patterns: seqlets clustered by their contribution profiles (TF-MoDISco-style).

Why: a motif database names what it holds; everything else the model learned (a
degenerate site, a composite element, a library's own sequence) shows up only when the
seqlets themselves are grouped. Grouping by base identity splits a degenerate motif and
joins unrelated ones of similar composition; grouping by what the model *would* score at
each position (the hypothetical contributions) does neither, and keeps the sign of the
effect. This is what TF-MoDISco does; its costs (all-pairs similarities, ~1.5 h and 8 GB
for 10^5 seqlets) are what we avoid:

1. **Windows.** Every significant seqlet (all of them: known motifs, artifacts and
   unexplained ones) gives a window of ``window`` bp around its centre of
   |attribution|: hypothetical contributions (the similarity), attributions (the CWM)
   and bases (the PWM).
2. **Seeds on a sample.** At most ``sample`` seqlets (seeded) are embedded as canonical
   4-mer contribution profiles (strand- and shift-invariant, signed); each one's
   ``neighbours`` nearest neighbours by cosine are the candidate pairs, scored exactly by
   the aligned similarity (:mod:`~seqlantern.patterns.kernels`: shifts up to
   ``max_shift``, both strands). Pairs at or above ``edge_similarity`` form a graph
   clustered by Leiden (``leidenalg``, RB configuration model, ``resolution``, seeded).
   The candidate pre-filter keeps the exact step linear in the sample.
3. **Patterns over all seqlets.** Each cluster's aligned mean is a reference; every
   seqlet is aligned to every reference and joins the most similar one when the
   similarity reaches ``assign_similarity`` (linear in N: one pass compares N seqlets
   with a few dozen references). References are rebuilt from their members and
   re-centred, references at least ``merge_similarity`` alike are merged, patterns with
   fewer than ``min_members`` members dissolve, and a last pass assigns every seqlet to
   the final references.
4. **Per pattern**: CWM (mean attribution of the aligned members), hCWM (mean
   hypothetical contribution), PFM/PWM (base frequencies of the members), trimmed to
   the columns holding at least ``trim`` of the peak |CWM| column; member counts per
   sign; member positions; the best database match (TOMTOM, exact p-values, query as in
   annotate: PFM + hypothetical weight x the sign-oriented hCWM); and a label: an
   ``artifact`` pattern when most members are artifact elements (an adapter is a
   pattern too), else ``motif`` when the match's q-value passes, else ``unexplained``.

Memory is bounded by a few arrays of N x 4 x (window + 2 max_shift) float32 (1.7 GB at
10^6 seqlets with the defaults); time is linear in N after the fixed-size sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numba import njit

from seqlantern.io import RowSource, SeqlanternError
from seqlantern.options import DEFAULTS
from seqlantern.patterns.kernels import accumulate, assign, best_alignment, pair_similarity

_D = DEFAULTS.patterns

PATTERN_COLUMNS = ["pattern", "label", "members", "positive", "negative", "sequences",
                   "width", "consensus", "mean_similarity", "match_id", "match_name",
                   "match_family", "match_cluster", "match_pvalue", "match_qvalue",
                   "match_strand", "artifact_name", "artifact_share", "label_shares",
                   "position_mean", "position_sd"]  # fmt: skip
MEMBER_COLUMNS = ["seqlet_id", "name", "row", "start", "end", "strand", "sign", "label",
                  "pattern", "similarity", "window_start", "window_end",
                  "window_strand"]  # fmt: skip


@dataclass(frozen=True)
class PatternParams:
    """Pattern discovery options (defined in :mod:`seqlantern.options`, ``patterns``)."""

    window: int = _D.window
    max_shift: int = _D.max_shift
    sample: int = _D.sample
    neighbours: int = _D.neighbours
    edge_similarity: float = _D.edge_similarity
    resolution: float = _D.resolution
    assign_similarity: float = _D.assign_similarity
    merge_similarity: float = _D.merge_similarity
    min_members: int = _D.min_members
    trim: float = _D.trim
    seed: int = 0


@dataclass
class Pattern:
    """One pattern: trimmed matrices (width, 4) and its members' statistics."""

    cwm: np.ndarray
    hcwm: np.ndarray
    pfm: np.ndarray
    members: int


# --------------------------------------------------------------------------------------
# windows
# --------------------------------------------------------------------------------------


@njit(cache=True)
def _windows(
    attr: np.ndarray,
    hyp: np.ndarray,
    onehot: np.ndarray,
    block_row: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    half: int,
    wide_width: int,
    out_hyp: np.ndarray,
    out_attr: np.ndarray,
    out_onehot: np.ndarray,
    out_start: np.ndarray,
) -> None:
    """Wide windows around each seqlet's centre of |attribution| (zeros past the ends)."""
    length = attr.shape[2]
    for m in range(len(block_row)):
        b = block_row[m]
        tot, acc = 0.0, 0.0
        for pos in range(starts[m], ends[m]):
            v = abs(attr[b, 0, pos] + attr[b, 1, pos] + attr[b, 2, pos] + attr[b, 3, pos])
            tot += v
            acc += v * (pos + 0.5)
        centre = acc / tot if tot > 0 else 0.5 * (starts[m] + ends[m])
        w0 = math.floor(centre) - half
        out_start[m] = w0
        for k in range(wide_width):
            pos = w0 + k
            if pos < 0 or pos >= length:
                continue
            for c in range(4):
                out_hyp[m, c, k] = hyp[b, c, pos]
                out_attr[m, c, k] = attr[b, c, pos]
                out_onehot[m, c, k] = onehot[b, c, pos]


def extract_windows(
    elements: pd.DataFrame,
    x: RowSource,
    attr: RowSource,
    hyp: RowSource,
    attr_row: dict[int, int],
    *,
    window: int,
    max_shift: int,
    block: int = 4096,
) -> dict[str, np.ndarray]:
    """Wide windows (N, 4, window + 2 max_shift) of every element, read block by block.

    ``start`` is the record position of each wide window's first column; the central
    ``window`` columns (from ``start + max_shift``) are the seqlet's window.
    """
    n = len(elements)
    wide = window + 2 * max_shift
    half = window // 2 + max_shift
    out: dict[str, np.ndarray] = {
        "hyp": np.zeros((n, 4, wide), np.float32), "attr": np.zeros((n, 4, wide), np.float32),
        "onehot": np.zeros((n, 4, wide), np.uint8), "start": np.zeros(n, np.int64)}  # fmt: skip
    rows = elements["row"].to_numpy(np.int64)
    arow = np.array([attr_row[int(r)] for r in rows], dtype=np.int64)
    starts = elements["start"].to_numpy(np.int64)
    ends = elements["end"].to_numpy(np.int64)
    order = np.argsort(arow, kind="stable")  # read the arrays in row order
    for b0 in range(0, n, block):
        sel = order[b0 : b0 + block]
        uniq, at = np.unique(arow[sel], return_inverse=True)
        xr = np.unique(rows[sel])
        a = np.asarray(attr[uniq], dtype=np.float32)
        h = np.asarray(hyp[uniq], dtype=np.float32)
        # the one-hot rows of the same sequences, in the attribution rows' order
        x_of = {int(r): i for i, r in enumerate(xr)}
        oh_block = np.asarray(x[xr], dtype=np.float32)
        arow_to_x = {int(arow[s]): int(rows[s]) for s in sel}
        oh = oh_block[[x_of[arow_to_x[int(u)]] for u in uniq]]
        tmp = {k: np.zeros((len(sel), *v.shape[1:]), v.dtype) for k, v in out.items()}
        _windows(a, h, oh, at.astype(np.int64), starts[sel], ends[sel], half, wide,
                 tmp["hyp"], tmp["attr"], tmp["onehot"], tmp["start"])  # fmt: skip
        for k in out:
            out[k][sel] = tmp[k]
    return out


def _unit(windows: np.ndarray) -> np.ndarray:
    norm = np.sqrt((windows.astype(np.float64) ** 2).sum(axis=(1, 2)))
    return (windows / np.maximum(norm, 1e-12)[:, None, None]).astype(np.float32)


# --------------------------------------------------------------------------------------
# seeds: k-mer embedding, candidate pairs, Leiden
# --------------------------------------------------------------------------------------


def _canonical_index(k: int) -> np.ndarray:
    """k-mer code -> index of its canonical (strand-merged) k-mer."""
    codes = np.arange(4**k)
    digits = (codes[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    canon = np.minimum(codes, rc)
    _, index = np.unique(canon, return_inverse=True)
    return index


def kmer_embedding(onehot: np.ndarray, attr: np.ndarray, *, k: int = 4) -> np.ndarray:
    """Signed canonical k-mer contribution profiles (n, 4^k / 2), unit norm.

    Each k-mer occurrence adds the attribution summed over its bases; a window and its
    reverse complement, or the window shifted, give (nearly) the same profile, so
    nearest neighbours here are candidates for the exact aligned similarity.
    """
    n, _, w = onehot.shape
    index = _canonical_index(k)
    dims = int(index.max()) + 1
    has = onehot.sum(axis=1) > 0
    base = onehot.argmax(axis=1)
    per_pos = attr.sum(axis=1)
    emb = np.zeros((n, dims), dtype=np.float64)
    for p in range(w - k + 1):
        code = np.zeros(n, dtype=np.int64)
        ok = np.ones(n, dtype=bool)
        weight = np.zeros(n)
        for j in range(k):
            code = code * 4 + base[:, p + j]
            ok &= has[:, p + j]
            weight += per_pos[:, p + j]
        rows = np.flatnonzero(ok)
        np.add.at(emb, (rows, index[code[rows]]), weight[rows])
    norm = np.linalg.norm(emb, axis=1)
    return (emb / np.maximum(norm, 1e-12)[:, None]).astype(np.float32)


def candidate_pairs(emb: np.ndarray, neighbours: int, *, block: int = 512) -> np.ndarray:
    """(m, 2) pairs: each row with its ``neighbours`` nearest others by cosine."""
    n = len(emb)
    k = min(neighbours, n - 1)
    if k < 1:
        return np.zeros((0, 2), dtype=np.int64)
    out = []
    for b0 in range(0, n, block):
        sim = emb[b0 : b0 + block] @ emb.T
        idx = np.arange(b0, min(b0 + block, n))
        sim[idx - b0, idx] = -np.inf
        nn = np.argpartition(-sim, k - 1, axis=1)[:, :k]
        out.append(np.column_stack([np.repeat(idx, k), nn.ravel()]))
    pairs = np.concatenate(out)
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0)


def leiden_clusters(
    n: int, pairs: np.ndarray, weights: np.ndarray, *, resolution: float, seed: int
) -> np.ndarray:
    """Leiden communities (RB configuration model) of the weighted similarity graph."""
    import igraph as ig
    import leidenalg

    g = ig.Graph(n=n, edges=pairs.tolist(), directed=False)
    g.es["weight"] = weights.astype(float).tolist()
    part = leidenalg.find_partition(
        g, leidenalg.RBConfigurationVertexPartition, weights="weight",
        resolution_parameter=resolution, seed=seed, n_iterations=-1)  # fmt: skip
    return np.asarray(part.membership, dtype=np.int64)


# --------------------------------------------------------------------------------------
# references and passes
# --------------------------------------------------------------------------------------


def _sums(win: dict[str, np.ndarray], members: np.ndarray, target: np.ndarray,
          shift: np.ndarray, strand: np.ndarray, n_refs: int,
          max_shift: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Aligned sums of the members' wide windows per reference (hyp, attr, onehot)."""
    width = win["hyp"].shape[2] + 2 * max_shift
    out = {}
    for key in ("hyp", "attr", "onehot"):
        acc = np.zeros((n_refs, 4, width), dtype=np.float64)
        accumulate(win[key], members, target, shift, strand, max_shift, acc)
        out[key] = acc
    return out


def _centre(hyp_sum: np.ndarray, window: int) -> int:
    """Start of the ``window`` columns holding the most |hypothetical| mass."""
    mass = np.abs(hyp_sum).sum(axis=0)
    run = np.convolve(mass, np.ones(window), mode="valid")
    return int(np.argmax(run))


def _references(sums: dict[str, np.ndarray], window: int) -> np.ndarray:
    """Unit-norm (P, 4, window) references, re-centred on each pattern's mass."""
    refs = np.zeros((len(sums["hyp"]), 4, window), dtype=np.float32)
    for p, h in enumerate(sums["hyp"]):
        c = _centre(h, window)
        refs[p] = h[:, c : c + window]
    return _unit(refs)


def _norms(wide: np.ndarray, offset: int, width: int, block: int = 65536) -> np.ndarray:
    """L2 norm of each window (the central ``width`` columns), block by block."""
    out = np.empty(len(wide), dtype=np.float32)
    for b0 in range(0, len(wide), block):
        w = wide[b0 : b0 + block, :, offset : offset + width].astype(np.float64)
        out[b0 : b0 + block] = np.sqrt((w**2).sum(axis=(1, 2)))
    return out


def _seed_references(
    win: dict[str, np.ndarray], norms: np.ndarray, sample: np.ndarray, labels: np.ndarray,
    min_size: int, p: PatternParams,
) -> np.ndarray:  # fmt: skip
    """One reference per Leiden cluster of at least ``min_size`` sampled seqlets: the
    members aligned to the member most similar to the others."""
    refs = []
    for lab in np.unique(labels):
        members = sample[labels == lab]
        if len(members) < min_size:
            continue
        seed_idx = members[np.argmax(np.abs(win["attr"][members]).sum(axis=(1, 2)))]
        c0 = p.max_shift
        seed = _unit(win["hyp"][seed_idx : seed_idx + 1, :, c0 : c0 + p.window])
        sim, _, shift, strand = assign(win["hyp"][members], norms[members], c0, seed,
                                       p.max_shift)  # fmt: skip
        keep = sim >= p.edge_similarity
        if keep.sum() < min_size:
            continue
        sums = _sums(win, members[keep], np.zeros(int(keep.sum()), np.int64), shift[keep],
                     strand[keep], 1, p.max_shift)  # fmt: skip
        refs.append(_references(sums, p.window)[0])
    return np.array(refs, dtype=np.float32).reshape(-1, 4, p.window)


def _merge(refs: np.ndarray, counts: np.ndarray, threshold: float, max_shift: int) -> np.ndarray:
    """Indices of the references kept: larger first, a smaller one at least
    ``threshold`` alike to a kept one is merged into it (dropped here; its members join
    the kept one in the next pass)."""
    kept: list[int] = []
    for i in np.argsort(-counts, kind="stable"):
        if counts[i] == 0:
            continue
        if all(best_alignment(refs[j], refs[i], max_shift)[0] < threshold for j in kept):
            kept.append(int(i))
    return np.array(sorted(kept), dtype=np.int64)


def _pass(
    win: dict[str, np.ndarray], norms: np.ndarray, refs: np.ndarray, p: PatternParams
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    sim, ref, shift, strand = assign(win["hyp"], norms, p.max_shift, refs, p.max_shift)
    ref = np.where(sim >= p.assign_similarity, ref, -1)
    return sim, ref, shift, strand


def _trimmed(sums: dict[str, np.ndarray], p: int, trim: float) -> tuple[int, int]:
    """Columns of pattern ``p`` covered by at least half its members and holding at
    least ``trim`` of the peak |CWM| column (first to last such column)."""
    cover = sums["onehot"][p].sum(axis=0)
    cwm = sums["attr"][p] / np.maximum(cover, 1)
    mass = np.abs(cwm).sum(axis=0)
    ok = (cover >= 0.5 * cover.max()) & (mass >= trim * mass.max())
    cols = np.flatnonzero(ok)
    return (int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 0)


# --------------------------------------------------------------------------------------
# the whole discovery
# --------------------------------------------------------------------------------------


def discover(
    elements: pd.DataFrame,
    x: RowSource,
    attr: RowSource,
    hyp: RowSource,
    attr_row: dict[int, int],
    *,
    params: PatternParams | None = None,
    log: Any = print,
) -> tuple[list[Pattern], pd.DataFrame]:
    """Patterns of the elements' contribution profiles; returns the patterns (largest
    first) and a per-element table (``pattern`` index or -1, similarity, aligned window).

    See the module docstring for the method.
    """
    p = params or PatternParams()
    n = len(elements)
    empty = pd.DataFrame({"pattern": np.full(n, -1), "similarity": np.full(n, np.nan),
                          "window_start": np.zeros(n, np.int64),
                          "window_end": np.zeros(n, np.int64),
                          "window_strand": ["+"] * n})  # fmt: skip
    if n == 0:
        return [], empty
    win = extract_windows(elements, x, attr, hyp, attr_row, window=p.window,
                          max_shift=p.max_shift)  # fmt: skip
    c0 = p.max_shift
    norms = _norms(win["hyp"], c0, p.window)
    rng = np.random.default_rng(p.seed)
    sample = np.sort(rng.choice(n, size=min(n, p.sample), replace=False))
    log(f"[patterns] {n:,} seqlets; seeds from a sample of {len(sample):,}")
    emb = kmer_embedding(win["onehot"][sample, :, c0 : c0 + p.window].astype(np.float32),
                         win["attr"][sample, :, c0 : c0 + p.window])  # fmt: skip
    pairs = candidate_pairs(emb, p.neighbours)
    central = _unit(win["hyp"][sample][:, :, c0 : c0 + p.window])
    sims = pair_similarity(central, pairs[:, 0].copy(), pairs[:, 1].copy(), p.max_shift)
    keep = sims >= p.edge_similarity
    log(f"[patterns] {len(pairs):,} candidate pairs, {int(keep.sum()):,} at similarity >= "
        f"{p.edge_similarity}")  # fmt: skip
    if keep.sum() == 0:
        return [], empty
    labels = leiden_clusters(len(sample), pairs[keep], sims[keep], resolution=p.resolution,
                             seed=p.seed)  # fmt: skip
    min_size = max(3, math.ceil(p.min_members * len(sample) / n))
    refs = _seed_references(win, norms, sample, labels, min_size, p)
    log(f"[patterns] {labels.max() + 1} Leiden clusters, {len(refs)} of at least {min_size} "
        "sampled seqlets")  # fmt: skip
    if len(refs) == 0:
        return [], empty
    for it in range(2):
        sim, ref, shift, strand = _pass(win, norms, refs, p)
        on = np.flatnonzero(ref >= 0)
        sums = _sums(win, on, ref[on], shift[on], strand[on], len(refs), p.max_shift)
        counts = np.bincount(ref[on], minlength=len(refs))
        refs = _references(sums, p.window)
        kept = _merge(refs, counts, p.merge_similarity, p.max_shift)
        if it == 1:  # dissolve the small patterns before the last pass
            kept = kept[counts[kept] >= p.min_members]
        refs = refs[kept]
        log(f"[patterns] pass {it + 1}: {len(on):,} of {n:,} seqlets assigned; "
            f"{len(refs)} patterns after merging" + (" and dissolving" if it else ""))  # fmt: skip
        if len(refs) == 0:
            return [], empty
    sim, ref, shift, strand = _pass(win, norms, refs, p)
    on = np.flatnonzero(ref >= 0)
    counts = np.bincount(ref[on], minlength=len(refs))
    order = np.argsort(-counts, kind="stable")  # pattern 0 = the largest
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    ref = np.where(ref >= 0, rank[np.maximum(ref, 0)], -1)
    sums = _sums(win, on, ref[on], shift[on], strand[on], len(refs), p.max_shift)
    patterns = []
    spans = []
    for q in range(len(refs)):
        a, b = _trimmed(sums, q, p.trim)
        spans.append((a, b))
        cover = np.maximum(sums["onehot"][q].sum(axis=0), 1)[a:b]
        pfm = (sums["onehot"][q][:, a:b] / cover).T
        pfm = pfm / np.maximum(pfm.sum(axis=1, keepdims=True), 1e-12)
        patterns.append(Pattern(cwm=(sums["attr"][q][:, a:b] / cover).T,
                                hcwm=(sums["hyp"][q][:, a:b] / cover).T, pfm=pfm,
                                members=int((ref == q).sum())))  # fmt: skip
    # each member's window on its record: the trimmed pattern columns, aligned
    table = empty.copy()
    table["pattern"] = ref
    table["similarity"] = np.where(ref >= 0, sim, np.nan)
    wide = win["hyp"].shape[2]
    ws = np.zeros(n, np.int64)
    we = np.zeros(n, np.int64)
    for i in on:
        a, b = spans[ref[i]]
        # accumulator column col <- wide column k = col - max_shift - shift (forward)
        if strand[i] == 0:
            k0, k1 = a - c0 - shift[i], b - c0 - shift[i]
            ws[i], we[i] = win["start"][i] + k0, win["start"][i] + k1
        else:  # reversed: wide column wide - 1 - k
            k0, k1 = a - c0 - shift[i], b - c0 - shift[i]
            ws[i], we[i] = win["start"][i] + wide - k1, win["start"][i] + wide - k0
    table["window_start"], table["window_end"] = ws, we
    table["window_strand"] = np.where(strand == 1, "-", "+")
    log(f"[patterns] {len(patterns)} patterns; {len(on):,} of {n:,} seqlets in one")
    return patterns, table


# --------------------------------------------------------------------------------------
# files
# --------------------------------------------------------------------------------------


def _match(patterns: list[Pattern], motifs: list, db: Any, hypothetical_weight: float,
           score: str, min_overlap: int) -> list[Any]:  # fmt: skip
    """Each pattern's best database match (TOMTOM), the query built as in annotate."""
    from seqlantern.tomtom import compare_many

    if not patterns or db is None:
        return [None] * len(patterns)
    queries, weights = [], []
    for pat in patterns:
        if len(pat.pfm) == 0:
            queries.append(np.full((1, 4), 0.25))
            weights.append(np.ones(1))
            continue
        sign = 1.0 if pat.cwm.sum() >= 0 else -1.0
        h = sign * pat.hcwm / max(np.abs(pat.hcwm).max(), 1e-12)
        queries.append(pat.pfm + hypothetical_weight * h)
        w = np.abs(pat.cwm).sum(axis=1)
        weights.append(np.clip(w / max(w.max(), 1e-12), 0.1, 1.0))
    res = compare_many(queries, db, weights=weights, score=score, min_overlap=min_overlap)
    return [res.hit(i) for i in range(len(patterns))]


def write_patterns(
    elements_tsv: str | Path,
    onehot_npy: str | Path,
    attr_npy: str | Path,
    hypothetical_npy: list[str | Path],
    predictions_tsv: str | Path,
    motif_db: str | Path,
    out_meme: str | Path,
    out_patterns: str | Path,
    out_members: str | Path,
    out_matrices: str | Path,
    *,
    families: str | Path | None = None,
    params: PatternParams | None = None,
    motif_qvalue: float = DEFAULTS.annotate.motif_qvalue,
    hypothetical_weight: float = DEFAULTS.annotate.hypothetical_weight,
    motif_score: str = DEFAULTS.annotate.motif_score,
    min_overlap: int = DEFAULTS.annotate.min_overlap,
) -> pd.DataFrame:
    """Discover patterns in an elements table and write the three documented files.

    ``patterns.meme`` (each pattern's PWM, MEME format, named ``pattern_<k>`` with its
    label and best match in the name line), ``patterns.tsv`` (:data:`PATTERN_COLUMNS`),
    ``pattern_members.tsv`` (:data:`MEMBER_COLUMNS`: every element with its pattern,
    ``NA`` when it joined none; ``window_*``: the trimmed pattern's columns on the
    record, in the pattern's orientation) and ``pattern_matrices.tsv`` (``pattern kind
    position A C G T`` with kind ``cwm``, ``hcwm`` or ``pfm``: the logos). Returns the
    patterns table.
    """
    from seqlantern.archetypes import read_clusters
    from seqlantern.io import atomic_outputs, load_npy, read_tsv
    from seqlantern.motifs import Motif, read_families, read_motifs, write_meme
    from seqlantern.shards import StackedRows
    from seqlantern.tomtom import MotifIndex

    p = params or PatternParams()
    cols = ["seqlet_id", "name", "row", "start", "end", "strand", "sign", "label",
            "artifact_name"]  # fmt: skip
    el = read_tsv(elements_tsv, what="elements", ints=("row", "start", "end"))
    missing = [c for c in cols if c not in el.columns]
    if missing:
        raise SeqlanternError(f"{elements_tsv}: no column(s) {missing}: give the elements "
                              "table of annotate or shortcuts")  # fmt: skip
    el = el[cols].reset_index(drop=True)
    x = load_npy(onehot_npy, what="one-hot")
    attr = load_npy(attr_npy, what="attribution")
    hyp = StackedRows.load(hypothetical_npy, what="hypothetical contributions")
    if tuple(hyp.shape) != tuple(attr.shape):
        raise SeqlanternError(
            f"{', '.join(map(str, hypothetical_npy))}: hypothetical contributions of shape "
            f"{tuple(hyp.shape)} but {attr_npy} is {tuple(attr.shape)}; give the "
            "hypothetical shards of the same attribute run, in shard order")  # fmt: skip
    preds = read_tsv(predictions_tsv, what="predictions", ints=("row",))
    if len(preds) != attr.shape[0]:
        raise SeqlanternError(
            f"{predictions_tsv}: {len(preds)} rows but {attr_npy} has "
            f"{attr.shape[0]}; give the predictions of the same run"
        )
    attr_row = {int(r): i for i, r in enumerate(preds["row"])}
    unknown = ~el["row"].isin(attr_row)
    if unknown.any():
        raise SeqlanternError(
            f"{elements_tsv}: element {el.loc[unknown.idxmax(), 'seqlet_id']} "
            "is in a sequence that was not attributed (predictions)"
        )
    motifs = read_motifs(motif_db)
    fams = read_families(families, motifs) if families else {}
    clusters = read_clusters(families) if families else {}
    if len(el) == 0:
        print("[patterns] no elements (no seqlet passed the calls): no patterns; empty "
              "tables written")  # fmt: skip
    patterns, table = discover(el, x, attr, hyp, attr_row, params=p)
    db = MotifIndex.build(motifs) if motifs and patterns else None
    hits = _match(patterns, motifs, db, hypothetical_weight, motif_score, min_overlap)
    rows = []
    member_label = el["label"].astype(str).to_numpy()
    for k, (pat, hit) in enumerate(zip(patterns, hits, strict=True)):
        sel = table["pattern"].to_numpy() == k
        sub = el[sel]
        labs = pd.Series(member_label[sel]).value_counts(normalize=True)
        art = sub.loc[sub["label"] == "artifact", "artifact_name"].astype(str)
        art_share = float((sub["label"] == "artifact").mean()) if len(sub) else 0.0
        m = motifs[hit.index] if hit is not None else None
        if art_share >= 0.5:
            label = "artifact"
        elif hit is not None and hit.qvalue <= motif_qvalue:
            label = "motif"
        else:
            label = "unexplained"
        centres = 0.5 * (table.loc[sel, "window_start"] + table.loc[sel, "window_end"])
        rows.append({
            "pattern": f"pattern_{k + 1}", "label": label, "members": pat.members,
            "positive": int((sub["sign"] == "+").sum()),
            "negative": int((sub["sign"] == "-").sum()), "sequences": int(sub["row"].nunique()),
            "width": len(pat.pfm), "consensus": "".join("ACGT"[i] for i in pat.pfm.argmax(1))
            if len(pat.pfm) else "",
            "mean_similarity": float(table.loc[sel, "similarity"].mean()),
            "match_id": m.id if m else "NA", "match_name": m.name if m else "NA",
            "match_family": "/".join(sorted(fams.get(m.id, ()))) if m and fams else "NA",
            "match_cluster": clusters.get(m.id, "NA") if m else "NA",
            "match_pvalue": hit.pvalue if hit else np.nan,
            "match_qvalue": hit.qvalue if hit else np.nan,
            "match_strand": hit.strand if hit else "NA",
            "artifact_name": art.value_counts().index[0] if len(art) else "NA",
            "artifact_share": art_share,
            "label_shares": ";".join(f"{k2}:{v:.2f}" for k2, v in labs.items()),
            "position_mean": float(centres.mean()), "position_sd": float(centres.std(ddof=0)),
        })  # fmt: skip
    ptab = pd.DataFrame(rows, columns=PATTERN_COLUMNS)
    members = el.drop(columns=["artifact_name"])  # the elements table is not used again
    del el
    members["pattern"] = [f"pattern_{k + 1}" if k >= 0 else "NA" for k in table["pattern"]]
    members["similarity"] = table["similarity"].to_numpy()
    members["window_start"] = np.where(table["pattern"] >= 0, table["window_start"], -1)
    members["window_end"] = np.where(table["pattern"] >= 0, table["window_end"], -1)
    members["window_strand"] = np.where(table["pattern"] >= 0, table["window_strand"], "NA")
    meme = [
        Motif(f"pattern_{k + 1}", f"{r['label']}:{r['match_name']}", pat.pfm)
        for k, (pat, r) in enumerate(zip(patterns, rows, strict=True))
        if len(pat.pfm)
    ]
    nsites = [pat.members for pat in patterns if len(pat.pfm)]
    mats = [
        pd.DataFrame(
            {
                "pattern": f"pattern_{k + 1}",
                "kind": kind,
                "position": np.arange(len(m)),
                "A": m[:, 0],
                "C": m[:, 1],
                "G": m[:, 2],
                "T": m[:, 3],
            }
        )
        for k, pat in enumerate(patterns)
        for kind, m in (("cwm", pat.cwm), ("hcwm", pat.hcwm), ("pfm", pat.pfm))
    ]
    matrices = (pd.concat(mats, ignore_index=True) if mats else
                pd.DataFrame(columns=["pattern", "kind", "position", *"ACGT"]))  # fmt: skip
    outs = (out_meme, out_patterns, out_members, out_matrices)
    with atomic_outputs(*outs) as (t_meme, t_pat, t_mem, t_mat):
        write_meme(meme, t_meme, nsites=nsites)
        matrices.to_csv(t_mat, sep="\t", index=False, float_format="%.6g")
        ptab.to_csv(t_pat, sep="\t", index=False, na_rep="NA", float_format="%.6g")
        members[MEMBER_COLUMNS].to_csv(t_mem, sep="\t", index=False, na_rep="NA",
                                       float_format="%.6g")  # fmt: skip
    return ptab
