"""Artifact sources found in the data itself: constant sequence, position bias, low complexity.

A library of known adapters cannot know a particular experiment's cloning flanks,
barcodes or primers. Those show up as sequence that (nearly) every input shares *at the
same position*, so they are found without a list: per position, the share of sequences
carrying the majority base. Because inputs of unequal length are centre-padded by
``encode``, positions are counted twice, from each record's start and from its end, so
a constant 5' flank and a constant 3' flank are both found however long the variable
insert between them is.

Position bias is the second data-driven source: seqlets that pile up at a fixed offset
(e.g. the last 20 bp, where a read-through adapter or a cloning junction sits) more than
uniform placement allows. Low complexity (homopolymers, short tandem repeats) is scored
DUST-style.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import binom

from seqlantern.io import RowSource, SeqlanternError, atomic_outputs, read_tsv

CONSTANT_COLUMNS = ["name", "anchor", "start", "end", "share", "coverage", "sequence"]


@dataclass(frozen=True)
class ConstantRegion:
    """A run of positions where most inputs carry the same base.

    ``start``/``end`` (0-based, half-open) count from the record's first base
    (``anchor="start"``) or back from its last base (``anchor="end"``: ``start=0`` is the
    last base, so the region is record[len - end : len - start]).
    """

    name: str
    anchor: str
    start: int
    end: int
    share: float
    coverage: float
    sequence: str

    def record_span(self, length: int) -> tuple[int, int]:
        """The region in the coordinates of a record of ``length`` bp."""
        if self.anchor == "start":
            return self.start, self.end
        return length - self.end, length - self.start


def _position_counts(
    onehot: RowSource, index: pd.DataFrame, chunk: int
) -> tuple[np.ndarray, np.ndarray]:
    """Base counts per record position, from the start and from the end: 2 x (4, maxlen)."""
    lengths = index["source_length"].to_numpy(dtype=np.int64)
    starts = index["start"].to_numpy(dtype=np.int64)
    maxlen = int(lengths.max())
    width = onehot.shape[2]
    counts = np.zeros((2, 4, maxlen))
    for c0 in range(0, onehot.shape[0], chunk):
        x = np.asarray(onehot[c0 : c0 + chunk], dtype=np.float64)
        st, ln = starts[c0 : c0 + chunk], lengths[c0 : c0 + chunk]
        keys = pd.DataFrame({"s": st, "n": ln}).groupby(["s", "n"]).indices
        for (s, n), rows in keys.items():
            summed = x[rows].sum(axis=0)  # (4, width)
            rec = np.arange(width) + s  # record position of each column
            ok = (rec >= 0) & (rec < n)
            counts[0][:, rec[ok]] += summed[:, ok]
            counts[1][:, n - 1 - rec[ok]] += summed[:, ok]
    return counts[0], counts[1]


def find_constant(
    onehot: RowSource,
    index: pd.DataFrame,
    *,
    min_share: float = 0.9,
    min_length: int = 8,
    min_coverage: float = 0.5,
    chunk: int = 4096,
) -> list[ConstantRegion]:
    """Runs of >= ``min_length`` positions where >= ``min_share`` of the inputs that reach
    the position (at least ``min_coverage`` of all inputs) carry the same base.

    Genomic inputs (``coords=genome``) share no positions by construction: none is
    reported for them. Streams ``onehot`` in chunks (memory independent of N).
    """
    if len(index) == 0 or (index["coords"] == "genome").all():
        return []
    if len(index) != onehot.shape[0]:
        raise SeqlanternError(
            f"index has {len(index)} rows but the one-hot array {onehot.shape[0]}; "
            "use the two outputs of one encode run"
        )
    n = len(index)
    equal = index["source_length"].nunique() == 1
    out: list[ConstantRegion] = []
    for anchor, counts in zip(("start", "end"), _position_counts(onehot, index, chunk),
                              strict=True):  # fmt: skip
        if anchor == "end" and equal:
            break  # with equal lengths both anchors see the same positions
        total = counts.sum(axis=0)
        share = np.divide(counts.max(axis=0), total, out=np.zeros_like(total), where=total > 0)
        coverage = total / n
        const = (share >= min_share) & (coverage >= min_coverage)
        edges = np.flatnonzero(np.diff(np.r_[0, const.astype(int), 0]))
        for a, b in zip(edges[::2], edges[1::2], strict=True):
            if b - a < min_length:
                continue
            seq = "".join("ACGT"[i] for i in counts[:, a:b].argmax(axis=0))
            if anchor == "end":
                seq = seq[::-1]  # counted backwards from the record's end
            out.append(ConstantRegion(f"constant_{anchor}_{a}_{b}", anchor, int(a), int(b),
                                      float(share[a:b].min()), float(coverage[a:b].min()),
                                      seq))  # fmt: skip
    return out


def write_constant(regions: list[ConstantRegion], tsv: str | Path, fasta: str | Path) -> None:
    """Write the regions as a table and as an artifact FASTA (``kind=constant``)."""
    df = pd.DataFrame([r.__dict__ for r in regions], columns=CONSTANT_COLUMNS)
    with atomic_outputs(tsv, fasta) as (t, f):
        df.to_csv(t, sep="\t", index=False, float_format="%.4g")
        with open(f, "w") as fh:
            for r in regions:
                fh.write(f">{r.name} source=detected(anchor={r.anchor},positions={r.start}-"
                         f"{r.end},share={r.share:.3f}) kind=constant\n{r.sequence}\n")  # fmt: skip


def read_constant(path: str | Path) -> list[ConstantRegion]:
    """Read a table written by :func:`write_constant`."""
    df = read_tsv(path, what="constant regions", ints=("start", "end"),
                  floats=("share", "coverage"))  # fmt: skip
    missing = set(CONSTANT_COLUMNS) - set(df.columns)
    if missing:
        raise SeqlanternError(f"{path}: constant-region table lacks columns {sorted(missing)}")
    return [ConstantRegion(str(r.name), str(r.anchor), int(r.start), int(r.end),
                           float(r.share), float(r.coverage), str(r.sequence))
            for r in df.itertuples(index=False)]  # fmt: skip


def dust_score(seq: str) -> float:
    """DUST low-complexity score of a sequence (Morgulis et al. 2006).

    Sum over the distinct triplets of c (c - 1) / 2, divided by (number of triplets - 1):
    0.1-0.3 for random sequence, ~4 for a dinucleotide repeat, ~(L - 3) / 2 for a
    homopolymer of length L. Triplets containing N are skipped.
    """
    s = seq.upper()
    trip = [s[i : i + 3] for i in range(len(s) - 2) if "N" not in s[i : i + 3]]
    if len(trip) < 2:
        return 0.0
    _, c = np.unique(trip, return_counts=True)
    return float((c * (c - 1) / 2).sum() / (len(trip) - 1))


@dataclass(frozen=True)
class Hotspot:
    """A window of record positions where seqlet centres pile up."""

    anchor: str
    start: int
    end: int
    observed: int
    expected: float
    pvalue: float


def position_hotspots(
    centres: np.ndarray,
    lengths: np.ndarray,
    *,
    bin_size: int = 10,
    min_fold: float = 3.0,
    alpha: float = 0.01,
) -> list[Hotspot]:
    """Bins of record positions holding more seqlet centres than uniform placement allows.

    Each seqlet's centre is binned from the record start and from its end; under the
    null a centre is equally likely at every position of its record, so the expected
    count of a bin is the sum over seqlets of (bin positions inside the record) / length.
    A bin is a hotspot when its count is >= ``min_fold`` x expected and the binomial
    upper tail is <= ``alpha`` / number of bins (Bonferroni).
    """
    if len(centres) == 0:
        return []
    centres = np.asarray(centres, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    maxlen = int(lengths.max())
    nb = -(-maxlen // bin_size)
    out = []
    anchors = ("start",) if np.all(lengths == lengths[0]) else ("start", "end")
    for anchor in anchors:
        pos = centres if anchor == "start" else lengths - 1 - centres
        obs = np.bincount(pos // bin_size, minlength=nb)
        # expected: each seqlet spreads 1 uniformly over its own record's positions
        cover = np.zeros(maxlen + 1)
        np.add.at(cover, lengths, 1.0 / lengths)
        dens = np.cumsum(cover[::-1])[::-1][1 : maxlen + 1]  # sum of 1/len over len > x
        exp = np.add.reduceat(dens, np.arange(0, maxlen, bin_size))
        p_site = exp / len(centres)
        pv = binom.sf(obs - 1, len(centres), np.clip(p_site, 1e-12, 1))
        for b in np.flatnonzero((obs >= min_fold * exp) & (pv <= alpha / (nb * len(anchors)))):
            out.append(Hotspot(anchor, int(b * bin_size), min(int(b + 1) * bin_size, maxlen),
                               int(obs[b]), float(exp[b]), float(pv[b])))  # fmt: skip
    if len(anchors) == 1:
        return out

    # With unequal lengths a pile-up at a fixed distance from the end also crowds the
    # far start-anchored bins (few records reach them, so little is expected there), and
    # vice versa: a hotspot whose seqlets mostly lie in a more significant hotspot of
    # the other anchor is that one seen from the wrong end, and is dropped.
    def members(h: Hotspot) -> np.ndarray:
        pos = centres if h.anchor == "start" else lengths - 1 - centres
        return (pos >= h.start) & (pos < h.end)

    keep = []
    for h in out:
        mine = members(h)
        other = [o for o in out if o.anchor != h.anchor and o.pvalue < h.pvalue]
        covered = np.zeros_like(mine)
        for o in other:
            covered |= members(o)
        if not other or (mine & covered).sum() < 0.5 * mine.sum():
            keep.append(h)
    return keep
