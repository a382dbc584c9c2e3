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
and their histogram, four columns per sweep), one vectorised pass per query column for
the scores of every offset of every target (the integer scores are laid out with a gap
of m - 1 zeros after each target, so that one shifted add covers all targets; int16
when the sums fit), the span distributions (about m^3/6 convolutions of histograms of
~60 bins) and one vectorised pass per target width and offset for the p-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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
    """

    motifs: list[Motif]
    prob: np.ndarray  # (C, 4) probability columns
    std: np.ndarray  # (C, 4) standardised columns (Pearson)
    starts: np.ndarray  # (2K,) int64
    widths: np.ndarray  # (2K,) int64

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
def _bin_rows(sbuf, i_min, scale, n_bins, dest, g, gpad, f, med):
    """Integer scores ``floor((s - i_min) * scale + 0.5)`` of every row (``g``; also
    copied into the padded ``gpad``, where database column j goes to ``dest[j]``),
    their histograms ``f`` (fractions of the database's columns) and each row's median
    bin ``med`` (the bin of its ceil(C/2)-th smallest score)."""
    m, c = sbuf.shape
    for i in range(m):
        row = sbuf[i]
        gi = g[i]
        # in the row's precision (float32): 8 lanes per vector
        sc = row.dtype.type(scale)
        base = row.dtype.type(0.5 - i_min * scale)
        top = row.dtype.type(n_bins)
        zero = row.dtype.type(0.0)
        for j in range(c):  # vectorised
            gi[j] = np.int32(max(min(np.floor(row[j] * sc + base), top), zero))
    cnt = np.zeros((4, n_bins + 1), dtype=np.int64)
    half = (c + 1) // 2
    for r0 in range(0, m, 4):
        r1 = min(r0 + 4, m)
        cnt[:] = 0
        if r1 - r0 == 4:  # four rows per sweep: independent counters
            g0, g1, g2, g3 = g[r0], g[r0 + 1], g[r0 + 2], g[r0 + 3]
            p0, p1, p2, p3 = gpad[r0], gpad[r0 + 1], gpad[r0 + 2], gpad[r0 + 3]
            c0, c1, c2, c3 = cnt[0], cnt[1], cnt[2], cnt[3]
            for j in range(c):
                x0, x1, x2, x3 = g0[j], g1[j], g2[j], g3[j]
                d = dest[j]
                p0[d] = x0
                p1[d] = x1
                p2[d] = x2
                p3[d] = x3
                c0[x0] += 1
                c1[x1] += 1
                c2[x2] += 1
                c3[x3] += 1
        else:
            for i in range(r0, r1):
                gi = g[i]
                pi = gpad[i]
                ci = cnt[i - r0]
                for j in range(c):
                    x = gi[j]
                    pi[dest[j]] = x
                    ci[x] += 1
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


@njit(cache=True)
def _convolve(pmf, a_lo, a_hi, f, b_lo, b_hi, out):
    """out[a_lo+b_lo : a_hi+b_hi+1] = pmf[a_lo:a_hi+1] (*) f[b_lo:b_hi+1].

    Four kernel bins per pass: out[y + t] += f[y] * a[t] for y = y0..y0+3 in one loop
    over t (zero-based contiguous views, which the compiler vectorises), so each
    output element is loaded and stored once per four products instead of once per
    product.
    """
    seg = out[a_lo + b_lo : a_hi + b_hi + 1]
    seg[:] = 0.0
    fv = f[b_lo : b_hi + 1]
    a = pmf[a_lo : a_hi + 1]
    na = a.shape[0]
    nb = fv.shape[0]
    y = 0
    while y + 4 <= nb:
        c0, c1, c2, c3 = fv[y], fv[y + 1], fv[y + 2], fv[y + 3]
        # out[y + e] += sum_r fv[y + r] a[e - r]; for 3 <= e < na all four terms exist
        n = na - 3
        if n > 0:
            dst = seg[y + 3 : y + 3 + n]
            v0 = a[3 : 3 + n]
            v1 = a[2 : 2 + n]
            v2 = a[1 : 1 + n]
            v3 = a[0:n]
            for t in range(n):
                dst[t] += c0 * v0[t] + c1 * v1[t] + c2 * v2[t] + c3 * v3[t]
        # the ends, where some terms fall outside a: every e but 3 <= e < na
        for u in range(6):
            e = u if u < 3 else max(3, na) + u - 3
            if e >= na + 3:
                continue
            x = 0.0
            for r in range(4):
                if 0 <= e - r < na:
                    x += fv[y + r] * a[e - r]
            seg[y + e] += x
        y += 4
    while y < nb:
        c = fv[y]
        dst = seg[y : y + na]
        for t in range(na):
            dst[t] += c * a[t]
        y += 1


@njit(cache=True)
def _one_query(q, w, kind, db, starts, widths, pstart, dest, n_bins, min_overlap, sbuf, g,
               gpad, tot, sf_buf, by_width, w_start, p_out, s_out, o_out, st_out,
               ov_out):  # fmt: skip
    m = q.shape[0]
    k2 = starts.shape[0]
    kk = k2 // 2
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
    # integer scores (also in the padded layout, see below), histograms, median bins
    f = np.empty((m, n_bins + 1))
    med_b = np.empty(m, dtype=np.int64)
    _bin_rows(sbuf, i_min, scale, n_bins, dest, g, gpad, f, med_b)
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
    # Survival function of the summed score of every span [lo, hi) of query columns,
    # stored over the span's support: sf[k] = P(sum >= k), 1 below, 0 above. Spans
    # shorter than the smallest overlap are only needed on the way to longer ones.
    min_need = min(min_overlap, m)
    for t in range(k2):
        min_need = min(min_need, widths[t])
    sp_base = np.zeros((m, m + 1), dtype=np.int64)
    sp_lo = np.zeros((m, m + 1), dtype=np.int64)
    sp_hi = np.zeros((m, m + 1), dtype=np.int64)
    total = 0
    for lo in range(m):
        for hi in range(lo + min_need, m + 1):
            total += (hi - lo) * n_bins + 1
    sf = sf_buf[:total]
    pmf = np.zeros(m * n_bins + 1)
    nxt = np.zeros(m * n_bins + 1)
    pos = 0
    for lo in range(m):
        a_lo = f_lo[lo]
        a_hi = f_hi[lo]
        pmf[a_lo : a_hi + 1] = f[lo, a_lo : a_hi + 1]
        for hi in range(lo + 1, m + 1):
            if hi - lo >= min_need:
                sp_base[lo, hi] = pos
                sp_lo[lo, hi] = a_lo
                sp_hi[lo, hi] = a_hi
                _survival(pmf[a_lo : a_hi + 1], sf[pos : pos + a_hi - a_lo + 1])
                pos += a_hi - a_lo + 1
            if hi == m:
                break
            b_lo = f_lo[hi]
            b_hi = f_hi[hi]
            _convolve(pmf, a_lo, a_hi, f[hi], b_lo, b_hi, nxt)
            a_lo = a_lo + b_lo
            a_hi = a_hi + b_hi
            pmf[a_lo : a_hi + 1] = nxt[a_lo : a_hi + 1]
    # Best complete score of every target over offsets and both strands. Query row i
    # adds its integer score of target column j to offset d = j + m-1-i. In ``gpad``
    # target t starts at pstart[t] and is followed by at least m-1 zeros, so offset d
    # of target t is tot[pstart[t] + d] and row i adds in one contiguous, vectorised
    # pass: tot[k + m-1-i] += gpad[i, k] for every k.
    tot[:] = 0
    n_pad = gpad.shape[1]
    for i in range(m):
        prow = gpad[i]
        dst = tot[m - 1 - i : m - 1 - i + n_pad]
        for j in range(n_pad):
            dst[j] += prow[j]
    # What overhanging columns add at each offset d of a target of width n (their
    # medians), or -1 where the overlap is below the minimum: one small table per query.
    maxw = 0
    for t in range(kk):
        maxw = max(maxw, widths[t])
    add = np.full((maxw + 1, maxw + m), -(1 << 40), dtype=np.int64)
    for n in range(1, maxw + 1):
        need = min(min_overlap, m, n)
        for d in range(n + m - 1):
            o = d - (m - 1)
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo >= need:
                add[n, d] = mcum[m] - (mcum[hi] - mcum[lo])
    best_s = np.full(kk, -1, dtype=np.int64)
    best_d = np.zeros(kk, dtype=np.int64)
    for t in range(k2):
        n = widths[t]
        k = t if t < kk else t - kk
        at = add[n]
        tt = tot[pstart[t] : pstart[t] + n + m - 1]
        bs = best_s[k]
        bd = -1
        for d in range(n + m - 1):
            v = tt[d] + at[d]
            if v > bs:
                bs = v
                bd = d
        if bd >= 0:  # strictly better than the other strand (ties: forward strand)
            best_s[k] = bs
            best_d[k] = bd
            st_out[k] = 0 if t < kk else 1
    for k in range(kk):
        if best_s[k] >= 0:
            o = best_d[k] - (m - 1)
            n = widths[k]
            o_out[k] = o
            ov_out[k] = min(m, n - o) - max(0, -o)
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
        s_lo = np.int64(1 << 40)
        s_hi = np.int64(-1)
        for u in range(w_start[n], w_start[n + 1]):
            v = best_s[by_width[u]]
            if v >= 0:
                s_lo = min(s_lo, v)
                s_hi = max(s_hi, v)
        if s_hi < 0:
            for u in range(w_start[n], w_start[n + 1]):
                p_out[by_width[u]] = 1.0
            continue
        nl = s_hi - s_lo + 1
        qv = np.zeros(nl)
        sure = np.int64(-1 << 40)  # every score up to here is always reached
        need = min(min_overlap, m, n)
        for o in range(-(m - 1), n):
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo < need:
                continue
            sh = mcum[m] - (mcum[hi] - mcum[lo])
            a_lo = sp_lo[lo, hi]
            sure = max(sure, a_lo + sh)
            u0 = max(s_lo, a_lo + sh + 1)
            u1 = min(s_hi, sp_hi[lo, hi] + sh)
            if u1 < u0:
                continue
            src = sf[sp_base[lo, hi] + u0 - sh - a_lo : sp_base[lo, hi] + u1 - sh - a_lo + 1]
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
        fs = 0.0
        for i in range(m):
            j = i + o
            fs += sbuf[i, starts[t] + j] if 0 <= j < widths[t] else med[i]
        s_out[k] = fs


@njit(cache=True, parallel=True)
def _batch(qs, q_start, q_len, order, ws, kind, db, starts, widths, n_bins, min_overlap,
           n_chunks, proto, p_out, s_out, o_out, st_out, ov_out):  # fmt: skip
    nq = q_start.shape[0]
    c = db.shape[1]
    k2 = starts.shape[0]
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
    sf_size = 0  # every span of the widest query
    for ell in range(1, mmax + 1):
        sf_size += (mmax - ell + 1) * (ell * n_bins + 1)
    n_pad_max = c + (k2 + 1) * (mmax - 1)
    # Each chunk takes queries in ``order`` (by width), so the padded layout of the
    # integer scores (a gap of m - 1 zeros before every target) changes only when the
    # width does.
    for ch in prange(n_chunks):
        sbuf = np.empty((mmax, c), dtype=np.float32)
        g = np.empty((mmax, c), dtype=np.int32)
        # integer scores and offset sums in ``proto``'s type: int16 when the widest
        # query's sums fit (twice the lanes per vector), else int32
        gbuf = np.empty(mmax * n_pad_max, dtype=proto.dtype)
        tot = np.empty(n_pad_max + mmax, dtype=proto.dtype)
        sf_buf = np.empty(sf_size)  # span survival functions, reused by every query
        pstart = np.empty(k2, dtype=np.int64)
        dest = np.empty(c, dtype=np.int64)
        m_cur = -1
        n_pad = 0
        for u in range(ch, nq, n_chunks):
            i = order[u]
            a = q_start[i]
            m = q_len[i]
            if m != m_cur:
                m_cur = m
                gap = m - 1
                for t in range(k2):
                    pstart[t] = starts[t] + (t + 1) * gap
                    for j in range(widths[t]):
                        dest[starts[t] + j] = pstart[t] + j
                n_pad = c + (k2 + 1) * gap
                gbuf[: m * n_pad] = 0  # the gaps stay zero for every query of width m
            gpad = gbuf[: m * n_pad].reshape((m, n_pad))
            _one_query(qs[a : a + m], ws[a : a + m], kind, db, starts, widths, pstart, dest,
                       n_bins, min_overlap, sbuf[:m], g[:m], gpad, tot[: n_pad + m - 1],
                       sf_buf, by_width, w_start, p_out[i], s_out[i], o_out[i], st_out[i],
                       ov_out[i])  # fmt: skip


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg q-values along the last axis."""
    kk = p.shape[-1]
    order = np.argsort(p, axis=-1, kind="stable")
    ranked = np.take_along_axis(p, order, axis=-1) * kk / np.arange(1, kk + 1)
    q_sorted = np.minimum.accumulate(ranked[..., ::-1], axis=-1)[..., ::-1]
    q = np.empty_like(p)
    np.put_along_axis(q, order, np.minimum(q_sorted, 1.0), axis=-1)
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
        _batch(np.concatenate(prepared).astype(np.float32), starts, lens, order,
               np.concatenate(wl), SCORES[score],
               np.ascontiguousarray(dbc.T, dtype=np.float32), db.starts, db.widths, n_bins,
               min_overlap, max(1, min(threads, nq)), proto, p, s, o, st, ov)  # fmt: skip
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
