"""TOMTOM motif comparison with exact p-values (Gupta et al. 2007).

A query matrix is compared with every motif of a database, on both strands and at every
offset that overlaps by at least ``min_overlap`` columns. The steps follow TOMTOM:

1. **Column scores.** Query column *i* is scored against every column *c* of the
   database (all motifs, both strands): Pearson correlation of the two 4-vectors (the
   default) or minus their Euclidean distance. Optional per-column query weights (a
   seqlet's attribution magnitude) multiply column *i*'s scores, so flanks count less
   than the core; the null below is weighted identically, so weights never break
   calibration.
2. **Discretisation.** The query's scores are mapped onto ``n_bins`` + 1 integers
   (TOMTOM's *t* = 100) so that sums have an exact, finite distribution.
3. **Null per column.** The null distribution of query column *i*'s score is its
   histogram over *all* database columns: a random target column is a draw from the
   database's own columns, which is why p-values reflect what the database contains
   (a GC-rich query is less surprising against a GC-rich database).
4. **Complete score.** An alignment's score sums the aligned columns' scores plus, for
   each query column hanging over the target's end, that column's *median* null score.
   Every alignment is then scored on all query columns, so offsets with small overlaps
   are not favoured or penalised for their size (TOMTOM's default "complete scores").
5. **Exact p-values.** The distribution of the sum of the aligned columns is built by
   dynamic programming (repeated convolution of the integer histograms) for every span
   of query columns an alignment can cover. The p-value of a target is that of the
   *best* complete score over all its offsets and both strands:
   ``1 - prod_o P(score_o < s*)``, the offsets treated as independent (TOMTOM's
   treatment), so the search over offsets and strands is paid for exactly, not with a
   Bonferroni bound.
6. E-value = p x number of database motifs; q-values are Benjamini-Hochberg over the
   database for each query.

The kernels are compiled with numba (the first call compiles them once and caches the
machine code next to this module); queries are spread over threads.
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
    scores: np.ndarray  # best complete score, in units of the query's score bins
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
def _column_scores(q, w, kind, db, out):
    """Weighted score of every query column against every database column.

    ``db`` is (4, C) so that the loop over database columns is contiguous (SIMD).
    Returns the smallest and largest score.
    """
    m = q.shape[0]
    c = db.shape[1]
    d0 = db[0]
    d1 = db[1]
    d2 = db[2]
    d3 = db[3]
    lo = np.inf
    hi = -np.inf
    for i in range(m):
        wi = w[i]
        row = out[i]
        rlo = np.inf
        rhi = -np.inf
        if kind == 0:
            k4 = 0.25 * wi
            q0, q1, q2, q3 = k4 * q[i, 0], k4 * q[i, 1], k4 * q[i, 2], k4 * q[i, 3]
            for j in range(c):
                v = q0 * d0[j] + q1 * d1[j] + q2 * d2[j] + q3 * d3[j]
                row[j] = v
                rlo = v if v < rlo else rlo
                rhi = v if v > rhi else rhi
        else:
            q0, q1, q2, q3 = q[i, 0], q[i, 1], q[i, 2], q[i, 3]
            for j in range(c):
                e0 = q0 - d0[j]
                e1 = q1 - d1[j]
                e2 = q2 - d2[j]
                e3 = q3 - d3[j]
                v = -wi * np.sqrt(e0 * e0 + e1 * e1 + e2 * e2 + e3 * e3)
                row[j] = v
                rlo = v if v < rlo else rlo
                rhi = v if v > rhi else rhi
        lo = min(lo, rlo)
        hi = max(hi, rhi)
    return lo, hi


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
        for e in range(na + 3):  # the ends, where some terms fall outside a
            if 3 <= e < na:
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
def _one_query(q, w, kind, db, starts, widths, n_bins, min_overlap, sbuf, g,
               p_out, s_out, o_out, st_out, ov_out):  # fmt: skip
    m = q.shape[0]
    c = db.shape[1]
    k2 = starts.shape[0]
    kk = k2 // 2
    lo_s, hi_s = _column_scores(q, w, kind, db, sbuf)
    if not hi_s > lo_s:  # every score equal: nothing can be significant
        for k in range(kk):
            p_out[k] = 1.0
            s_out[k] = 0.0
            o_out[k] = 0
            st_out[k] = 0
            ov_out[k] = 0
        return
    scale = n_bins / (hi_s - lo_s)
    # integer scores, histograms and medians per query column
    f = np.zeros((m, n_bins + 1))
    f_lo = np.empty(m, dtype=np.int64)
    f_hi = np.empty(m, dtype=np.int64)
    med = np.empty(m, dtype=np.int64)
    cnt = np.empty(n_bins + 1, dtype=np.int64)
    cnt4 = np.empty((4, n_bins + 1), dtype=np.int64)
    for i in range(m):
        row = sbuf[i]
        grow = g[i]
        for j in range(c):  # vectorised; the histogram is a separate (scalar) pass
            grow[j] = min(np.int32((row[j] - lo_s) * scale + 0.5), n_bins)
        # four interleaved counters: consecutive equal bins do not wait on each other
        cnt4[:] = 0
        j = 0
        while j + 4 <= c:
            cnt4[0, grow[j]] += 1
            cnt4[1, grow[j + 1]] += 1
            cnt4[2, grow[j + 2]] += 1
            cnt4[3, grow[j + 3]] += 1
            j += 4
        while j < c:
            cnt4[0, grow[j]] += 1
            j += 1
        for b in range(n_bins + 1):
            cnt[b] = cnt4[0, b] + cnt4[1, b] + cnt4[2, b] + cnt4[3, b]
        acc = 0
        med[i] = -1
        f_lo[i] = -1
        for b in range(n_bins + 1):
            f[i, b] = cnt[b] / c
            if cnt[b] > 0:
                if f_lo[i] < 0:
                    f_lo[i] = b
                f_hi[i] = b
            acc += cnt[b]
            if med[i] < 0 and 2 * acc >= c:
                med[i] = b
    mcum = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        mcum[i + 1] = mcum[i] + med[i]
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
    sf = np.empty(total)
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
                run = 0.0
                for b in range(a_hi, a_lo - 1, -1):
                    run += pmf[b]
                    sf[pos + b - a_lo] = run
                pos += a_hi - a_lo + 1
            if hi == m:
                break
            b_lo = f_lo[hi]
            b_hi = f_hi[hi]
            _convolve(pmf, a_lo, a_hi, f[hi], b_lo, b_hi, nxt)
            a_lo = a_lo + b_lo
            a_hi = a_hi + b_hi
            pmf[a_lo : a_hi + 1] = nxt[a_lo : a_hi + 1]
    # Best complete score of every target over offsets and both strands. For one
    # target, query row i adds g[i, start + i + o] to offset o: a contiguous run of the
    # row, so the sums over all offsets build up row by row.
    best_s = np.full(kk, -1, dtype=np.int64)
    # Row i of the query adds g[i, start_t + j] to offset d = j + m-1-i of target t.
    # Rows outside, targets inside: each row of g is then read once, front to back
    # (targets are stored one after another), and every target's offset sums sit in
    # one flat array that stays in cache.
    seg = np.empty(k2 + 1, dtype=np.int64)
    seg[0] = 0
    for t in range(k2):
        seg[t + 1] = seg[t] + widths[t] + m - 1
    tot = np.zeros(seg[k2], dtype=np.int32)
    for i in range(m):
        grow = g[i]
        base = m - 1 - i
        for t in range(k2):
            d0 = seg[t] + base
            st = starts[t]
            for j in range(widths[t]):
                tot[d0 + j] += grow[st + j]
    for t in range(k2):
        n = widths[t]
        k = t if t < kk else t - kk
        need = min(min_overlap, m, n)
        for d in range(n + m - 1):
            o = d - (m - 1)
            lo = max(0, -o)
            hi = min(m, n - o)
            if hi - lo < need:
                continue
            s = tot[seg[t] + d] + mcum[m] - (mcum[hi] - mcum[lo])
            if s > best_s[k]:
                best_s[k] = s
                o_out[k] = o
                st_out[k] = 0 if t < kk else 1
                ov_out[k] = hi - lo
    # The reported score is the unbinned complete score at the chosen alignment (medians
    # for overhanging columns): it breaks ties between equal p-values.
    for k in range(kk):
        if best_s[k] < 0:
            s_out[k] = -np.inf
            continue
        t = k + kk * st_out[k]
        o = o_out[k]
        lo = max(0, -o)
        hi = min(m, widths[t] - o)
        fs = 0.0
        for i in range(m):
            if lo <= i < hi:
                fs += sbuf[i, starts[t] + i + o]
            else:
                fs += med[i] / scale + lo_s
        s_out[k] = fs
    # p-value of the best score: 1 - prod over offsets and strands of P(score_o < s*);
    # cached per (width, score) since many targets share both
    maxw = 0
    for t in range(kk):
        maxw = max(maxw, widths[t])
    memo = np.full((maxw + 1, m * n_bins + 2), np.nan)
    for k in range(kk):
        n = widths[k]
        s_star = best_s[k]
        if s_star < 0:
            p_out[k] = 1.0
            continue
        if np.isnan(memo[n, s_star]):
            need = min(min_overlap, m, n)
            logc = 0.0
            for o in range(-(m - 1), n):
                lo = max(0, -o)
                hi = min(m, n - o)
                if hi - lo < need:
                    continue
                kidx = s_star - (mcum[m] - (mcum[hi] - mcum[lo]))
                if kidx <= sp_lo[lo, hi]:
                    logc = -np.inf  # this offset always reaches s*
                    break
                if kidx > sp_hi[lo, hi]:
                    continue
                logc += np.log1p(-sf[sp_base[lo, hi] + kidx - sp_lo[lo, hi]])
            memo[n, s_star] = -np.expm1(2.0 * logc)
        p_out[k] = memo[n, s_star]


@njit(cache=True, parallel=True)
def _batch(qs, q_start, q_len, ws, kind, db, starts, widths, n_bins, min_overlap,
           n_chunks, p_out, s_out, o_out, st_out, ov_out):  # fmt: skip
    nq = q_start.shape[0]
    c = db.shape[1]
    mmax = 1
    for i in range(nq):
        if q_len[i] > mmax:
            mmax = q_len[i]
    for ch in prange(n_chunks):
        sbuf = np.empty((mmax, c))
        g = np.empty((mmax, c), dtype=np.int32)
        for i in range(ch, nq, n_chunks):
            a = q_start[i]
            m = q_len[i]
            _one_query(qs[a : a + m], ws[a : a + m], kind, db, starts, widths, n_bins,
                       min_overlap, sbuf[:m], g[:m], p_out[i], s_out[i], o_out[i],
                       st_out[i], ov_out[i])  # fmt: skip


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
        _batch(np.concatenate(prepared), starts, lens, np.concatenate(wl), SCORES[score],
               np.ascontiguousarray(dbc.T), db.starts, db.widths, n_bins, min_overlap,
               max(1, min(threads, nq)), p, s, o, st, ov)  # fmt: skip
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
