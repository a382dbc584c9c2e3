"""TOMTOM motif comparison with exact p-values (Gupta et al. 2007).

A query matrix is compared with every motif of a database, on both strands and at every
offset that overlaps by at least ``min_overlap`` columns. The steps follow TOMTOM:

1. **Column scores.** Query column *i* is scored against every column *c* of the
   database (all motifs, both strands): Pearson correlation of the two 4-vectors (the
   default) or minus their Euclidean distance. Optional per-column query weights (a
   seqlet's attribution magnitude) multiply column *i*'s scores, so flanks count less
   than the core; the null below is weighted identically, so weights never break
   calibration.
2. **Discretisation.** With z the smallest and Z the largest score of the
   query (all columns), scores are mapped onto integers
   ``floor((s - floor(z)) * scale + 0.5)`` in [0, ``n_bins``] with
   ``scale = floor(n_bins / max(Z - floor(z), 1))`` bins per unit, so that sums have an
   exact, finite distribution (TOMTOM's *t* = ``n_bins`` = 100). An integer number of
   bins per unit from ``floor(z)`` is the rule of memelite's TOMTOM (which first takes
   each column's scores relative to their median; here the median is the bin found
   below, which saves a pass over the database per query column).
3. **Null per column.** The null distribution of query column *i*'s score is its
   histogram over *all* database columns: a random target column is a draw from the
   database's own columns, which is why p-values reflect what the database contains
   (a GC-rich query is less surprising against a GC-rich database).
4. **Complete score.** An alignment's score sums the aligned columns' scores plus, for
   each query column hanging over the target's end, that column's *median* score (the
   bin of its ceil(C/2)-th smallest score over the C database columns). Every
   alignment is then scored on all query columns, so offsets with small overlaps are
   not favoured or penalised for their size (TOMTOM's default "complete scores").
5. **Exact p-values.** The distribution of the sum of the aligned columns is built by
   dynamic programming (repeated convolution of the integer histograms) for every span
   of query columns an alignment can cover. The p-value of a target is that of the
   *best* complete score over all its offsets and both strands:
   ``1 - prod_o P(score_o < s*)``, the offsets treated as independent (TOMTOM's
   treatment), so the search over offsets and strands is paid for exactly, not with a
   Bonferroni bound. The reported score of each target is its best complete score in
   score units: from the bins (their centres) for every target, from the unbinned
   scores for the targets tied at the query's smallest p-value (so ties between equal
   p-values are broken by the finer score).
6. E-value = p x number of database motifs; q-values are Benjamini-Hochberg over the
   database for each query.

The kernels are compiled with numba (the first call compiles them once and caches the
machine code next to this module); queries are spread over threads. Per query the cost
is, for each query column, a few passes over the database's columns (scores in float32,
their range from an integer min/max over order-preserving bit patterns, integer scores
in uint8 and their histograms, four query columns per sweep); the best offset of every target
as sums of contiguous runs (the database's columns are stored grouped by target width,
column j of every target of a width side by side, so one offset of all targets of a
width is one vectorised sum); the span distributions (about m^3/6 convolutions of
histograms of ~70 bins, eight bins per pass, skipping sums too low to reach any needed
score) and one vectorised pass per target width and offset for the p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numba
import numpy as np
from numba import njit, prange

from seqlantern.motifs import Motif, revcomp_pwm

SCORES = {"pearson": 0, "euclidean": 1}
"""Column similarity functions, by name (the value is the kernel's code)."""


def _standardise(cols: np.ndarray) -> np.ndarray:
    """Centre and scale each 4-vector so that a dot product / 4 is Pearson's r.

    A flat column (all four values equal) has no defined correlation; it becomes all
    zeros and so scores 0 against everything.
    """
    c = cols - cols.mean(axis=-1, keepdims=True)
    sd = np.sqrt((c**2).mean(axis=-1, keepdims=True))
    return np.divide(c, sd, out=np.zeros_like(c), where=sd > 1e-9)


def _as_probabilities(cols: np.ndarray) -> np.ndarray:
    """Clip negatives and normalise each column to sum to 1 (flat when all zero)."""
    c = np.clip(cols, 0.0, None)
    s = c.sum(axis=-1, keepdims=True)
    return np.divide(c, s, out=np.full_like(c, 0.25), where=s > 1e-12)


@dataclass
class MotifIndex:
    """A motif database packed for comparison.

    All columns of all motifs, forward strands then reverse complements, are stacked in
    one array; motif *k*'s forward strand starts at ``starts[k]`` and its reverse
    complement at ``starts[K + k]``.

    The comparison kernel reads the columns in another order, made once here: targets
    (both strands) are grouped by width, and within the group of width n column j of
    every target comes before column j + 1 of any (``kernel_order``). The scores of one
    query column against column j of all targets of a width are then one contiguous
    run, so an offset's score of every target of that width is a sum of contiguous runs
    (vectorised), with no per-target loop.
    """

    motifs: list[Motif]
    prob: np.ndarray  # (C, 4) probability columns
    std: np.ndarray  # (C, 4) standardised columns (Pearson)
    starts: np.ndarray  # (2K,) int64
    widths: np.ndarray  # (2K,) int64
    kernel_order: np.ndarray = field(init=False, repr=False)  # (C,) column order
    group_start: np.ndarray = field(init=False, repr=False)  # (W + 2,) into group_targets
    group_targets: np.ndarray = field(init=False, repr=False)  # (2K,) targets by width
    group_base: np.ndarray = field(init=False, repr=False)  # (W + 1,) first kernel column
    kernel_start: np.ndarray = field(init=False, repr=False)  # (2K,) target's column 0

    def __post_init__(self) -> None:
        w = self.widths
        maxw = int(w.max()) if len(w) else 0
        targets = np.argsort(w, kind="stable")  # by width, then index (forward first)
        counts = np.bincount(w, minlength=maxw + 1)
        self.group_start = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.group_targets = targets.astype(np.int64)
        self.group_base = np.concatenate([[0], np.cumsum(counts * np.arange(maxw + 1))])[
            : maxw + 1
        ].astype(np.int64)
        order = np.empty(int(w.sum()), dtype=np.int64)
        kstart = np.empty(len(w), dtype=np.int64)
        for n in range(1, maxw + 1):
            grp = targets[self.group_start[n] : self.group_start[n + 1]]
            if len(grp) == 0:
                continue
            base = self.group_base[n]
            kstart[grp] = base + np.arange(len(grp))
            # kernel column base + j * len(grp) + r is column j of the group's r-th target
            order[base : base + n * len(grp)] = (
                self.starts[grp][None, :] + np.arange(n)[:, None]
            ).ravel()
        self.kernel_order = order
        self.kernel_start = kstart

    @classmethod
    def build(cls, motifs: list[Motif]) -> MotifIndex:
        """Pack ``motifs`` (forward strands first, then reverse complements)."""
        mats = [m.pwm for m in motifs] + [revcomp_pwm(m.pwm) for m in motifs]
        prob = _as_probabilities(np.concatenate(mats).astype(np.float64))
        widths = np.array([m.shape[0] for m in mats], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(widths)[:-1]]).astype(np.int64)
        return cls(motifs, prob, _standardise(prob), starts, widths)


@dataclass(frozen=True)
class MotifHit:
    """Best database match of one query."""

    index: int
    pvalue: float
    evalue: float
    qvalue: float
    offset: int  # query column 0 aligns to motif column ``offset`` (may be negative)
    strand: str
    overlap: int = 0


@dataclass(frozen=True)
class Comparison:
    """All query x motif results of :func:`compare_many` (arrays of shape (Q, K))."""

    pvalues: np.ndarray
    qvalues: np.ndarray
    scores: np.ndarray  # complete score (unbinned) of the best alignment
    offsets: np.ndarray
    strands: np.ndarray  # 0 = forward, 1 = reverse complement
    overlaps: np.ndarray

    def hit(self, i: int) -> MotifHit:
        """The best match of query ``i`` (smallest p-value; ties: higher score)."""
        p = self.pvalues[i]
        k = int(np.lexsort((-self.scores[i], p))[0])
        kk = p.shape[0]
        return MotifHit(k, float(p[k]), float(p[k] * kk), float(self.qvalues[i, k]),
                        int(self.offsets[i, k]), "-" if self.strands[i, k] else "+",
                        int(self.overlaps[i, k]))  # fmt: skip


@njit(cache=True, fastmath=True)
def _column_scores(qi, wi, kind, db, row):
    """Weighted score of one query column against every database column (float32).

    ``db`` is (4, C) so that the loop over database columns is contiguous (SIMD).
    Single precision halves the memory traffic of this and every later pass over the
    row; scores are then binned at ~1/50 of a unit, far above its 1e-7.
    """
    c = db.shape[1]
    d0 = db[0]
    d1 = db[1]
    d2 = db[2]
    d3 = db[3]
    if kind == 0:
        k4 = np.float32(0.25 * wi)
        q0, q1, q2, q3 = k4 * qi[0], k4 * qi[1], k4 * qi[2], k4 * qi[3]
        for j in range(c):
            row[j] = q0 * d0[j] + q1 * d1[j] + q2 * d2[j] + q3 * d3[j]
    else:
        nw = np.float32(-wi)
        q0, q1, q2, q3 = qi[0], qi[1], qi[2], qi[3]
        for j in range(c):
            e0 = q0 - d0[j]
            e1 = q1 - d1[j]
            e2 = q2 - d2[j]
            e3 = q3 - d3[j]
            row[j] = nw * np.sqrt(e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3)


@njit(cache=True)
def _float_key(b):
    """float32 bits -> int32 with the same order (its own inverse)."""
    return b ^ ((b >> 31) & np.int32(0x7FFFFFFF))


@njit(cache=True)
def _min_max(row):
    """Smallest and largest value of a float32 ``row``, exactly.

    An integer min/max over the bit patterns mapped to order-preserving integers:
    integer reductions vectorise, floating-point ones (with their NaN rules) do not.
    """
    bits = row.view(np.int32)
    k_lo = np.int32(0x7FFFFFFF)
    k_hi = np.int32(-0x80000000)
    for j in range(bits.shape[0]):  # vectorised
        kj = _float_key(bits[j])
        k_lo = min(k_lo, kj)
        k_hi = max(k_hi, kj)
    ends = np.empty(2, dtype=np.int32)
    ends[0] = _float_key(k_lo)
    ends[1] = _float_key(k_hi)
    fe = ends.view(np.float32)
    return float(fe[0]), float(fe[1])


@njit(cache=True)
def _bin_rows(sbuf, i_min, scale, n_bins, g, f, med):
    """Integer scores ``floor((s - i_min) * scale + 0.5)`` of every row (``g``), their
    histograms ``f`` (fractions of the database's columns) and each row's median bin
    ``med`` (the bin of its ceil(C/2)-th smallest score)."""
    m, c = sbuf.shape
    for i in range(m):
        row = sbuf[i]
        gi = g[i]
        # in the row's precision (float32): 16 lanes per vector
        sc = row.dtype.type(scale)
        base = row.dtype.type(0.5 - i_min * scale)
        top = row.dtype.type(n_bins)
        zero = row.dtype.type(0.0)
        for j in range(c):  # vectorised
            gi[j] = max(min(np.floor(row[j] * sc + base), top), zero)
    cnt = np.zeros((4, n_bins + 1), dtype=np.int32)
    half = (c + 1) // 2
    for r0 in range(0, m, 4):
        r1 = min(r0 + 4, m)
        cnt[:] = 0
        if r1 - r0 == 4:  # four rows per sweep: independent counters
            g0, g1, g2, g3 = g[r0], g[r0 + 1], g[r0 + 2], g[r0 + 3]
            c0, c1, c2, c3 = cnt[0], cnt[1], cnt[2], cnt[3]
            for j in range(c):
                c0[g0[j]] += 1
                c1[g1[j]] += 1
                c2[g2[j]] += 1
                c3[g3[j]] += 1
        else:
            for i in range(r0, r1):
                gi = g[i]
                ci = cnt[i - r0]
                for j in range(c):
                    ci[gi[j]] += 1
        for i in range(r0, r1):
            acc = 0
            med[i] = -1
            for b in range(n_bins + 1):
                f[i, b] = cnt[i - r0, b] / c
                acc += cnt[i - r0, b]
                if med[i] < 0 and acc >= half:
                    med[i] = b


@njit(cache=True)
def _survival(pmf, out):
    """out[k] = sum(pmf[k:]), summed from the top (small tails keep their precision).

    The array is cut into four quarters whose running sums are taken side by side (four
    independent chains of additions instead of one), each then shifted by the total of
    the quarters above it.
    """
    n = pmf.shape[0]
    q = (n + 3) // 4
    if q < 8:
        run = 0.0
        for b in range(n - 1, -1, -1):
            run += pmf[b]
            out[b] = run
        return
    a1, a2, a3 = q, 2 * q, 3 * q
    r0 = r1 = r2 = r3 = 0.0
    for b in range(n - 1, a3 - 1, -1):  # the top quarter (may be shorter)
        r3 += pmf[b]
        out[b] = r3
    for r in range(q - 1, -1, -1):
        r0 += pmf[r]
        r1 += pmf[a1 + r]
        r2 += pmf[a2 + r]
        out[r] = r0
        out[a1 + r] = r1
        out[a2 + r] = r2
    t3 = r3
    t2 = t3 + r2
    t1 = t2 + r1
    for r in range(q):
        out[a2 + r] += t3
        out[a1 + r] += t2
        out[r] += t1


_PAD = 8
"""Zero slots kept on each side of a span distribution in its buffer (bin k at k + 8)."""


@njit(cache=True)
def _convolve(src, a_lo, a_hi, f, b_lo, b_hi, out):
    """out[k] = sum_y src[k - y] f[y] for k in [a_lo + b_lo, a_hi + b_hi].

    ``src`` and ``out`` hold bin k at index k + _PAD; ``src`` is read on [a_lo, a_hi]
    only (the 7 slots on either side are set to zero, so every pass runs over whole
    vectors with no end cases). Eight kernel bins per pass: out[y + e] += sum_r
    f[y + r] a[e - r] for r = 0..7 in one contiguous (vectorised) loop over e, so each
    output element is loaded and stored once per eight products.
    """
    na = a_hi - a_lo + 1
    nb = b_hi - b_lo + 1
    base = a_lo + _PAD
    for r in range(1, 8):
        src[base - r] = 0.0
        src[base + na - 1 + r] = 0.0
    a = src[base - 7 : base + na + 7]  # a[7 + t] is bin a_lo + t
    seg = out[_PAD + a_lo + b_lo : _PAD + a_hi + b_hi + 1]
    fv = f[b_lo : b_hi + 1]
    seg[:] = 0.0
    y = 0
    while y + 8 <= nb:
        c0, c1, c2, c3 = fv[y], fv[y + 1], fv[y + 2], fv[y + 3]
        c4, c5, c6, c7 = fv[y + 4], fv[y + 5], fv[y + 6], fv[y + 7]
        n = na + 7
        dst = seg[y : y + n]
        v0 = a[7 : 7 + n]
        v1 = a[6 : 6 + n]
        v2 = a[5 : 5 + n]
        v3 = a[4 : 4 + n]
        v4 = a[3 : 3 + n]
        v5 = a[2 : 2 + n]
        v6 = a[1 : 1 + n]
        v7 = a[0:n]
        for t in range(n):
            dst[t] += (c0 * v0[t] + c1 * v1[t] + c2 * v2[t] + c3 * v3[t]) + (
                c4 * v4[t] + c5 * v5[t] + c6 * v6[t] + c7 * v7[t]
            )
        y += 8
    while y + 4 <= nb:
        c0, c1, c2, c3 = fv[y], fv[y + 1], fv[y + 2], fv[y + 3]
        n = na + 3
        dst = seg[y : y + n]
        v0 = a[7 : 7 + n]
        v1 = a[6 : 6 + n]
        v2 = a[5 : 5 + n]
        v3 = a[4 : 4 + n]
        for t in range(n):
            dst[t] += c0 * v0[t] + c1 * v1[t] + c2 * v2[t] + c3 * v3[t]
        y += 4
    while y < nb:
        c = fv[y]
        dst = seg[y : y + na]
        v0 = a[7 : 7 + na]
        for t in range(na):
            dst[t] += c * v0[t]
        y += 1


@njit(cache=True)
def _one_query(q, w, kind, db, widths, kstart, g_start, g_targets, g_base, n_bins,
               min_overlap, sbuf, g, acc, bs_buf, bd_buf, sf_buf, pmf_buf, by_width, w_start,
               p_out, s_out, o_out, st_out, ov_out):  # fmt: skip
    m = q.shape[0]
    kk = widths.shape[0] // 2
    # each row (query column) is scored and its range found while it is in cache
    rlo = np.empty(m)
    rhi = np.empty(m)
    flat = True
    for i in range(m):
        row = sbuf[i]
        _column_scores(q[i], w[i], kind, db, row)
        rlo[i], rhi[i] = _min_max(row)
        if rhi[i] > rlo[i]:
            flat = False
    if flat:  # every column scores the same against everything: nothing to find
        for k in range(kk):
            p_out[k] = 1.0
            s_out[k] = 0.0
            o_out[k] = 0
            st_out[k] = 0
            ov_out[k] = 0
        return
    # TOMTOM's discretisation: an integer number of bins per unit from floor(smallest
    # score) up, n_bins + 1 bins in all
    z_lo = np.inf
    z_hi = -np.inf
    for i in range(m):
        z_lo = min(z_lo, rlo[i])
        z_hi = max(z_hi, rhi[i])
    i_min = np.floor(z_lo)
    scale = max(np.floor(n_bins / max(z_hi - i_min, 1.0)), 1.0)
    # integer scores, their histograms, median bins
    f = np.empty((m, n_bins + 1))
    med_b = np.empty(m, dtype=np.int64)
    _bin_rows(sbuf, i_min, scale, n_bins, g, f, med_b)
    # an overhanging column scores its median bin (in score units: the bin's value)
    mcum = np.zeros(m + 1, dtype=np.int64)
    med = np.empty(m)
    for i in range(m):
        mcum[i + 1] = mcum[i] + med_b[i]
        med[i] = i_min + med_b[i] / scale
    f_lo = np.empty(m, dtype=np.int64)
    f_hi = np.empty(m, dtype=np.int64)
    for i in range(m):
        f_lo[i] = -1
        for b in range(n_bins + 1):
            if f[i, b] > 0:
                if f_lo[i] < 0:
                    f_lo[i] = b
                f_hi[i] = b
    # Best complete score of every target over offsets and both strands, a width at a
    # time. In the kernel's column order (MotifIndex) column j of the kn targets of
    # width n is the run g[i, base + j kn : base + (j + 1) kn], so the sum of aligned
    # columns at offset o (query column i on target column o + i) is a sum of runs
    # over the query columns that overlap, for all kn targets at once (vectorised).
    # Overhanging columns add their medians; offsets below the minimum overlap are
    # skipped. The best offset is the first that reaches the maximum.
    maxw = w_start.shape[0] - 2
    best_s = np.full(kk, -1, dtype=np.int64)
    best_d = np.zeros(kk, dtype=np.int64)
    for n in range(1, maxw + 1):
        kn = g_start[n + 1] - g_start[n]
        if kn == 0:
            continue
        base = g_base[n]
        need = min(min_overlap, m, n)
        bsn = bs_buf[:kn]
        bdn = bd_buf[:kn]
        bsn[:] = -1
        bdn[:] = -1
        a = acc[:kn]
        for d in range(n + m - 1):
            o = d - (m - 1)
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo < need:
                continue
            sh = mcum[m] - (mcum[hi] - mcum[lo])
            c0 = base + (o + lo) * kn
            src = g[lo, c0 : c0 + kn]
            for r in range(kn):  # vectorised
                a[r] = src[r]
            for i in range(lo + 1, hi):
                c0 += kn
                src = g[i, c0 : c0 + kn]
                for r in range(kn):  # vectorised
                    a[r] += src[r]
            for r in range(kn):  # vectorised (selects)
                v = a[r] + sh
                if v > bsn[r]:
                    bsn[r] = v
                    bdn[r] = d
        # to motifs: the group lists forward strands first, so the reverse complement
        # replaces the forward strand only when strictly better
        for r in range(kn):
            if bdn[r] < 0:
                continue
            t = g_targets[g_start[n] + r]
            k = t if t < kk else t - kk
            if bsn[r] > best_s[k]:
                best_s[k] = bsn[r]
                best_d[k] = bdn[r]
                st_out[k] = 0 if t < kk else 1
    for k in range(kk):
        if best_s[k] >= 0:
            o = best_d[k] - (m - 1)
            n = widths[k]
            o_out[k] = o
            ov_out[k] = min(m, n - o) - max(0, -o)
    # Which scores' p-values are needed. Per target width n: every offset's score is at
    # least its span's smallest sum plus its medians, so a best score at or below the
    # largest of these ("sure") has p = 1; the others lie in [s_need[n], s_top[n]].
    # A span [lo, hi) is then needed only from t_need[lo, hi] = the smallest
    # s_need[n] - (medians of its offset) over the widths and offsets that use it.
    big = np.int64(1 << 40)
    lcum = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        lcum[i + 1] = lcum[i] + f_lo[i]
    s_need = np.full(maxw + 1, big, dtype=np.int64)
    s_top = np.full(maxw + 1, -1, dtype=np.int64)
    sure_w = np.full(maxw + 1, -big, dtype=np.int64)
    t_need = np.full((m, m + 1), big, dtype=np.int64)
    for n in range(1, maxw + 1):
        if w_start[n + 1] == w_start[n]:
            continue
        need = min(min_overlap, m, n)
        sure = -big  # every score up to here is always reached
        for o in range(-(m - 1), n):
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo >= need:
                sure = max(sure, lcum[hi] - lcum[lo] + mcum[m] - (mcum[hi] - mcum[lo]))
        sure_w[n] = sure
        for u in range(w_start[n], w_start[n + 1]):
            v = best_s[by_width[u]]
            if v >= 0 and v > sure:
                s_need[n] = min(s_need[n], v)
                s_top[n] = max(s_top[n], v)
        if s_top[n] < 0:
            continue
        for o in range(-(m - 1), n):
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo >= need:
                sh = mcum[m] - (mcum[hi] - mcum[lo])
                t_need[lo, hi] = min(t_need[lo, hi], s_need[n] - sh)
    # Survival function of the summed score of every needed span [lo, hi) of query
    # columns, sf[k] = P(sum >= k), stored from k = sp_k0[lo, hi] (its needed start) up
    # to the top of its support. Spans are built from lo by convolving one column at a
    # time. Sums that cannot reach a needed value even if every later column scored its
    # best are never computed: the chain from lo needs its span [lo, h) only from
    # b_need[h] = min(t_need[lo, h], b_need[h + 1] - f_hi[h]), which cuts each
    # convolution to the part that matters (the other values are unchanged: exact).
    sp_base = np.zeros((m, m + 1), dtype=np.int64)
    sp_k0 = np.zeros((m, m + 1), dtype=np.int64)
    sp_lo = np.zeros((m, m + 1), dtype=np.int64)
    sp_hi = np.zeros((m, m + 1), dtype=np.int64)
    b_need = np.empty(m + 1, dtype=np.int64)
    pmf = pmf_buf[0]
    nxt = pmf_buf[1]
    pos = 0
    for lo in range(m):
        bh = big
        for h in range(m, lo, -1):
            if h < m and bh < big:
                bh -= f_hi[h]
            bh = min(bh, t_need[lo, h])
            b_need[h] = bh
        if b_need[lo + 1] >= big:
            continue
        a_lo = f_lo[lo]
        a_hi = f_hi[lo]
        c_lo = max(a_lo, b_need[lo + 1])  # values below c_lo are not computed
        pmf[_PAD + a_lo : _PAD + a_hi + 1] = f[lo, a_lo : a_hi + 1]
        for hi in range(lo + 1, m + 1):
            sp_lo[lo, hi] = a_lo
            sp_hi[lo, hi] = a_hi
            if t_need[lo, hi] < big:
                k0 = max(a_lo, t_need[lo, hi])
                sp_base[lo, hi] = pos
                sp_k0[lo, hi] = k0
                if k0 <= a_hi:
                    _survival(pmf[_PAD + k0 : _PAD + a_hi + 1], sf_buf[pos : pos + a_hi - k0 + 1])
                    pos += a_hi - k0 + 1
            if hi == m or b_need[hi + 1] >= big:
                break
            b_lo = f_lo[hi]
            b_hi = f_hi[hi]
            t0 = max(c_lo, b_need[hi + 1] - b_hi)
            if t0 <= a_hi:
                _convolve(pmf, t0, a_hi, f[hi], b_lo, b_hi, nxt)
            a_lo = a_lo + b_lo
            a_hi = a_hi + b_hi
            c_lo = max(a_lo, b_need[hi + 1])
            pmf, nxt = nxt, pmf
    # p-value of the best score s*: 1 - prod over offsets and strands of P(score_o < s*).
    # Targets are taken a width at a time (``by_width``, grouped by ``w_start``): the
    # p-values of every score from the width's lowest to its highest s* are built
    # together, one offset at a time, in contiguous (vectorised) passes. One strand's
    # q = 1 - prod(1 - x) is accumulated as q += x (1 - q): both terms are non-negative,
    # so small p-values keep their relative precision (no 1 - product cancellation)
    # without a logarithm per offset; both strands give p = 1 - (1 - q)^2 = q (2 - q).
    for n in range(1, maxw + 1):
        if w_start[n + 1] == w_start[n]:
            continue
        sure = sure_w[n]
        if s_top[n] < 0:
            for u in range(w_start[n], w_start[n + 1]):
                p_out[by_width[u]] = 1.0
            continue
        s_lo = s_need[n]
        s_hi = s_top[n]
        nl = s_hi - s_lo + 1
        qv = np.zeros(nl)
        need = min(min_overlap, m, n)
        for o in range(-(m - 1), n):
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo < need:
                continue
            sh = mcum[m] - (mcum[hi] - mcum[lo])
            u0 = max(s_lo, sp_lo[lo, hi] + sh + 1)
            u1 = min(s_hi, sp_hi[lo, hi] + sh)
            if u1 < u0:
                continue
            b0 = sp_base[lo, hi] - sp_k0[lo, hi] - sh
            src = sf_buf[b0 + u0 : b0 + u1 + 1]
            d0 = u0 - s_lo
            dst = qv[d0 : d0 + u1 - u0 + 1]
            for j in range(u1 - u0 + 1):  # vectorised
                dst[j] += src[j] * (1.0 - dst[j])
        for u in range(w_start[n], w_start[n + 1]):
            k = by_width[u]
            v = best_s[k]
            if v < 0 or v <= sure:
                p_out[k] = 1.0
                continue
            qj = qv[v - s_lo]
            p_out[k] = qj * (2.0 - qj)
    # The reported score is the complete score at the chosen alignment, in score units:
    # from the integer scores (bin centres) for every target and, for the targets
    # tied at the query's smallest p-value, from the unbinned scores (medians for
    # overhanging columns), which is what breaks ties between equal p-values.
    p_min = 1.0
    for k in range(kk):
        p_min = min(p_min, p_out[k])
        s_out[k] = best_s[k] / scale + m * i_min if best_s[k] >= 0 else -np.inf
    for k in range(kk):
        if best_s[k] < 0 or p_out[k] != p_min:
            continue
        t = k + kk * st_out[k]
        o = o_out[k]
        n = widths[t]
        kn = g_start[n + 1] - g_start[n]
        fs = 0.0
        for i in range(m):
            j = i + o
            fs += sbuf[i, kstart[t] + j * kn] if 0 <= j < n else med[i]
        s_out[k] = fs


@njit(cache=True, parallel=True)
def _batch(qs, q_start, q_len, order, ws, kind, db, widths, kstart, g_start, g_targets, g_base,
           n_bins, min_overlap, n_chunks, proto, gproto, p_out, s_out, o_out, st_out,
           ov_out):  # fmt: skip
    nq = q_start.shape[0]
    c = db.shape[1]
    k2 = widths.shape[0]
    mmax = 1
    for i in range(nq):
        if q_len[i] > mmax:
            mmax = q_len[i]
    # database motifs grouped by width: by_width[w_start[n]:w_start[n + 1]] have width n
    kk = k2 // 2
    maxw = 0
    for t in range(kk):
        maxw = max(maxw, widths[t])
    w_start = np.zeros(maxw + 2, dtype=np.int64)
    for t in range(kk):
        w_start[widths[t] + 1] += 1
    for n in range(maxw + 1):
        w_start[n + 1] += w_start[n]
    fill = w_start.copy()
    by_width = np.empty(kk, dtype=np.int64)
    for t in range(kk):
        by_width[fill[widths[t]]] = t
        fill[widths[t]] += 1
    kn_max = 1
    for n in range(g_start.shape[0] - 1):
        kn_max = max(kn_max, g_start[n + 1] - g_start[n])
    sf_size = 0  # every span of the widest query
    for ell in range(1, mmax + 1):
        sf_size += (mmax - ell + 1) * (ell * n_bins + 1)
    # queries in ``order`` (by width), round robin over the chunks (threads)
    for ch in prange(n_chunks):
        sbuf = np.empty((mmax, c), dtype=np.float32)
        # integer scores in ``gproto``'s type (uint8 when n_bins < 256) and their sums
        # over offsets in ``proto``'s (int16 when the widest query's fit, else int32):
        # narrow types, more lanes per vector and less memory to stream
        g = np.empty((mmax, c), dtype=gproto.dtype)
        acc = np.empty(kn_max, dtype=proto.dtype)
        bs_buf = np.empty(kn_max, dtype=np.int64)
        bd_buf = np.empty(kn_max, dtype=np.int64)
        sf_buf = np.empty(sf_size)  # span survival functions, reused by every query
        pmf_buf = np.zeros((2, mmax * n_bins + 1 + 2 * _PAD))  # the running span distribution
        for u in range(ch, nq, n_chunks):
            i = order[u]
            a = q_start[i]
            m = q_len[i]
            _one_query(qs[a : a + m], ws[a : a + m], kind, db, widths, kstart, g_start,
                       g_targets, g_base, n_bins, min_overlap, sbuf[:m], g[:m], acc, bs_buf,
                       bd_buf, sf_buf, pmf_buf, by_width, w_start, p_out[i], s_out[i],
                       o_out[i], st_out[i], ov_out[i])  # fmt: skip


@njit(cache=True, parallel=True)
def _bh_rows(p, q):
    """Benjamini-Hochberg q-values of every row of ``p`` into ``q``.

    p-values of 1 get q = 1 whatever their rank (p K / rank >= 1 for every rank), so
    only the others are sorted: against a whole database most targets have p = 1.
    """
    nq, kk = p.shape
    for i in prange(nq):
        row = p[i]
        idx = np.empty(kk, dtype=np.int64)
        n = 0
        for k in range(kk):
            if row[k] < 1.0:
                idx[n] = k
                n += 1
            else:
                q[i, k] = 1.0
        sub = idx[:n]
        order = np.argsort(row[sub])  # equal p-values get equal q: their order is moot
        run = 1.0
        for r in range(n - 1, -1, -1):
            k = sub[order[r]]
            run = min(run, row[k] * kk / (r + 1))
            q[i, k] = run


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis of a 2-D array."""
    q = np.empty_like(p)
    _bh_rows(np.ascontiguousarray(p), q)
    return q


def compare_many(
    queries: Sequence[np.ndarray],
    db: MotifIndex,
    *,
    weights: Sequence[np.ndarray | None] | None = None,
    score: str = "pearson",
    n_bins: int = 100,
    min_overlap: int = 5,
    n_threads: int | None = None,
) -> Comparison:
    """Compare query matrices with every database motif (TOMTOM, exact p-values).

    Parameters
    ----------
    queries
        (m, 4) matrices (m >= 1): probability matrices, one-hot sequences or
        contribution matrices. For ``score="euclidean"`` each column is clipped at 0 and
        normalised to sum to 1 first (Euclidean distance compares probabilities).
    db
        Packed database (:meth:`MotifIndex.build`).
    weights
        Per-query, per-column non-negative weights (``None``: all 1).
    score
        ``"pearson"`` (default) or ``"euclidean"``.
    n_bins
        Score bins per query (TOMTOM's *t*).
    min_overlap
        Fewest aligned columns (capped at the query and motif widths).
    n_threads
        Threads (default: numba's default, all cores).

    Returns
    -------
    p-values, q-values, best complete scores, offsets, strands and overlaps, (Q, K).
    """
    if score not in SCORES:
        raise ValueError(f"score must be one of {sorted(SCORES)}, not {score!r}")
    prepared = []
    wl = []
    for i, qm in enumerate(queries):
        qm = np.asarray(qm, dtype=np.float64)
        if qm.ndim != 2 or qm.shape[1] != 4 or qm.shape[0] < 1:
            raise ValueError(f"query {i}: expected an (m, 4) matrix, got shape {qm.shape}")
        prepared.append(_standardise(qm) if score == "pearson" else _as_probabilities(qm))
        wi = None if weights is None else weights[i]
        wl.append(np.ones(len(qm)) if wi is None else np.asarray(wi, dtype=np.float64))
        if wl[-1].shape != (len(qm),) or (wl[-1] < 0).any():
            raise ValueError(f"query {i}: weights must be {len(qm)} non-negative values")
    kk = len(db.motifs)
    nq = len(prepared)
    p = np.ones((nq, kk))
    s = np.zeros((nq, kk))
    o = np.zeros((nq, kk), dtype=np.int64)
    st = np.zeros((nq, kk), dtype=np.int64)
    ov = np.zeros((nq, kk), dtype=np.int64)
    if nq:
        lens = np.array([len(x) for x in prepared], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
        dbc = db.std if score == "pearson" else db.prob
        threads = numba.get_num_threads() if n_threads is None else n_threads
        order = np.argsort(lens, kind="stable")
        proto = np.zeros(0, dtype=np.int16 if lens.max() * n_bins < 2**15 else np.int32)
        gproto = np.zeros(0, dtype=np.uint8 if n_bins < 256 else np.int32)
        dbc = dbc[db.kernel_order]  # the kernel's column order (see MotifIndex)
        _batch(np.concatenate(prepared).astype(np.float32), starts, lens, order,
               np.concatenate(wl), SCORES[score], np.ascontiguousarray(dbc.T, dtype=np.float32),
               db.widths, db.kernel_start, db.group_start, db.group_targets, db.group_base,
               n_bins, min_overlap, max(1, min(threads, nq)), proto, gproto, p, s, o, st,
               ov)  # fmt: skip
    p = np.clip(p, np.finfo(float).tiny, 1.0)
    return Comparison(p, _bh(p), s, o, st, ov)


def compare(
    query: np.ndarray,
    db: MotifIndex,
    *,
    weights: np.ndarray | None = None,
    score: str = "pearson",
    min_overlap: int = 5,
) -> tuple[np.ndarray, MotifHit]:
    """Compare one query with every database motif; see :func:`compare_many`.

    Returns
    -------
    Per-motif p-values (length K) and the best hit.
    """
    res = compare_many([query], db, weights=None if weights is None else [weights],
                       score=score, min_overlap=min_overlap)  # fmt: skip
    return res.pvalues[0], res.hit(0)
