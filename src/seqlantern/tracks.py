"""Genome-browser tracks: attribution bigWigs and an element bigBed.

What IGV and the UCSC browser open (the format ChromBPNet's ``contribs_bw`` and Fi-NeMo
use): a signed per-base attribution track in genome coordinates, and the elements with
their label, decision, motif and effect as a bigBed.

- ``attribution.bw``: at each base, the attribution of the observed base (the map
  summed over the one-hot: gradient x input's only non-zero channel). Genomic input
  (``coords=genome``): genome coordinates, chromosome sizes from the genome's ``.fai``;
  a minus-strand window's position ``p`` is genome base ``end - 1 - p``. FASTA input:
  one "chromosome" per record (its name, its length), so IGV opens the track with the
  same FASTA loaded as the genome. Where windows overlap (tiling with a stride below the
  window), the track holds the **mean** of the overlapping windows' values at each base;
  padding (all-zero one-hot columns, bases off a chromosome end) is not written.
- ``hypothetical_{A,C,G,T}.bw`` (optional): the hypothetical contribution of each base
  at each position, same rules (a minus-strand window's base is complemented).
- ``elements.bb``: the rows of ``all_elements.bed`` as BED9 + 10 autoSql fields
  (:data:`AUTOSQL`), coloured by class like ``*.browser.bed``.

Windows are swept chromosome by chromosome in genome order with a rolling buffer, and
values go to the writer as a generator, so memory stays flat in the genome's size (the
buffer spans at most the longest chain of overlapping windows). The formats are written
by ``pybigtools`` (bigtools' Rust writer), not by hand.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.encode import read_index
from seqlantern.export import BED_EXTRA, to_browser_bed
from seqlantern.io import Progress, RowSource, SeqlanternError, atomic_outputs, load_npy, read_tsv

AUTOSQL = """table seqlanternElements
"seqlantern elements: class colour, label, decision, motif match and measured effect"
(
string chrom; "Reference sequence (chromosome or FASTA record)"
uint chromStart; "Start (0-based)"
uint chromEnd; "End (exclusive)"
string name; "Motif archetype cluster, artifact name or unexplained"
uint score; "min(1000, round(100 * -log10 seqlet p-value))"
char[1] strand; "Motif strand, or ."
uint thickStart; "Same as chromStart"
uint thickEnd; "Same as chromEnd"
uint reserved; "itemRgb: colour of the class"
string label; "motif, artifact or unexplained"
string motifId; "Best database motif (motif elements)"
string motifName; "Its name"
string motifQvalue; "TOMTOM q-value of the match"
string artifactName; "Artifact source (artifact elements)"
string attribution; "Summed signed attribution of the element"
string pvalue; "Seqlet call p-value"
string decision; "plausible, artifact, junction or unexplained (shortcut tests)"
string effect; "Prediction drop when the element is shuffled"
string shortcut; "True when the prediction depends on its artifact part"
)
"""


def chrom_sizes(index: pd.DataFrame, genome: str | Path | None = None) -> dict[str, int]:
    """Chromosome sizes of the tracks: the genome's ``.fai`` for genomic windows, the
    record lengths for FASTA records."""
    if (index["coords"] == "genome").any():
        if genome is None:
            raise SeqlanternError(
                "tracks: genomic windows need the genome FASTA (--genome) for its chromosome sizes"
            )
        fai = Path(f"{genome}.fai")
        if not fai.is_file():
            raise SeqlanternError(f"{fai}: genome index not found; run encode on {genome} first")
        sizes: dict[str, int] = {}
        for n, line in enumerate(fai.read_text().splitlines(), 1):
            parts = line.split("\t")
            if len(parts) < 2 or not parts[1].isdigit():
                raise SeqlanternError(f"{fai}: line {n}: not a .fai line (name, length, ...)")
            sizes[parts[0]] = int(parts[1])
        missing = sorted(set(index["chrom"]) - set(sizes))
        if missing:
            raise SeqlanternError(
                f"{fai}: chromosome {missing[0]!r} of the index is not in the genome; use the "
                "genome the windows were encoded from"
            )
        return sizes
    return {str(n): int(s) for n, s in zip(index["chrom"], index["source_length"], strict=True)}


def _spans(index: pd.DataFrame, rows: np.ndarray, length: int) -> pd.DataFrame:
    """Each attributed row's first covered coordinate, strand and chromosome."""
    ix = index.iloc[rows]
    minus = (ix["strand"].to_numpy() == "-") & (ix["coords"].to_numpy() == "genome")
    first = np.where(minus, ix["end"].to_numpy() - length, ix["start"].to_numpy())
    return pd.DataFrame({"chrom": ix["chrom"].astype(str).to_numpy(), "first": first,
                         "minus": minus, "i": np.arange(len(rows))})  # fmt: skip


def _per_base(
    attr: RowSource, onehot: RowSource, rows: np.ndarray, i: int, channel: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """(values, observed) of attributed row ``i`` along the window: the observed base's
    attribution (``channel`` None) or one base's hypothetical contribution."""
    x = np.asarray(onehot[int(rows[i])], dtype=np.float64)
    a = np.asarray(attr[i], dtype=np.float64)
    seen = x.sum(axis=0) > 0
    if channel is None:
        return (a * x).sum(axis=0), seen
    return a[channel], seen


class _Sweep:
    """Sums and counts of one chromosome's bases not yet written (a rolling buffer)."""

    def __init__(self, chrom: str, size: int) -> None:
        self.chrom, self.size = chrom, size
        self.total = np.zeros(0)
        self.count = np.zeros(0, dtype=np.int64)
        self.start = 0  # coordinate of the buffer's first base

    def flush(self, upto: int) -> Iterator[tuple[str, int, int, float]]:
        """Write (as values) every covered base before ``upto`` and drop it."""
        k = max(0, min(upto - self.start, len(self.total)))
        for j in np.flatnonzero(self.count[:k] > 0):
            pos = self.start + int(j)
            if 0 <= pos < self.size:
                yield self.chrom, pos, pos + 1, float(self.total[j] / self.count[j])
        self.total, self.count = self.total[k:], self.count[k:]
        self.start += k

    def add(self, first: int, values: np.ndarray, seen: np.ndarray) -> None:
        """Add one window's values (bases ``first`` .. ``first + len - 1``)."""
        if not len(self.total):
            self.start = first
        need = first + len(values) - self.start
        if need > len(self.total):
            grow = need - len(self.total)
            self.total = np.concatenate([self.total, np.zeros(grow)])
            self.count = np.concatenate([self.count, np.zeros(grow, dtype=np.int64)])
        off = first - self.start
        self.total[off : off + len(values)] += np.where(seen, values, 0.0)
        self.count[off : off + len(values)] += seen


def track_values(
    attr: RowSource,
    onehot: RowSource,
    index: pd.DataFrame,
    rows: np.ndarray,
    sizes: dict[str, int],
    *,
    base: str | None = None,
    progress: Progress | None = None,
) -> Iterator[tuple[str, int, int, float]]:
    """Per-base ``(chrom, start, start + 1, value)`` in genome order (see the module).

    ``base`` (A, C, G or T) gives that base's hypothetical contribution instead of the
    observed base's attribution; on a minus-strand window the model's base is the
    complement of the genome's.
    """
    length = int(attr.shape[2])
    sp = _spans(index, rows, length)
    done = 0
    for chrom in sorted(sp["chrom"].unique()):
        sweep = _Sweep(chrom, sizes[chrom])
        mine = sp[sp["chrom"] == chrom].sort_values(["first", "i"], kind="stable")
        for r in mine.itertuples(index=False):
            yield from sweep.flush(int(r.first))
            ch = None
            if base is not None:
                ch = "ACGT".index(base)
                if r.minus:
                    ch = 3 - ch  # the model saw the complement of the genome's base
            v, seen = _per_base(attr, onehot, rows, int(r.i), ch)
            if r.minus:
                v, seen = v[::-1], seen[::-1]
            sweep.add(int(r.first), v, seen)
            done += 1
            if progress is not None:
                progress.update(done)
        yield from sweep.flush(sweep.start + len(sweep.total))


def write_tracks(
    attributions: str | Path,
    predictions: str | Path,
    onehot: str | Path,
    index_tsv: str | Path,
    out_bigwig: str | Path,
    *,
    genome: str | Path | None = None,
    elements_bed: str | Path | None = None,
    out_bigbed: str | Path | None = None,
    hypothetical: list[str | Path] | None = None,
    out_hypothetical: list[str | Path] | None = None,
) -> int:
    """Write ``attribution.bw`` (and ``elements.bb``, ``hypothetical_{A,C,G,T}.bw``).

    ``hypothetical`` are the attribute stage's hypothetical arrays (its shards, in
    order: rows like ``attributions``); ``out_hypothetical`` the four paths for A, C, G,
    T. All outputs are written or none. Returns the number of bases in the attribution
    track.
    """
    import pybigtools

    from seqlantern.shards import StackedRows

    index = read_index(index_tsv)
    x = load_npy(onehot, what="one-hot")
    attr = load_npy(attributions, what="attribution")
    preds = read_tsv(predictions, what="predictions", ints=("row",))
    rows = preds["row"].to_numpy(dtype=np.int64)
    if len(rows) != attr.shape[0]:
        raise SeqlanternError(
            f"{predictions}: {len(rows)} rows but {attributions} has {attr.shape[0]} maps; "
            "both must come from the same attribute run"
        )
    if len(rows) and (rows.max() >= len(index) or x.shape[2] != attr.shape[2]):
        raise SeqlanternError(
            f"{attributions}: maps do not fit {onehot} / {index_tsv}; use the encode "
            "outputs the maps were made from"
        )
    sizes = chrom_sizes(index, genome)
    used = sorted(set(index["chrom"].astype(str).iloc[rows]))
    chroms = {c: sizes[c] for c in used}
    hyp = None
    if hypothetical:
        hyp = StackedRows.load(hypothetical, what="hypothetical")
        if hyp.shape != attr.shape:
            raise SeqlanternError(
                f"{hypothetical[0]}: hypothetical shape {hyp.shape} differs from the "
                f"attributions' {attr.shape}; use the same attribute run"
            )
        if not out_hypothetical or len(out_hypothetical) != 4:
            raise SeqlanternError("tracks: --out-hypothetical needs four paths (A, C, G, T)")
    bed = None
    if elements_bed is not None:
        bed = _read_detail_bed(elements_bed)
        unknown = sorted(set(bed["chrom"]) - set(sizes))
        if unknown:
            raise SeqlanternError(
                f"{elements_bed}: chromosome {unknown[0]!r} has no size (not in the genome "
                "or the index); export the BED from the same run"
            )
        past = bed[bed["end"].to_numpy() > bed["chrom"].map(sizes).to_numpy()]
        if len(past):
            r = past.iloc[0]
            raise SeqlanternError(
                f"{elements_bed}: element {r['chrom']}:{r['start']}-{r['end']} ends past "
                f"{r['chrom']} ({sizes[r['chrom']]} bp)"
            )
    outs = [Path(out_bigwig)]
    if bed is not None and out_bigbed is not None:
        outs.append(Path(out_bigbed))
    if hyp is not None and out_hypothetical:
        outs += [Path(p) for p in out_hypothetical]
    n_bases = 0
    with atomic_outputs(*outs) as tmps:
        progress = Progress("tracks: attributed windows", len(rows))

        def counted() -> Iterator[tuple[str, int, int, float]]:
            nonlocal n_bases
            for v in track_values(attr, x, index, rows, sizes, progress=progress):
                n_bases += 1
                yield v

        pybigtools.open(str(tmps[0]), "w").write(chroms, counted())
        k = 1
        if bed is not None and out_bigbed is not None:
            b = to_browser_bed(bed)
            extra = bed[BED_EXTRA].astype(str).to_numpy()
            body = b.iloc[:, 3:].astype(str).to_numpy()
            order = np.lexsort((b["start"].to_numpy(), b["chrom"].to_numpy()))
            bb_chroms = {c: sizes[c] for c in sorted(set(b["chrom"]) | set(used))}
            entries = (
                (str(b["chrom"].iat[i]), int(b["start"].iat[i]), int(b["end"].iat[i]),
                 "\t".join([*body[i], *extra[i]]))
                for i in order
            )  # fmt: skip
            pybigtools.open(str(tmps[k]), "w").write(bb_chroms, entries, autosql=AUTOSQL)
            k += 1
        if hyp is not None:
            for j, base in enumerate("ACGT"):
                pybigtools.open(str(tmps[k + j]), "w").write(
                    chroms, track_values(hyp, x, index, rows, sizes, base=base)
                )
    print(f"[tracks] {n_bases:,} bases on {len(chroms)} sequence(s) in {outs[0]}", flush=True)
    return n_bases


def _read_detail_bed(path: str | Path) -> pd.DataFrame:
    """A detail BED of :mod:`seqlantern.export` (16 columns, ``#`` header optional)."""
    cols = ["chrom", "start", "end", "name", "score", "strand", *BED_EXTRA]
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: BED file not found; run export first")
    try:
        df = pd.read_csv(p, sep="\t", header=None, comment="#", dtype=str,
                         keep_default_na=False)  # fmt: skip
    except pd.errors.EmptyDataError:
        df = pd.DataFrame(columns=cols)
    if len(df.columns) != len(cols) and len(df):
        raise SeqlanternError(
            f"{p}: {len(df.columns)} columns, expected the {len(cols)} of seqlantern export"
        )
    df.columns = cols
    for c in ("start", "end", "score"):
        df[c] = df[c].astype(np.int64)
    return df
