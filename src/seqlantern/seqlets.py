"""Seqlet calling: peaks of attribution on the observed bases, with a p-value each.

A seqlet is a short span whose summed attribution is extreme compared with spans of the
same length elsewhere. Calling is greedy per sequence and sign: take the highest-scoring
``window``-bp span, grow it while the neighbouring bases push in the same direction, mask
it (plus ``flank`` bp), repeat until no window passes the null threshold.

The null is pluggable (:data:`NULLS`): a distribution of summed attribution per span
length, fitted on sampled spans of the attributed sequences themselves.

- ``laplace`` (default): centre = median, scale from the median absolute deviation
  (for a Laplace, MAD = b ln 2). Median and MAD ignore the few spans that hold real
  signal, so the null describes the background even though it is fitted on data that
  contains motifs; the Laplace's exponential tails are heavier than a normal's, which keeps
  p-values conservative for correlated neighbouring positions.
- ``empirical``: the raw distribution of sampled span sums (p = (#null >= s + 1)/(n + 1));
  contaminated by real signal, so conservative.

A shuffled-control null (attributing dinucleotide-shuffled sequences) plugs into the same
interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
from numba import njit

from seqlantern.io import Progress, RowSource, SeqlanternError, atomic_outputs, read_tsv, write_tsv
from seqlantern.options import DEFAULTS

_D = DEFAULTS.seqlets

SEQLET_COLUMNS = ["name", "row", "seqlet_id", "start", "end", "sign", "score", "max_abs", "pvalue"]
CONTROL_COLUMNS = ["null_pvalue", "qvalue"]


class Null(Protocol):
    """A null distribution of summed attribution for each span length."""

    def sf(self, scores: np.ndarray, length: int) -> np.ndarray:
        """P(null sum >= score) for spans of ``length`` bp (scores already sign-flipped)."""
        ...

    def isf(self, p: float, length: int) -> float:
        """Score whose upper-tail probability is ``p`` for spans of ``length`` bp."""
        ...

    def sf_lengths(self, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """:meth:`sf` of each score at its own span length."""
        ...


def _laplace_sf(z: np.ndarray) -> np.ndarray:
    """Upper tail of the standard Laplace at z (one exponential per value)."""
    e = 0.5 * np.exp(-np.abs(z))
    return np.where(z >= 0, e, 1 - e)


def _median(v: np.ndarray) -> float:
    """``np.median`` (the same value), from one partition: for an even count the lower
    middle value is the largest of the lower half (np.median partitions twice)."""
    n = len(v)
    if n == 0:
        return float("nan")
    k = n // 2
    p = np.partition(v, k)
    return float(p[k]) if n % 2 else float((p[:k].max() + p[k]) / 2)


@dataclass
class LaplaceNull:
    """Laplace null per span length from the median and the MAD of sampled span sums."""

    centre: dict[int, float]
    scale: dict[int, float]

    @classmethod
    def fit(cls, spans: dict[int, np.ndarray]) -> LaplaceNull:
        """Fit on sampled span sums per length (:func:`sample_span_sums`)."""
        centre, scale = {}, {}
        for ell, v in spans.items():
            med = _median(v)
            mad = _median(np.abs(v - med))
            centre[ell], scale[ell] = med, max(mad / np.log(2), 1e-12)
        return cls(centre, scale)

    def sf(self, scores: np.ndarray, length: int) -> np.ndarray:
        """Upper-tail probability for spans of ``length`` bp (two-sided by sign flipping)."""
        z = (np.asarray(scores, dtype=float) - self.centre[length]) / self.scale[length]
        return _laplace_sf(z)

    def isf(self, p: float, length: int) -> float:
        """Score whose upper-tail probability is ``p``."""
        return self.centre[length] - self.scale[length] * np.log(2 * p)

    def sf_lengths(self, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """:meth:`sf` of each score at its own span length, in one vectorised pass."""
        top = max(self.centre) + 1
        c = np.zeros(top)
        b = np.ones(top)
        for ell in self.centre:
            c[ell], b[ell] = self.centre[ell], self.scale[ell]
        z = (np.asarray(scores, dtype=float) - c[lengths]) / b[lengths]
        return _laplace_sf(z)


@dataclass
class EmpiricalNull:
    """Sorted span sums sampled from the real maps.

    Negative seqlets are called on the sign-flipped track against this same (upper-tail)
    distribution, which assumes the background is roughly symmetric around zero.
    """

    sorted_sums: dict[int, np.ndarray]

    @classmethod
    def fit(cls, spans: dict[int, np.ndarray]) -> EmpiricalNull:
        """Fit on sampled span sums per length (:func:`sample_span_sums`)."""
        return cls({ell: np.sort(s) for ell, s in spans.items()})

    def sf(self, scores: np.ndarray, length: int) -> np.ndarray:
        """(#null >= score + 1) / (n + 1)."""
        s = self.sorted_sums[length]
        ge = len(s) - np.searchsorted(s, np.asarray(scores, dtype=float), side="left")
        return (ge + 1) / (len(s) + 1)

    def sf_lengths(self, scores: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """:meth:`sf` of each score at its own span length."""
        out = np.ones(len(scores))
        for ell in np.unique(lengths):
            sel = lengths == ell
            out[sel] = self.sf(scores[sel], int(ell))
        return out

    def isf(self, p: float, length: int) -> float:
        """Score whose upper-tail probability is ``p``."""
        s = self.sorted_sums[length]
        k = int(np.clip(np.ceil(len(s) * (1 - p)), 0, len(s) - 1))
        return float(s[k])


NULLS: dict[str, type[LaplaceNull] | type[EmpiricalNull]] = {
    "laplace": LaplaceNull,
    "empirical": EmpiricalNull,
}


def write_null(null: LaplaceNull | EmpiricalNull, path: str | Path) -> None:
    """Write a fitted null as TSV (exact floats), for the per-shard calling jobs.

    Columns ``null length centre scale`` (Laplace, one row per span length) or
    ``null length sum`` (empirical, one row per sampled span sum).
    """
    if isinstance(null, LaplaceNull):
        ells = sorted(null.centre)
        df = pd.DataFrame({"null": "laplace", "length": ells,
                           "centre": [null.centre[e] for e in ells],
                           "scale": [null.scale[e] for e in ells]})  # fmt: skip
    else:
        ells = sorted(null.sorted_sums)
        df = pd.DataFrame({
            "null": "empirical",
            "length": np.concatenate([np.full(len(null.sorted_sums[e]), e) for e in ells]),
            "sum": np.concatenate([null.sorted_sums[e] for e in ells]),
        })  # fmt: skip
    write_tsv(df, path, float_format=None)


def read_null(path: str | Path) -> LaplaceNull | EmpiricalNull:
    """Read a null written by :func:`write_null`."""
    kind = read_tsv(path, what="seqlet null", ints=("length",))["null"]
    if kind.empty or kind.iloc[0] not in NULLS:
        raise SeqlanternError(f"{path}: not a seqlet null table; make it with fit-null")
    if kind.iloc[0] == "laplace":
        df = read_tsv(path, what="seqlet null", ints=("length",), floats=("centre", "scale"))
        ells = df["length"].tolist()
        return LaplaceNull(dict(zip(ells, df["centre"].tolist(), strict=True)),
                           dict(zip(ells, df["scale"].tolist(), strict=True)))  # fmt: skip
    df = read_tsv(path, what="seqlet null", ints=("length",), floats=("sum",))
    return EmpiricalNull({int(e): g["sum"].to_numpy() for e, g in df.groupby("length")})


@dataclass(frozen=True)
class SeqletParams:
    """Seqlet calling options (defined in :mod:`seqlantern.options`, section ``seqlets``).

    ``null`` is the *candidate* null: the config's ``shuffled`` null calls its
    candidates under the Laplace null, then decides them with the controls.
    """

    window: int = _D.window
    min_length: int = _D.min_length
    max_length: int = _D.max_length
    flank: int = _D.flank
    extend_fraction: float = _D.extend_fraction
    pvalue: float = _D.pvalue
    null: str = "laplace"
    null_sample: int = 2000
    null_spans: int = 5000
    signs: str = "both"
    seed: int = 0


def per_position(attr: np.ndarray) -> np.ndarray:
    """Attribution of the observed base at each position: (n, 4, L) -> (n, L).

    (n, L) input is taken as already per position.
    """
    a = np.asarray(attr, dtype=np.float64)
    return a if a.ndim == 2 else a.sum(axis=1)


def fit_null(attr: RowSource, params: SeqletParams) -> LaplaceNull | EmpiricalNull:
    """Fit the configured null on a seeded sample of sequences (bounded memory)."""
    spans = _null_spans(attr, params)  # checks params.null
    return NULLS[params.null].fit(spans)


def _null_spans(attr: RowSource, params: SeqletParams) -> dict[int, np.ndarray]:
    """Sampled span sums of a seeded sample of sequences, for :func:`fit_null`. Calls are
    never shorter than min_length, and the core window is window bp long."""
    return _span_sums(*_null_sample(attr, params))


Draw = tuple[np.ndarray, np.ndarray] | None


def _null_sample(attr: RowSource, params: SeqletParams) -> tuple[np.ndarray, range, Draw]:
    """The null's seeded sample: per-position maps, span lengths, sampled (row, start)
    positions (None: every span), for :func:`_span_sums`."""
    if params.null not in NULLS:
        raise SeqlanternError(f"seqlets.null {params.null!r} unknown; known: {sorted(NULLS)}")
    n = attr.shape[0]
    rng = np.random.default_rng(params.seed)
    rows = np.sort(rng.choice(n, size=min(n, params.null_sample), replace=False))
    sub = attr[rows]
    pp = sub if sub.ndim == 2 else per_position(sub)
    lengths = range(min(params.min_length, params.window), min(params.max_length, pp.shape[1]) + 1)
    return pp, lengths, _draw(pp, params.null_spans, rng)


def _draw(pp: np.ndarray, max_spans: int, rng: np.random.Generator) -> Draw:
    """(row, start) of ``max_spans`` sampled spans, or None when all fit in that many."""
    n, length = pp.shape
    if n * length <= max_spans:
        return None
    st = rng.integers(0, length, max_spans)
    r = rng.integers(0, n, max_spans)
    return r, st


def sample_span_sums(
    pp: np.ndarray, lengths: range, max_spans: int, rng: np.random.Generator
) -> dict[int, np.ndarray]:
    """Sums of attribution over spans of each length, at most about ``max_spans`` each.

    When the sample holds more spans than ``max_spans``, one seeded set of (row, start)
    positions is drawn and every length uses those that fit: the null's median and MAD
    (or quantiles) are then estimated from ~10^4 spans, plenty for a candidate threshold,
    at a cost that does not grow with the data.
    """
    return _span_sums(pp, lengths, _draw(pp, max_spans, rng))


def _span_sums(pp: np.ndarray, lengths: range, draw: Draw) -> dict[int, np.ndarray]:
    """:func:`sample_span_sums` for drawn positions. One length alone (``range(w, w +
    1)``) gives exactly that length's entry of all lengths together."""
    out = {}
    if draw is None:
        n = pp.shape[0]
        c = np.concatenate([np.zeros((n, 1)), np.cumsum(pp, axis=1)], axis=1)
        for ell in lengths:
            out[ell] = (c[:, ell:] - c[:, :-ell]).ravel()
        return out
    r, st = draw
    if len(lengths) == 1:
        return {lengths[0]: _sampled_sums_one(pp, r, st, lengths[0])}
    sums, counts = _sampled_sums(pp, r, st, lengths.stop - 1)
    for ell in lengths:
        out[ell] = sums[ell, : counts[ell]]
    return out


@njit(cache=True, nogil=True)
def _sampled_sums_one(pp, r, st, ell):  # fmt: skip
    """The length-``ell`` row of :func:`_sampled_sums` alone (same order of additions)."""
    length = pp.shape[1]
    out = np.empty(r.shape[0])
    k = 0
    for q in range(r.shape[0]):
        if st[q] + ell <= length:
            acc = 0.0
            row = pp[r[q]]
            for i in range(ell):
                acc += row[st[q] + i]
            out[k] = acc
            k += 1
    return out[:k]


@njit(cache=True, nogil=True)
def _sampled_sums(pp, r, st, lmax):  # fmt: skip
    """Span sums of every length 1..lmax from each sampled (row, start), as running sums.

    Row ``ell`` of the result holds, in sample order, the sums of the spans that fit.
    """
    length = pp.shape[1]
    k = r.shape[0]
    sums = np.empty((lmax + 1, k))
    counts = np.zeros(lmax + 1, dtype=np.int64)
    for q in range(k):
        acc = 0.0
        row = pp[r[q]]
        for ell in range(1, min(lmax, length - st[q]) + 1):
            acc += row[st[q] + ell - 1]
            sums[ell, counts[ell]] = acc
            counts[ell] += 1
    return sums, counts


@njit(cache=True, nogil=True)
def _greedy_calls(pp, window, min_len, max_len, flank, extend_fraction, threshold,
                  signs):  # fmt: skip
    """Greedy seqlet calls on every track of ``pp`` (n, L) for each sign in ``signs``.

    Per track and sign, b = sign x track. Windows of ``window`` bp whose sum reaches
    ``threshold`` are the candidates; repeatedly the best candidate not touching an
    earlier call (ties: leftmost) is grown while a neighbour base exceeds
    ``extend_fraction`` x the window's mean (the larger side first) up to ``max_len``,
    trimmed of non-positive ends down to ``min_len``, recorded, and masked with ``flank``
    bp either side. A track costs a few vectorised passes plus a scan of its (few)
    candidates per call.

    Returns
    -------
    Arrays per call: track, sign, start, end, summed b, core window sum, max |b|.
    """
    n, length = pp.shape
    w = min(window, length)
    # room for ~4 calls per track and sign up front, so the seven arrays rarely grow
    cap = max(1024, 8 * n)
    o_track = np.empty(cap, dtype=np.int64)
    o_sign = np.empty(cap, dtype=np.int64)
    o_start = np.empty(cap, dtype=np.int64)
    o_end = np.empty(cap, dtype=np.int64)
    o_score = np.empty(cap)
    o_core = np.empty(cap)
    o_max = np.empty(cap)
    k = 0
    ws = np.empty(length - w + 1)
    # used[i] == stamp: position i is taken in the current track and sign (no resets)
    used = np.zeros(length, dtype=np.int64)
    stamp = 0
    # candidates of each sign (start, window sum x sign), built without branches
    cand_p = np.empty(length - w + 2, dtype=np.int64)
    cand_n = np.empty(length - w + 2, dtype=np.int64)
    val_p = np.empty(length - w + 2)
    val_n = np.empty(length - w + 2)
    do_pos = False
    do_neg = False
    for sgn in signs:
        if sgn > 0:
            do_pos = True
        else:
            do_neg = True
    for t in range(n):
        # window sums added directly, w passes over the track that vectorise (a running
        # cumulative sum is one chain of dependent additions, and its differences lose
        # precision); then the candidates of both signs in position order, appended
        # without branches (one in ten windows passes: a branch per window would
        # mispredict on each of them)
        row = pp[t]
        nw = length - w + 1
        for j in range(nw):
            ws[j] = row[j]
        for r in range(1, w):
            seg = row[r : r + nw]
            for j in range(nw):
                ws[j] += seg[j]
        n_p = 0
        n_n = 0
        for j in range(nw):
            d = ws[j]
            cand_p[n_p] = j
            val_p[n_p] = d
            n_p += do_pos and d >= threshold
            cand_n[n_n] = j
            val_n[n_n] = -d
            n_n += do_neg and -d >= threshold
        for sgn in signs:
            nc = n_p if sgn > 0 else n_n
            if nc == 0:
                continue
            cand = cand_p if sgn > 0 else cand_n
            cval = val_p if sgn > 0 else val_n
            stamp += 1
            while True:
                # the best candidate not touching an earlier call (ties: leftmost); a
                # candidate that touches one is dropped (its value set to -inf) when that
                # call is made, so the search is a plain maximum
                best = -1
                bv = -np.inf
                bi = -1
                for ci in range(nc):
                    v = cval[ci]
                    if v > bv:
                        bv = v
                        bi = ci
                if bi < 0:
                    break
                best = cand[bi]
                start = best
                end = best + w
                level = extend_fraction * max(bv / w, 0.0)
                while end - start < max_len:
                    lv = sgn * row[start - 1] if start > 0 else 0.0
                    rv = sgn * row[end] if end < length else 0.0
                    left_ok = start > 0 and used[start - 1] != stamp and lv > level
                    right_ok = end < length and used[end] != stamp and rv > level
                    if not (left_ok or right_ok):
                        break
                    if left_ok and (not right_ok or lv >= rv):
                        start -= 1
                    else:
                        end += 1
                while end - start > min_len and sgn * row[start] <= 0:
                    start += 1
                while end - start > min_len and sgn * row[end - 1] <= 0:
                    end -= 1
                score = 0.0
                mx = 0.0
                for i in range(start, end):
                    v = sgn * row[i]
                    score += v
                    mx = max(mx, abs(v))
                m_lo = max(start - flank, 0)
                m_hi = min(end + flank, length)
                for i in range(m_lo, m_hi):
                    used[i] = stamp
                for ci in range(nc):  # candidates touching this call are out
                    j = cand[ci]
                    cval[ci] = -np.inf if (j < m_hi) & (j + w > m_lo) else cval[ci]
                if k == cap:
                    cap *= 2
                    o_track = np.concatenate((o_track, np.empty(cap - k, dtype=np.int64)))
                    o_sign = np.concatenate((o_sign, np.empty(cap - k, dtype=np.int64)))
                    o_start = np.concatenate((o_start, np.empty(cap - k, dtype=np.int64)))
                    o_end = np.concatenate((o_end, np.empty(cap - k, dtype=np.int64)))
                    o_score = np.concatenate((o_score, np.empty(cap - k)))
                    o_core = np.concatenate((o_core, np.empty(cap - k)))
                    o_max = np.concatenate((o_max, np.empty(cap - k)))
                o_track[k] = t
                o_sign[k] = sgn
                o_start[k] = start
                o_end[k] = end
                o_score[k] = score
                o_core[k] = bv
                o_max[k] = mx
                k += 1
    return (o_track[:k], o_sign[:k], o_start[:k], o_end[:k], o_score[:k], o_core[:k],
            o_max[:k])  # fmt: skip


def _call_arrays(
    attr: RowSource,
    params: SeqletParams,
    null: LaplaceNull | EmpiricalNull,
    chunk: int,
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Calls on every row of ``attr`` as arrays (row index, sign, start, end, ...)."""
    return _call_many([(attr, chunk)], params, null, threads)[0]


def _call_many(
    sources: list[tuple[RowSource, int]],
    params: SeqletParams,
    null: LaplaceNull | EmpiricalNull | Callable[[], LaplaceNull | EmpiricalNull],
    threads: int | None = None,
    threshold: float | None = None,
    pvalues: tuple[bool, ...] | None = None,
) -> list[dict[str, np.ndarray]]:
    """:func:`_call_arrays` of several (maps, chunk) sources, all chunks on one pool of
    threads (so the real maps and their controls share the threads, no pool each).

    ``null`` may be a function that fits it, given with the candidate ``threshold``: it
    is then fitted while the calls run (the threshold needs only the window's length).
    ``pvalues[i]`` false: source i's ``pvalue`` column is only used to keep calls at or
    below ``params.pvalue`` (the same calls are kept), not reported.
    """
    pvalues = pvalues or (True,) * len(sources)
    w = min(params.window, sources[0][0].shape[-1])
    if threshold is None:
        if callable(null):
            raise TypeError("_call_many: a null still to be fitted needs the threshold")
        threshold = null.isf(params.pvalue, w)
    threads = threads or os.cpu_count() or 1
    signs = np.array({"both": (1, -1), "positive": (1,), "negative": (-1,)}[params.signs])

    def run(job: tuple[int, int]) -> tuple[np.ndarray, ...]:
        src, c0 = job
        attr, chunk = sources[src]
        block = attr[c0 : c0 + chunk]
        # (n, L) float32/float64 goes to the kernel as is (exact widening there)
        pp = block if block.ndim == 2 and block.dtype in (np.float32, np.float64) else (
            per_position(block))  # fmt: skip
        t, *rest = _greedy_calls(
            np.ascontiguousarray(pp), params.window, params.min_length, params.max_length,
            params.flank, params.extend_fraction, threshold, signs)  # fmt: skip
        return (t + c0, *rest)

    jobs = [(i, c0) for i, (attr, chunk) in enumerate(sources)
            for c0 in range(0, attr.shape[0], chunk)]  # fmt: skip
    # the kernel releases the GIL: chunks run on threads, results kept in chunk order
    with ThreadPoolExecutor(max_workers=min(threads, max(len(jobs), 1))) as ex:
        futures = ex.map(run, jobs)
        if callable(null):
            null = null()
        parts = list(futures)
    out = []
    for i in range(len(sources)):
        mine = [p for p, (src, _) in zip(parts, jobs, strict=True) if src == i]
        cols = [np.concatenate([p[j] for p in mine]) for j in range(7)] if mine else [
            np.zeros(0, dtype=np.int64)] * 4 + [np.zeros(0)] * 3  # fmt: skip
        track, sign, start, end, score, core, mx = cols
        # the seqlet's p-value is that of its most significant span: the detected core
        # window or the grown seqlet
        pval = null.sf(core, w) if len(core) else np.zeros(0)
        # the grown span's p-value only matters where it is smaller: everywhere for the
        # reported p-values, only where the core misses the threshold (by rounding) for
        # calls whose p-values are not reported (``pvalues=False``: the controls)
        if pvalues[i]:
            pval = np.minimum(pval, null.sf_lengths(score, end - start)) if len(core) else pval
        else:
            miss = np.flatnonzero(pval > params.pvalue)
            pval[miss] = np.minimum(pval[miss], null.sf_lengths(score[miss],
                                                                (end - start)[miss]))  # fmt: skip
        a = {"track": track, "sign": sign, "start": start, "end": end,
             "score": sign * score, "max_abs": mx, "pvalue": pval}  # fmt: skip
        keep = pval <= params.pvalue
        out.append(a if keep.all() else {k: v[keep] for k, v in a.items()})
    return out


def call_seqlets(
    attr: RowSource,
    names: list[str],
    rows: np.ndarray,
    params: SeqletParams,
    *,
    chunk: int = 4096,
    null: LaplaceNull | EmpiricalNull | None = None,
) -> pd.DataFrame:
    """Call seqlets on attribution maps.

    Parameters
    ----------
    attr
        (n, 4, L) attributions, or (n, L) per-position attributions (memory-mapped is
        fine; read in chunks).
    names
        Sequence name of each attribution row.
    rows
        Row of each sequence in the encoded index.
    params
        Options.
    chunk
        Sequences per chunk.
    null
        A fitted null (default: fitted on ``attr`` with ``params``), e.g. the real data's
        null reused for the shuffled controls so that both are called identically.

    Returns
    -------
    Table with :data:`SEQLET_COLUMNS`: ``start``/``end`` 0-based half-open in sequence
    coordinates, ``sign`` ``+``/``-``, ``score`` the signed summed attribution,
    ``max_abs`` the largest per-base attribution magnitude, ``pvalue`` from the null.
    """
    if params.min_length > params.max_length or params.window > params.max_length:
        raise SeqlanternError("seqlets: need min_length <= max_length and window <= max_length")
    null = null or fit_null(attr, params)
    a = _call_arrays(attr, params, null, min(chunk, max(256, -(-attr.shape[0] // 2))))
    return _frame(a, names, rows)


def _frame(a: dict[str, np.ndarray], names: list[str], rows: np.ndarray) -> pd.DataFrame:
    """The seqlet table of call arrays, sorted by row, start, end (extra arrays kept)."""
    names_arr = np.asarray(names, dtype=object)
    rows_arr = np.asarray(rows, dtype=np.int64)
    r = rows_arr[a["track"]]
    b = int(a["end"].max()) + 1 if len(r) else 1
    if len(r) and r.min() >= 0 and a["start"].min() >= 0 and r.max() < 2**62 // (b * b):
        # one int64 key (row, start, end): a stable sort of it is the lexsort below,
        # and nearly free on the kernel's output, which is already almost in order
        order = np.argsort((r * b + a["start"]) * b + a["end"], kind="stable")
    else:
        order = np.lexsort((a["end"], a["start"], r))  # stable
    a = {k: v[order] for k, v in a.items()}
    name = names_arr[a["track"]]
    starts, ends = a["start"].tolist(), a["end"].tolist()
    if b <= 4 * len(starts) + 1024:  # positions as strings once, not per id
        text = list(map(str, range(b)))
        ids = [f"{n}:{text[s]}-{text[e]}" for n, s, e in zip(name.tolist(), starts, ends,
                                                            strict=True)]  # fmt: skip
    else:
        ids = [f"{n}:{s}-{e}" for n, s, e in zip(name.tolist(), starts, ends, strict=True)]
    cols = {
        "name": name, "row": rows_arr[a["track"]], "seqlet_id": ids,
        "start": a["start"], "end": a["end"], "sign": np.where(a["sign"] > 0, "+", "-"),
        "score": a["score"], "max_abs": a["max_abs"], "pvalue": a["pvalue"],
    }  # fmt: skip
    for k in a:  # extra arrays last, in their order
        if k not in ("track", "sign", "start", "end", "score", "max_abs", "pvalue"):
            cols[k] = a[k]
    return pd.DataFrame(cols, copy=False)


def _positive(sign: object) -> np.ndarray:
    """Sign column as booleans: "+"/"-" strings or +1/-1 numbers."""
    s = np.asarray(sign)
    return s == "+" if s.dtype.kind in "OUS" else s > 0


def _strength(df: pd.DataFrame | dict[str, np.ndarray]) -> np.ndarray:
    length = np.asarray(df["end"], dtype=float) - np.asarray(df["start"], dtype=float)
    return np.abs(np.asarray(df["score"], dtype=float)) / np.sqrt(np.maximum(length, 1))


def control_statistics(
    real: pd.DataFrame | dict[str, np.ndarray],
    control: pd.DataFrame | dict[str, np.ndarray],
    *,
    shuffles: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Empirical p-values and q-values of real seqlets against shuffled-control seqlets.

    Both tables come from :func:`call_seqlets` with identical settings, ``control`` on
    ``shuffles`` dinucleotide-shuffled copies of each real sequence. Seqlets are ranked by
    t = |summed attribution| / sqrt(length), the signal-to-noise of a sum over ``length``
    background positions (so a long weak span does not outrank a short strong one). For a
    real seqlet of sign s with statistic t, let C be the number of control seqlets of sign
    s with statistic >= t and m the number of real seqlets of sign s:

        p = (1 + C) / (1 + shuffles * m)

    i.e. the control's rate of such calls per real call. Benjamini-Hochberg within each
    sign then gives q = min over t' <= t of (C(t') / shuffles) / R(t'): the expected
    number of calls this strong in data without sites, over the number made, which is
    the realised false discovery rate the ``fdr`` setting targets. Unlike a null fitted on
    the tested data, the control never contains the sites being tested.

    Returns
    -------
    p-values and q-values aligned with ``real``'s rows.
    """
    return _control_pq(_strength(real), _positive(real["sign"]), _strength(control),
                       _positive(control["sign"]), shuffles)  # fmt: skip


def _control_pq(
    t_real: np.ndarray, r_pos: np.ndarray, t_ctrl: np.ndarray, c_pos: np.ndarray, shuffles: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`control_statistics` on strengths and signs."""
    n_real = len(t_real)
    pvals = np.ones(n_real)
    qvals = np.ones(n_real)
    for positive in (True, False):
        r_idx = np.flatnonzero(r_pos == positive)
        if r_idx.size == 0:
            continue
        # real statistics in increasing order: the control counts come from one merge-
        # like pass, and decreasing t is increasing p, the order Benjamini-Hochberg needs
        # (the order among equal p-values does not change their q-values)
        # (any order among equal statistics: their p- and q-values are equal)
        up = r_idx[np.argsort(t_real[r_idx])]
        c = np.sort(t_ctrl[c_pos == positive])
        n_ge = len(c) - np.searchsorted(c, t_real[up], side="left")
        m = len(up)
        p = np.minimum((1 + n_ge) / (1 + shuffles * m), 1.0)
        ranked = p[::-1] * m / np.arange(1, m + 1)  # p ascending
        q = np.minimum.accumulate(ranked[::-1])  # = q of p descending, i.e. of t ascending
        pvals[up], qvals[up] = p, np.minimum(q, 1.0)
    return pvals, qvals


def _expected_false(
    t_real: np.ndarray,
    r_pos: np.ndarray,
    q: np.ndarray,
    t_ctrl: np.ndarray,
    c_pos: np.ndarray,
    shuffles: int,
    levels: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Calls with q <= each level and the false calls the controls predict among them.

    Per sign, the calls at a level are the real seqlets at least as strong as the
    weakest one with q <= level (q falls as the strength rises); the control calls at
    least as strong as that weakest one, divided by ``shuffles``, are the expected false
    ones (as in :func:`calibration_table`).
    """
    levels = np.asarray(levels, dtype=float)
    calls = np.zeros(len(levels), dtype=np.int64)
    false = np.zeros(len(levels))
    for positive in (True, False):
        sel = r_pos == positive
        if not sel.any():
            continue
        order = np.argsort(q[sel], kind="stable")
        qs, ts = q[sel][order], np.minimum.accumulate(t_real[sel][order])
        c = np.sort(t_ctrl[c_pos == positive])
        k = np.searchsorted(qs, levels, side="right")
        tmin = ts[np.maximum(k - 1, 0)]
        calls += k
        false += np.where(k > 0, len(c) - np.searchsorted(c, tmin, side="left"), 0) / max(
            shuffles, 1)  # fmt: skip
    return calls, false


def cutoff_level(
    t_real: np.ndarray,
    r_pos: np.ndarray,
    q: np.ndarray,
    t_ctrl: np.ndarray,
    c_pos: np.ndarray,
    shuffles: int,
    *,
    fdr: float,
    extend_fdr: float = 0.0,
) -> float:
    """The q-value cut-off: ``fdr``, raised while the calls it adds are clean enough.

    Why: the BH q-value of a call is the false share of *everything at least as strong*.
    When a weaker model's strongest calls of one sign are chance motif matches as often
    as its weaker ones (short AT-rich motifs recur in dinucleotide shuffles), q is flat
    over thousands of calls, just above ``fdr``: a held-out library gave 500 calls at
    q <= 0.1 and 3,792 at 0.15 (1 vs 9 of 9 planted factors), a cliff no single level
    handles on every library. So the cut-off is raised from ``fdr`` to the largest level
    L <= ``extend_fdr`` at which the calls added beyond ``fdr`` (the band
    fdr < q <= L) have an estimated false share of at most ``extend_fdr`` on their own:
    (false(L) - false(fdr)) / (calls(L) - calls(fdr)). Where the calls beyond ``fdr``
    are mostly false (the demo: ~0.5 of them), the band fails and the cut-off stays
    ``fdr``; where they are as clean as the ceiling, they are kept. The share of all
    kept calls the controls estimate false stays <= ``extend_fdr`` (a mean of the
    base's <= ``fdr`` and the band's <= ``extend_fdr``). ``extend_fdr <= fdr`` turns it
    off.
    """
    if extend_fdr <= fdr or len(q) == 0:
        return float(fdr)
    levels = np.unique(q[(q > fdr) & (q <= extend_fdr)])
    if levels.size == 0:
        return float(fdr)
    args = (t_real, r_pos, q, t_ctrl, c_pos, shuffles)
    (n0,), (f0,) = _expected_false(*args, np.array([fdr]))
    n, f = _expected_false(*args, levels)
    band = (f - f0) / np.maximum(n - n0, 1)
    ok = (n > n0) & (band <= extend_fdr)
    return float(levels[ok].max()) if ok.any() else float(fdr)


def call_with_control(
    attr: RowSource,
    names: list[str],
    rows: np.ndarray,
    control_attr: RowSource,
    params: SeqletParams,
    *,
    fdr: float = 0.1,
    extend_fdr: float = 0.0,
) -> pd.DataFrame:
    """Call seqlets on real and shuffled-control maps with identical settings; keep q <= fdr.

    (``fdr`` raised as :func:`cutoff_level` says when ``extend_fdr`` > ``fdr``.)

    The candidate threshold (``params.pvalue`` under the null fitted on the real maps)
    only limits how many candidates are considered; the reported ``pvalue`` and ``qvalue``
    come from the control (:func:`control_statistics`), and ``null_pvalue`` keeps the
    nominal candidate p-value.
    """
    _check_inputs(attr, control_attr, params)
    shuffles = control_attr.shape[0] // max(attr.shape[0], 1)
    # the candidate threshold needs only the window length's null; the other lengths
    # are fitted while the calls run. In one process the statistics run on the call
    # arrays and the table (and its ids) is built for the kept calls only; the sharded
    # path (call_shard + merge_calls) gives the same table.
    pp, lengths, draw = _null_sample(attr, params)
    w = min(params.window, attr.shape[-1])
    kind = NULLS[params.null]
    threshold = kind.fit(_span_sums(pp, range(w, w + 1), draw)).isf(params.pvalue, w)
    threads = os.cpu_count() or 1
    ra, ca = _call_many([(attr, max(256, -(-attr.shape[0] // (2 * threads)))),
                         (control_attr, 1024)], params,
                        lambda: kind.fit(_span_sums(pp, lengths, draw)), threads, threshold,
                        pvalues=(True, False))  # fmt: skip
    p, q = control_statistics(ra, ca, shuffles=shuffles)
    level = cutoff_level(_strength(ra), _positive(ra["sign"]), q, _strength(ca),
                         _positive(ca["sign"]), shuffles, fdr=fdr,
                         extend_fdr=extend_fdr)  # fmt: skip
    keep = q <= level
    kept = {k: v[keep] for k, v in ra.items()}
    kept["null_pvalue"], kept["pvalue"], kept["qvalue"] = kept["pvalue"], p[keep], q[keep]
    return _frame(kept, names, rows)  # columns: SEQLET_COLUMNS, null_pvalue, qvalue


def _check_inputs(attr: RowSource, control_attr: RowSource | None, params: SeqletParams) -> None:
    """One-line errors for inconsistent seqlet settings or control maps."""
    if params.min_length > params.max_length or params.window > params.max_length:
        raise SeqlanternError("seqlets: need min_length <= max_length and window <= max_length")
    if control_attr is not None and (
        control_attr.shape[0] % max(attr.shape[0], 1) or control_attr.shape[1:] != attr.shape[1:]
    ):
        raise SeqlanternError(
            f"control attributions {control_attr.shape} are not whole shuffles of the real "
            f"ones {attr.shape}; make both with the same attribute run"
        )


def call_shard(
    attr: RowSource,
    names: list[str],
    rows: np.ndarray,
    params: SeqletParams,
    *,
    null: LaplaceNull | EmpiricalNull,
    control_attr: RowSource | None = None,
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The calls of one shard with a null fitted on all shards (:func:`fit_null`).

    Without controls the table holds the shard's final calls. With ``control_attr`` (its
    shuffled copies) it holds every candidate, and the second value is the signed
    strength (+/- |score| / sqrt(length)) of each control call: all that
    :func:`merge_calls` needs from the controls to compute p- and q-values over every
    shard at once.
    """
    parts = list(shard_blocks(attr, names, rows, params, null=null, control_attr=control_attr))
    df = pd.concat([f for f, _ in parts], ignore_index=True) if parts else _frame(
        _call_arrays(attr, params, null, 256), names, rows)  # fmt: skip
    if control_attr is None:
        return df, None
    return df, np.concatenate([c for _, c in parts if c is not None] or [np.zeros(0)])


def shard_blocks(
    attr: RowSource,
    names: list[str],
    rows: np.ndarray,
    params: SeqletParams,
    *,
    null: LaplaceNull | EmpiricalNull,
    control_attr: RowSource | None = None,
    block: int = 32768,
) -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
    """:func:`call_shard` ``block`` sequences at a time (memory flat in the shard's size).

    Each block's table is sorted by row and start; :func:`merge_calls` sorts them all.
    Inputs are checked at the call, before any block is made.
    """
    _check_inputs(attr, control_attr, params)

    def blocks() -> Iterator[tuple[pd.DataFrame, np.ndarray | None]]:
        n = attr.shape[0]
        k = control_attr.shape[0] // max(n, 1) if control_attr is not None else 0
        progress = Progress("call-seqlets: sequences", n)
        for c0 in range(0, n, block):
            c1 = min(c0 + block, n)
            progress.update(c1)
            ra = _call_arrays(attr[c0:c1], params, null, max(256, -(-(c1 - c0) // 2)))
            df = _frame(ra, names[c0:c1], rows[c0:c1])
            if control_attr is None:
                yield df, None
                continue
            ca = _call_arrays(control_attr[c0 * k : c1 * k], params, null, 1024)
            yield df, np.where(ca["sign"] > 0, 1.0, -1.0) * _strength(ca)

    return blocks()


def merge_calls(
    candidates: list[pd.DataFrame],
    control_strengths: list[np.ndarray] | None,
    *,
    shuffles: int = 1,
    fdr: float = 0.1,
    extend_fdr: float = 0.0,
) -> pd.DataFrame:
    """Gather the shards' calls (:func:`call_shard`) into one table sorted by row and start.

    With control strengths, each candidate gets its empirical p-value and BH q-value
    against the controls of all shards (:func:`control_statistics`) and only q <= the
    cut-off (:func:`cutoff_level` of ``fdr`` and ``extend_fdr``) is kept: ``pvalue`` is
    then the empirical p-value, ``null_pvalue`` the nominal candidate p-value.
    """
    frames = [c for c in candidates if len(c)] or candidates[:1]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=SEQLET_COLUMNS)  # fmt: skip
    order = np.lexsort((df["end"].to_numpy(), df["start"].to_numpy(),
                        df["row"].to_numpy()))  # fmt: skip
    df = df.iloc[order].reset_index(drop=True)
    if control_strengths is None:
        return df
    ctrl = np.concatenate(control_strengths) if control_strengths else np.zeros(0)
    t_real, r_pos = _strength(df), _positive(df["sign"])
    p, q = _control_pq(t_real, r_pos, np.abs(ctrl), ctrl > 0, shuffles)
    keep = q <= cutoff_level(t_real, r_pos, q, np.abs(ctrl), ctrl > 0, shuffles, fdr=fdr,
                             extend_fdr=extend_fdr)  # fmt: skip
    df = df[keep].reset_index(drop=True)
    df["null_pvalue"], df["pvalue"], df["qvalue"] = df["pvalue"], p[keep], q[keep]
    return df


CALIBRATION_LEVELS = (0.01, 0.05, 0.1, 0.2, 0.5, 1.0)


def calibration_table(
    t_real: np.ndarray,
    r_pos: np.ndarray,
    q: np.ndarray,
    t_ctrl: np.ndarray,
    c_pos: np.ndarray,
    shuffles: int,
    *,
    levels: tuple[float, ...] = CALIBRATION_LEVELS,
    chosen: float | None = None,
) -> pd.DataFrame:
    """Calls and estimated false calls at several FDR levels: the trade-off a user picks.

    With ``chosen`` (the cut-off the calls used, :func:`cutoff_level`), that level is a
    row too, and column ``chosen`` marks it ("yes"; the other rows "").

    For each level, ``calls`` is the number of real candidates with q <= level;
    ``control_calls`` the number of shuffled-control calls at least as strong as the
    weakest call kept (per sign, summed), divided by ``shuffles`` (the false calls the
    controls predict among the real ones); ``estimated_fdr`` their ratio. The last level
    (1.0) is every candidate: its ``estimated_fdr`` near 1 means the real maps are not
    distinguishable from the shuffled controls' at all.
    """
    rows: list[dict[str, object]] = []
    if chosen is not None:
        levels = tuple(sorted({*levels, chosen}))
    calls, false = _expected_false(t_real, r_pos, q, t_ctrl, c_pos, shuffles, np.array(levels))
    for level, n, expected in zip(levels, calls.tolist(), false.tolist(), strict=True):
        rows.append({"fdr_level": round(level, 4), "calls": n,
                     "control_calls_per_copy": round(expected, 3),
                     "estimated_fdr": round(min(expected / n, 1.0), 4) if n else float("nan"),
                     "candidates": len(q), "control_candidates_per_copy":
                     round(len(t_ctrl) / max(shuffles, 1), 3)})  # fmt: skip
        if chosen is not None:
            rows[-1]["chosen"] = "yes" if level == chosen else ""
    return pd.DataFrame(rows)


def merge_files(
    candidates: list[str | Path],
    control_strengths: list[str | Path] | None,
    out: str | Path,
    *,
    shuffles: int = 1,
    fdr: float = 0.1,
    extend_fdr: float = 0.0,
    chunk: int = 200_000,
    calibration: str | Path | None = None,
) -> int:
    """:func:`merge_calls` on the shards' files, in two passes over them.

    The first pass reads only the columns the statistics need (sign, score, start, end);
    the second streams each table in chunks and keeps the calls that pass, so memory
    holds the final table, not every candidate. With control strengths and
    ``calibration``, :func:`calibration_table` is written there too. Returns the number
    of calls written.
    """
    for path in [*candidates, *(control_strengths or [])]:
        if not Path(path).is_file():
            raise SeqlanternError(f"{path}: seqlet shard file not found; run call-seqlets first")
    keep = None
    if control_strengths is not None:
        cols = ["start", "end", "sign", "score"]
        first = [pd.read_csv(c, sep="\t", usecols=cols, dtype={"sign": str},
                             keep_default_na=False) for c in candidates]  # fmt: skip
        real = pd.concat(first, ignore_index=True)
        ctrl = np.concatenate([np.load(c) for c in control_strengths] or [np.zeros(0)])
        t_real, r_pos = _strength(real), _positive(real["sign"])
        p, q = _control_pq(t_real, r_pos, np.abs(ctrl), ctrl > 0, shuffles)
        level = cutoff_level(t_real, r_pos, q, np.abs(ctrl), ctrl > 0, shuffles, fdr=fdr,
                             extend_fdr=extend_fdr)  # fmt: skip
        keep = q <= level
        if level > fdr:
            print(f"q-value cut-off raised from fdr {fdr:g} to {level:.4g}: the "
                  f"{int(keep.sum() - (q <= fdr).sum())} calls it adds have an estimated "
                  f"false share <= extend_fdr {extend_fdr:g}")  # fmt: skip
        if calibration is not None:
            cal = calibration_table(t_real, r_pos, q, np.abs(ctrl), ctrl > 0, shuffles,
                                    chosen=level)  # fmt: skip
        del first, real, ctrl
    kept, offset = [], 0
    for c in candidates:
        for part in pd.read_csv(c, sep="\t", dtype=str, keep_default_na=False, chunksize=chunk):
            for col, kind in (("row", "int64"), ("start", "int64"), ("end", "int64"),
                              ("score", "float64"), ("max_abs", "float64"),
                              ("pvalue", "float64")):  # fmt: skip
                part[col] = part[col].astype(kind)
            if keep is not None:
                sel = keep[offset : offset + len(part)]
                part = part[sel].copy()
                part["null_pvalue"] = part["pvalue"]
                part["pvalue"], part["qvalue"] = p[offset : offset + len(sel)][sel], q[
                    offset : offset + len(sel)][sel]  # fmt: skip
                offset += len(sel)
            kept.append(part)
    cols = SEQLET_COLUMNS + (CONTROL_COLUMNS if keep is not None else [])
    df = pd.concat(kept, ignore_index=True) if kept else pd.DataFrame(columns=cols)
    order = np.lexsort((df["end"].to_numpy(), df["start"].to_numpy(), df["row"].to_numpy()))
    df = df.iloc[order].reset_index(drop=True)
    if calibration is not None:
        if keep is None:  # no controls: the calls at several nominal p-value cut-offs
            pv = df["pvalue"].to_numpy(dtype=float)
            cal = pd.DataFrame({"pvalue_level": list(CALIBRATION_LEVELS),
                                "calls": [int((pv <= lv).sum()) for lv in CALIBRATION_LEVELS],
                                "candidates": len(df)})  # fmt: skip
        with atomic_outputs(out, calibration) as (tmp, tmp_cal):
            write_tsv(df, tmp)
            write_tsv(cal, tmp_cal)
    else:
        write_seqlets(df, out)
    return len(df)


def write_seqlets(df: pd.DataFrame, path: str | Path) -> None:
    """Write the seqlet table (atomically)."""
    write_tsv(df, path)
