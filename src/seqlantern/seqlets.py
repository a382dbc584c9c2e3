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

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from seqlantern.io import SeqlanternError, write_tsv

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


def _span_sums(a: np.ndarray, length: int) -> np.ndarray:
    c = np.concatenate([np.zeros((a.shape[0], 1)), np.cumsum(a, axis=1)], axis=1)
    return c[:, length:] - c[:, :-length]


@dataclass
class LaplaceNull:
    """Laplace null per span length from the median and the MAD of sampled span sums."""

    centre: dict[int, float]
    scale: dict[int, float]

    @classmethod
    def fit(cls, per_pos: np.ndarray, lengths: range) -> LaplaceNull:
        """Fit on per-position attribution of sampled sequences (n, L)."""
        centre, scale = {}, {}
        for ell in lengths:
            s = _span_sums(per_pos, ell).ravel()
            med = float(np.median(s))
            mad = float(np.median(np.abs(s - med)))
            centre[ell], scale[ell] = med, max(mad / np.log(2), 1e-12)
        return cls(centre, scale)

    def sf(self, scores: np.ndarray, length: int) -> np.ndarray:
        """Upper-tail probability for spans of ``length`` bp (two-sided by sign flipping)."""
        z = (np.asarray(scores, dtype=float) - self.centre[length]) / self.scale[length]
        return np.where(z >= 0, 0.5 * np.exp(-np.abs(z)), 1 - 0.5 * np.exp(-np.abs(z)))

    def isf(self, p: float, length: int) -> float:
        """Score whose upper-tail probability is ``p``."""
        return self.centre[length] - self.scale[length] * np.log(2 * p)


@dataclass
class EmpiricalNull:
    """Sorted span sums sampled from the real maps.

    Negative seqlets are called on the sign-flipped track against this same (upper-tail)
    distribution, which assumes the background is roughly symmetric around zero.
    """

    sorted_sums: dict[int, np.ndarray]

    @classmethod
    def fit(cls, per_pos: np.ndarray, lengths: range) -> EmpiricalNull:
        """Fit on per-position attribution of sampled sequences (n, L)."""
        return cls({ell: np.sort(_span_sums(per_pos, ell).ravel()) for ell in lengths})

    def sf(self, scores: np.ndarray, length: int) -> np.ndarray:
        """(#null >= score + 1) / (n + 1)."""
        s = self.sorted_sums[length]
        ge = len(s) - np.searchsorted(s, np.asarray(scores, dtype=float), side="left")
        return (ge + 1) / (len(s) + 1)

    def isf(self, p: float, length: int) -> float:
        """Score whose upper-tail probability is ``p``."""
        s = self.sorted_sums[length]
        k = int(np.clip(np.ceil(len(s) * (1 - p)), 0, len(s) - 1))
        return float(s[k])


NULLS: dict[str, type[LaplaceNull] | type[EmpiricalNull]] = {
    "laplace": LaplaceNull,
    "empirical": EmpiricalNull,
}


@dataclass(frozen=True)
class SeqletParams:
    """Seqlet calling options (see ``config/README.md``)."""

    window: int = 7
    min_length: int = 5
    max_length: int = 30
    flank: int = 2
    extend_fraction: float = 0.2
    pvalue: float = 0.02
    null: str = "laplace"
    null_sample: int = 2000
    signs: str = "both"
    seed: int = 0


def per_position(attr: np.ndarray) -> np.ndarray:
    """Attribution of the observed base at each position: (n, 4, L) -> (n, L)."""
    return np.asarray(attr, dtype=np.float64).sum(axis=1)


def fit_null(attr: np.ndarray, params: SeqletParams) -> LaplaceNull | EmpiricalNull:
    """Fit the configured null on a seeded sample of sequences (bounded memory)."""
    if params.null not in NULLS:
        raise SeqlanternError(f"seqlets.null {params.null!r} unknown; known: {sorted(NULLS)}")
    n = attr.shape[0]
    rng = np.random.default_rng(params.seed)
    rows = np.sort(rng.choice(n, size=min(n, params.null_sample), replace=False))
    pp = per_position(attr[rows])
    lengths = range(1, min(params.max_length, pp.shape[1]) + 1)
    return NULLS[params.null].fit(pp, lengths)


def _call_one(
    b: np.ndarray, null: LaplaceNull | EmpiricalNull, p: SeqletParams, threshold: float
) -> list[tuple[int, int, float, float]]:
    """Greedy calls on one sign-flipped track ``b`` (length L)."""
    length = len(b)
    used = np.zeros(length, dtype=bool)
    out = []
    w = min(p.window, length)
    while True:
        sums = _span_sums(b[None, :], w)[0]
        blocked = _span_sums(used[None, :].astype(float), w)[0] > 0
        sums[blocked] = -np.inf
        j = int(np.argmax(sums))
        if not np.isfinite(sums[j]) or sums[j] < threshold:
            break
        start, end = j, j + w
        level = p.extend_fraction * max(sums[j] / w, 0)
        while end - start < p.max_length:
            left_ok = start > 0 and not used[start - 1] and b[start - 1] > level
            right_ok = end < length and not used[end] and b[end] > level
            if not (left_ok or right_ok):
                break
            if left_ok and (not right_ok or b[start - 1] >= b[end]):
                start -= 1
            else:
                end += 1
        while end - start > p.min_length and b[start] <= 0:
            start += 1
        while end - start > p.min_length and b[end - 1] <= 0:
            end -= 1
        score = float(b[start:end].sum())
        # the seqlet's p-value is that of its most significant span: the detected core
        # window or the grown seqlet
        pval = float(
            min(null.sf(np.array([sums[j]]), w)[0], null.sf(np.array([score]), end - start)[0])
        )
        used[max(start - p.flank, 0) : end + p.flank] = True
        if pval <= p.pvalue:
            out.append((start, end, score, pval))
    return out


def call_seqlets(
    attr: np.ndarray,
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
        (n, 4, L) attributions (memory-mapped is fine; read in chunks).
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
    w = min(params.window, attr.shape[2])
    threshold = null.isf(params.pvalue, w)
    signs = {"both": (1, -1), "positive": (1,), "negative": (-1,)}[params.signs]
    records = []
    for c0 in range(0, attr.shape[0], chunk):
        pp = per_position(attr[c0 : c0 + chunk])
        for k in range(pp.shape[0]):
            i = c0 + k
            for sgn in signs:
                for start, end, score, pval in _call_one(sgn * pp[k], null, params, threshold):
                    seg = pp[k, start:end]
                    records.append((names[i], int(rows[i]), start, end, "+" if sgn > 0 else "-",
                                    sgn * score, float(np.abs(seg).max()), pval))  # fmt: skip
    df = pd.DataFrame(records, columns=[c for c in SEQLET_COLUMNS if c != "seqlet_id"])
    df = df.sort_values(["row", "start", "end"], kind="stable").reset_index(drop=True)
    df.insert(
        2,
        "seqlet_id",
        [f"{n}:{s}-{e}" for n, s, e in zip(df["name"], df["start"], df["end"], strict=True)],
    )
    return df


def _strength(df: pd.DataFrame) -> np.ndarray:
    length = (df["end"] - df["start"]).to_numpy(dtype=float)
    return np.abs(df["score"].to_numpy(dtype=float)) / np.sqrt(np.maximum(length, 1))


def control_statistics(
    real: pd.DataFrame, control: pd.DataFrame, *, shuffles: int
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
    pvals = np.ones(len(real))
    qvals = np.ones(len(real))
    for sign in ("+", "-"):
        r_idx = np.flatnonzero(real["sign"].to_numpy() == sign)
        if r_idx.size == 0:
            continue
        t = _strength(real)[r_idx]
        c = np.sort(_strength(control)[control["sign"].to_numpy() == sign])
        n_ge = len(c) - np.searchsorted(c, t, side="left")
        m = len(r_idx)
        p = np.minimum((1 + n_ge) / (1 + shuffles * m), 1.0)
        order = np.argsort(p, kind="stable")
        ranked = p[order] * m / np.arange(1, m + 1)
        q = np.minimum.accumulate(ranked[::-1])[::-1]
        q_out = np.empty(m)
        q_out[order] = np.minimum(q, 1.0)
        pvals[r_idx], qvals[r_idx] = p, q_out
    return pvals, qvals


def call_with_control(
    attr: np.ndarray,
    names: list[str],
    rows: np.ndarray,
    control_attr: np.ndarray,
    params: SeqletParams,
    *,
    fdr: float = 0.05,
) -> pd.DataFrame:
    """Call seqlets on real and shuffled-control maps with identical settings; keep q <= fdr.

    The candidate threshold (``params.pvalue`` under the null fitted on the real maps)
    only limits how many candidates are considered; the reported ``pvalue`` and ``qvalue``
    come from the control (:func:`control_statistics`), and ``null_pvalue`` keeps the
    nominal candidate p-value.
    """
    if control_attr.shape[0] % max(attr.shape[0], 1) or control_attr.shape[1:] != attr.shape[1:]:
        raise SeqlanternError(
            f"control attributions {control_attr.shape} are not whole shuffles of the real "
            f"ones {attr.shape}; make both with the same attribute run"
        )
    shuffles = control_attr.shape[0] // attr.shape[0]
    null = fit_null(attr, params)
    real = call_seqlets(attr, names, rows, params, null=null)
    ctrl_rows = np.repeat(rows, shuffles)
    ctrl_names = [f"{n}#shuf{j}" for n in names for j in range(shuffles)]
    control = call_seqlets(control_attr, ctrl_names, ctrl_rows, params, null=null)
    p, q = control_statistics(real, control, shuffles=shuffles)
    real = real.assign(null_pvalue=real["pvalue"], pvalue=p, qvalue=q)
    return real[real["qvalue"] <= fdr].reset_index(drop=True)


def write_seqlets(df: pd.DataFrame, path: str | Path) -> None:
    """Write the seqlet table (atomically)."""
    write_tsv(df, path)
