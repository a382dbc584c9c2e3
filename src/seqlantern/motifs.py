"""Motif databases (MEME format) and TOMTOM-style motif comparison.

The comparison follows TOMTOM (Gupta et al. 2007): column-by-column similarity (Pearson
correlation by default), alignment at every offset with both strands, and a p-value for an
alignment from the null distribution of each query column's scores against *every* column
of the database. This stage approximates the sum of column scores under the null by a
normal distribution (the database has thousands of columns, so the per-column moments are
well estimated); the best-offset p-value is corrected for the number of offsets tried,
E = p x database size, and q-values are Benjamini-Hochberg over the database for each query
(TOMTOM's definition).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import ndtr

from seqlantern.io import SeqlanternError


@dataclass(frozen=True)
class Motif:
    """A position probability matrix ``pwm`` of shape (w, 4), alphabet ACGT."""

    id: str
    name: str
    pwm: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        """Number of columns."""
        return int(self.pwm.shape[0])

    def consensus(self) -> str:
        """Most likely base at each column."""
        return "".join("ACGT"[i] for i in self.pwm.argmax(axis=1))


_NUM = re.compile(r"^\s*[-+0-9.eE]+(\s+[-+0-9.eE]+)*\s*$")


def read_meme(path: str | Path) -> list[Motif]:
    """Read a MEME-format motif file (minimal or full MEME output).

    Robust to the usual traps: Windows line ends, a last motif ending at EOF without a
    blank line, ``URL`` lines, missing ``nsites``/``E`` fields, and rows that do not sum
    exactly to one (they are renormalised). A malformed matrix raises a one-line error
    naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: motif file not found; check motifs.database in the config")
    lines = p.read_text(errors="replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(line.startswith("MEME version") for line in lines[:50]):
        raise SeqlanternError(f"{p}: line 1: not a MEME motif file (no 'MEME version' line)")
    alphabet = "ACGT"
    motifs: list[Motif] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("ALPHABET"):
            alph = line.split("=", 1)[1].strip() if "=" in line else ""
            if alph and alph.split()[0] not in ("ACGT", "DNA"):
                raise SeqlanternError(f"{p}: line {i + 1}: alphabet {alph!r} is not DNA (ACGT)")
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise SeqlanternError(f"{p}: line {i + 1}: MOTIF line without an identifier")
            mid, name = parts[1], parts[2] if len(parts) > 2 else parts[1]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("letter-probability"):
                if lines[j].startswith("MOTIF"):
                    raise SeqlanternError(
                        f"{p}: line {i + 1}: motif {mid} has no letter-probability matrix"
                    )
                j += 1
            if j >= len(lines):
                raise SeqlanternError(
                    f"{p}: line {i + 1}: motif {mid} has no letter-probability matrix"
                )
            header = lines[j]
            m = re.search(r"w=\s*(\d+)", header)
            width = int(m.group(1)) if m else None
            rows: list[list[float]] = []
            k = j + 1
            while k < len(lines) and (width is None or len(rows) < width):
                s = lines[k].strip()
                if not s:
                    if rows and width is None:
                        break
                    k += 1
                    continue
                if not _NUM.match(s):
                    if rows or s.startswith(("MOTIF", "URL")):
                        break
                    raise SeqlanternError(
                        f"{p}: line {k + 1}: motif {mid}: expected rows of 4 probabilities, "
                        f"found {s[:30]!r}"
                    )
                vals = [float(v) for v in s.split()]
                if len(vals) != len(alphabet):
                    raise SeqlanternError(
                        f"{p}: line {k + 1}: motif {mid}: row has {len(vals)} values, need 4"
                    )
                rows.append(vals)
                k += 1
            if not rows or (width is not None and len(rows) != width):
                raise SeqlanternError(
                    f"{p}: line {j + 1}: motif {mid}: header says w={width} but "
                    f"{len(rows)} rows follow; fix the matrix or its w= field"
                )
            pwm = np.asarray(rows, dtype=np.float64)
            if (pwm < 0).any() or (pwm.sum(axis=1) <= 0).any():
                raise SeqlanternError(f"{p}: line {j + 1}: motif {mid}: negative or empty row")
            pwm = pwm / pwm.sum(axis=1, keepdims=True)
            motifs.append(Motif(mid, name, pwm))
            i = k
            continue
        i += 1
    if not motifs:
        raise SeqlanternError(f"{p}: no motifs found (no 'MOTIF' entries)")
    return motifs


def write_meme(motifs: list[Motif], path: str | Path) -> None:
    """Write motifs as minimal MEME format (atomically)."""
    from seqlantern.io import atomic_outputs

    with atomic_outputs(path) as (tmp,), open(tmp, "w") as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        fh.write("Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n")
        for m in motifs:
            fh.write(f"MOTIF {m.id} {m.name}\n")
            fh.write(f"letter-probability matrix: alength= 4 w= {m.width} nsites= 20 E= 0\n")
            for row in m.pwm:
                fh.write(" ".join(f"{v:.6f}" for v in row) + "\n")
            fh.write("\n")


def read_families(path: str | Path | None, motifs: list[Motif]) -> dict[str, frozenset[str]]:
    """TF families per motif id from a sidecar TSV (motif_id, tf_family; ';'-separated).

    Without a table every motif is its own family, named by its TF name with trailing
    digits removed (GATA1 -> GATA), which is a fair proxy for paralog families.
    """
    fams: dict[str, frozenset[str]] = {}
    if path is not None and Path(path).is_file():
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        for r in df.itertuples(index=False):
            fam = frozenset(f for f in str(r.tf_family).split(";") if f)
            if fam:
                fams[str(r.motif_id)] = fam
    for m in motifs:
        if m.id not in fams:
            fams[m.id] = frozenset({re.sub(r"\d+$", "", m.name.upper())})
    return fams


def revcomp_pwm(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a (w, 4) ACGT matrix."""
    return pwm[::-1, ::-1].copy()


def _standardise(cols: np.ndarray) -> np.ndarray:
    """Centre and scale each 4-vector so that a dot product / 4 is Pearson's r."""
    c = cols - cols.mean(axis=-1, keepdims=True)
    sd = np.sqrt((c**2).mean(axis=-1, keepdims=True))
    return np.divide(c, sd, out=np.zeros_like(c), where=sd > 1e-9)


@dataclass
class MotifIndex:
    """A database packed for fast comparison: both strands, padded to a common width."""

    motifs: list[Motif]
    cols: np.ndarray  # (2K, W, 4) standardised columns, zero in padding
    widths: np.ndarray  # (2K,)
    valid: np.ndarray  # (2K, W) bool
    flat: np.ndarray  # (4, 2K * W) float32, contiguous: all columns for one matmul
    col_sum: np.ndarray  # (4,) sum of all valid standardised columns
    gram: np.ndarray  # (4, 4) sum of c c^T over valid columns

    @classmethod
    def build(cls, motifs: list[Motif]) -> MotifIndex:
        """Pack ``motifs`` (forward strands first, then reverse complements)."""
        mats = [m.pwm for m in motifs] + [revcomp_pwm(m.pwm) for m in motifs]
        w = max(m.shape[0] for m in mats)
        cols = np.zeros((len(mats), w, 4))
        valid = np.zeros((len(mats), w), dtype=bool)
        for k, m in enumerate(mats):
            cols[k, : m.shape[0]] = _standardise(m)
            valid[k, : m.shape[0]] = True
        widths = np.array([m.shape[0] for m in mats])
        flat = np.ascontiguousarray(cols.reshape(-1, 4).T, dtype=np.float32)
        vc = cols[valid]
        return cls(motifs, cols, widths, valid, flat, vc.sum(axis=0), vc.T @ vc)


@dataclass(frozen=True)
class MotifHit:
    """Best database match of one query."""

    index: int
    pvalue: float
    evalue: float
    qvalue: float
    offset: int  # query column 0 aligns to motif column ``offset`` (may be negative)
    strand: str


def compare(
    query: np.ndarray,
    db: MotifIndex,
    *,
    weights: np.ndarray | None = None,
    min_overlap: int = 5,
) -> tuple[np.ndarray, MotifHit]:
    """Compare one query matrix with every database motif.

    Parameters
    ----------
    query
        (m, 4) matrix: a probability matrix, a one-hot sequence or a contribution matrix.
    db
        Packed database.
    weights
        Optional per-column weights (e.g. attribution magnitude) so that flanking columns
        of a seqlet count less than its core; the null moments are weighted the same way.
    min_overlap
        Fewest aligned columns (capped at the query and motif widths).

    Returns
    -------
    Per-motif p-values (length K, best strand and offset) and the best hit.
    """
    q = _standardise(np.asarray(query, dtype=np.float64))
    m = q.shape[0]
    w = np.ones(m) if weights is None else np.asarray(weights, dtype=np.float64)
    k2, width, _ = db.cols.shape
    valid = db.valid
    # Null moments of each query column's score over every database column, from the
    # database's column sum and Gram matrix: O(m) instead of O(m x columns).
    nvalid = valid.sum()
    mu = (q @ db.col_sum) / 4.0 / nvalid
    var = np.maximum(np.einsum("ia,ab,ib->i", q, db.gram, q) / 16.0 / nvalid - mu**2, 0)
    # weighted scores[i, k, j] = w_i * Pearson r(query column i, motif k column j)
    ws = ((q * w[:, None]).astype(np.float32) @ db.flat).reshape(m, k2, width) / 4.0
    # Skew trick: row i shifted by (m - 1 - i) puts every alignment offset in one column,
    # so one sum over i gives the score of all offsets of all motifs at once. Padding
    # columns are all-zero, so they add nothing.
    n_off = width + m - 1
    s_sum = np.zeros((k2, n_off), dtype=np.float32)
    for i in range(m):
        s_sum[:, m - 1 - i : m - 1 - i + width] += ws[i]
    # Null moments and overlaps only depend on which query columns are aligned, a
    # contiguous range [lo, hi) per motif and offset: prefix sums give them directly.
    d = np.arange(n_off)[None, :]
    lo = np.maximum(0, m - 1 - d)
    hi = np.minimum(m, m - 1 - d + db.widths[:, None])
    hi = np.maximum(hi, lo)

    def range_sum(c: np.ndarray) -> np.ndarray:
        cs = np.concatenate([[0.0], np.cumsum(c)])
        return cs[hi] - cs[lo]

    m_sum = range_sum(w * mu)
    v_sum = range_sum(w**2 * var)
    overlap = (hi - lo).astype(float)
    need = np.minimum(min_overlap, np.minimum(db.widths, m))[:, None]
    usable = overlap >= need
    sd = np.sqrt(v_sum)
    z = np.divide(s_sum - m_sum, sd, out=np.full_like(s_sum, -np.inf), where=usable & (sd > 0))
    best_col = z.argmax(axis=1)  # the p-value is monotone in z: take it at the best only
    best_p = ndtr(-z[np.arange(k2), best_col])
    best_off = best_col - (m - 1)
    n_off_used = usable.sum(axis=1).astype(float)
    kk = len(db.motifs)
    # correct the best offset for the number of offsets tried on both strands
    n_tries = np.maximum(n_off_used[:kk] + n_off_used[kk:], 1)
    fwd_better = best_p[:kk] <= best_p[kk:]
    pmin = np.where(fwd_better, best_p[:kk], best_p[kk:])
    pmot = -np.expm1(n_tries * np.log1p(-np.minimum(pmin, 1 - 1e-16)))
    pmot = np.clip(pmot, np.finfo(float).tiny, 1.0)
    order = np.argsort(pmot, kind="stable")
    ranked = pmot[order] * kk / np.arange(1, kk + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    top = int(order[0])
    strand = "+" if fwd_better[top] else "-"
    off = int(best_off[top] if fwd_better[top] else best_off[top + kk])
    hit = MotifHit(top, float(pmot[top]), float(pmot[top] * kk), float(min(q_sorted[0], 1.0)),
                   off, strand)  # fmt: skip
    return pmot, hit


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Per-column information content (bits) of a probability matrix."""
    p = np.clip(pwm, 1e-9, 1)
    return 2 + (p * np.log2(p)).sum(axis=1)


def sample_sites(pwm: np.ndarray, n: int, rng: np.random.Generator) -> list[str]:
    """Sample ``n`` sites from a probability matrix (independent columns)."""
    cum = np.cumsum(pwm, axis=1)
    u = rng.random((n, pwm.shape[0], 1))
    idx = (u > cum[None]).sum(axis=2).clip(0, 3)
    return ["".join("ACGT"[i] for i in row) for row in idx]
