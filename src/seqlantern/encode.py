"""One-hot encoding of FASTA records or BED regions on a genome.

Policy, chosen on purpose and documented in ``config/README.md``:

- Alphabet order is ``A, C, G, T`` and the layout is ``(N, 4, L)``, as in tangermeme,
  Basenji and most PyTorch genomics models.
- ``N`` is an all-zero column: the model sees "no base", which is also what centre
  padding produces, so padding and unknown bases are the same thing to the model.
- Lower case (soft-masked repeats) is upper-cased by default: soft-masking marks repeats,
  not unknown bases. ``lowercase="n"`` treats soft-masked bases as ``N`` instead.
- Other IUPAC codes (``R``, ``Y`` ...) are all-zero (``iupac="zero"``, default), spread
  evenly over the bases they stand for (``"fractional"``), or an error (``"error"``).
- Unequal lengths are centre-padded with ``N`` / centre-cropped to ``length``; when
  ``length`` is unset every record must have the same length. BED regions are instead
  resized around their centre on the genome, so no padding is needed inside a contig.
- Duplicate names are an error: every later output is keyed by name.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqlantern.io import (
    IUPAC,
    SeqlanternError,
    atomic_outputs,
    open_npy_writer,
    read_fasta,
)

ALPHABET = "ACGT"
INDEX_COLUMNS = ["name", "chrom", "start", "end", "strand", "split", "source_length", "coords"]

_IUPAC_BASES = {
    "A": "A", "C": "C", "G": "G", "T": "T", "R": "AG", "Y": "CT", "S": "CG", "W": "AT",
    "K": "GT", "M": "AC", "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "",
}  # fmt: skip


def _lookup(iupac: str) -> np.ndarray:
    table = np.zeros((256, 4), dtype=np.float32)
    for code, bases in _IUPAC_BASES.items():
        if len(bases) == 1 or (iupac == "fractional" and bases):
            for b in bases:
                table[ord(code), ALPHABET.index(b)] = 1.0 / len(bases)
    return table


def one_hot(sequence: str, *, iupac: str = "zero", lowercase: str = "upper") -> np.ndarray:
    """One-hot encode one sequence as a ``(4, L)`` float32 array.

    Parameters
    ----------
    sequence
        DNA sequence; IUPAC codes in either case.
    iupac
        ``"zero"``, ``"fractional"`` or ``"error"`` for ambiguity codes other than N.
    lowercase
        ``"upper"`` (soft-masked bases count as bases) or ``"n"`` (as unknown).

    Returns
    -------
    The one-hot matrix, alphabet order ACGT.
    """
    if lowercase == "n":
        sequence = "".join("N" if c.islower() else c for c in sequence)
    seq = sequence.upper()
    bad = set(seq) - IUPAC
    if bad:
        raise SeqlanternError(f"unexpected character {sorted(bad)[0]!r} in sequence")
    if iupac == "error":
        amb = set(seq) - set("ACGTN")
        if amb:
            raise SeqlanternError(
                f"ambiguity code {sorted(amb)[0]!r}; set encode.iupac to zero or fractional"
            )
    codes = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
    return np.ascontiguousarray(_lookup(iupac)[codes].T)


def fit_length(x: np.ndarray, length: int) -> tuple[np.ndarray, int]:
    """Centre-pad (with all-zero columns) or centre-crop ``x`` of shape (4, L) to ``length``.

    Returns
    -------
    The resized array and the offset of its first column in the original sequence
    (negative when padded).
    """
    n = x.shape[1]
    if n == length:
        return x, 0
    if n > length:
        left = (n - length) // 2
        return x[:, left : left + length], left
    left = (length - n) // 2
    out = np.zeros((4, length), dtype=x.dtype)
    out[:, left : left + n] = x
    return out, -left


def reverse_complement(sequence: str) -> str:
    """Reverse complement of a DNA string (IUPAC-aware, case kept)."""
    table = str.maketrans("ACGTRYSWKMBDHVNacgtryswkmbdhvn", "TGCAYRSWMKVHDBNtgcayrswmkvhdbn")
    return sequence.translate(table)[::-1]


@dataclass(frozen=True)
class SplitSpec:
    """How sequences are split into train/valid/test.

    Random splits hash the name with the seed, so a sequence keeps its split when others
    are added or removed; chromosome splits hold out whole chromosomes (genomic input).
    """

    valid_fraction: float = 0.1
    test_fraction: float = 0.1
    valid_chroms: tuple[str, ...] = ()
    test_chroms: tuple[str, ...] = ()
    seed: int = 0
    given: Mapping[str, str] | None = None

    def assign(self, name: str, chrom: str) -> str:
        """Split label of one sequence."""
        if self.given is not None:
            return self.given[name]
        if self.test_chroms or self.valid_chroms:
            if chrom in self.test_chroms:
                return "test"
            if chrom in self.valid_chroms:
                return "valid"
            return "train"
        digest = hashlib.blake2b(f"{self.seed}:{name}".encode(), digest_size=8).digest()
        u = int.from_bytes(digest, "little") / 2**64
        if u < self.test_fraction:
            return "test"
        if u < self.test_fraction + self.valid_fraction:
            return "valid"
        return "train"


SPLITS = ("train", "valid", "test")


def read_split_file(path: str | Path, *, column: str = "split") -> dict[str, str]:
    """Read a user's split: a TSV with a name column (the first column) and ``column``.

    Reproducing a published benchmark means using its split, not ours: the targets TSV
    can carry it (a ``split`` column beside the targets) or a separate two-column file
    can. Values must be ``train``, ``valid`` or ``test``.
    """
    from seqlantern.io import read_tsv

    df = read_tsv(path, what="split file")
    if column not in df.columns:
        raise SeqlanternError(
            f"{path}: no {column!r} column (columns: {list(df.columns)}); set split.column"
        )
    names = df.iloc[:, 0].astype(str)
    values = df[column].astype(str).str.strip().str.lower()
    bad = np.flatnonzero(~values.isin(SPLITS).to_numpy())
    if bad.size:
        r = int(bad[0])
        raise SeqlanternError(
            f"{path}: line {r + 2}: split {df[column].iloc[r]!r} of {names.iloc[r]!r} must be "
            "train, valid or test"
        )
    dup = np.flatnonzero(names.duplicated().to_numpy())
    if dup.size:
        raise SeqlanternError(
            f"{path}: line {int(dup[0]) + 2}: duplicate name {names.iloc[dup[0]]!r}"
        )
    return dict(zip(names, values, strict=True))


def _canonical_digest(sequence: str) -> int:
    """64-bit digest of a sequence or its reverse complement, whichever sorts first."""
    up = sequence.upper()
    key = min(up, reverse_complement(up))
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little")


def duplicate_groups(digests: np.ndarray) -> np.ndarray:
    """For each record, the first record with the same canonical digest (itself if none).

    Records whose sequences are identical or reverse complements of each other are one
    group: they must share a split, else a test sequence is also a training sequence (the
    other strand of the same DNA) and test metrics are inflated.
    """
    order = np.argsort(digests, kind="stable")
    sd = digests[order]
    starts = np.r_[True, sd[1:] != sd[:-1]]
    first_in_run = order[np.flatnonzero(starts)[np.cumsum(starts) - 1]]
    out = np.empty_like(order)
    out[order] = first_in_run
    return out


@dataclass(frozen=True)
class _Item:
    name: str
    chrom: str
    start: int
    end: int
    strand: str
    sequence: str
    where: str  # file:line for error messages
    source_length: int


def _write(
    items: Iterable[_Item],
    n: int,
    length: int,
    onehot_path: Path,
    index_path: Path,
    *,
    iupac: str,
    lowercase: str,
    split: SplitSpec,
    pad: bool,
    coords: str,
    groups: np.ndarray | None = None,
    names: Sequence[str] | None = None,
) -> None:
    rows: list[tuple[object, ...]] = []
    with atomic_outputs(onehot_path, index_path) as (tmp_x, tmp_idx):
        out = open_npy_writer(tmp_x, (n, 4, length), np.float32)
        for i, it in enumerate(items):
            try:
                x = one_hot(it.sequence, iupac=iupac, lowercase=lowercase)
            except SeqlanternError as exc:
                raise SeqlanternError(f"{it.where} (record {it.name}): {exc}") from None
            start = it.start
            if pad:
                x, offset = fit_length(x, length)
                start = it.start + offset
            out[i] = x
            first = it.name
            if groups is not None and names is not None and split.given is None:
                first = names[int(groups[i])]  # a duplicate takes its group's split
            if split.given is not None and it.name not in split.given:
                raise SeqlanternError(
                    f"{it.where} (record {it.name}): not in the split file; give every "
                    "record a split (train, valid or test)"
                )
            rows.append(
                (it.name, it.chrom, start, start + length, it.strand,
                 split.assign(first, it.chrom), it.source_length, coords,
                 "" if first == it.name else first)
            )  # fmt: skip
        out.close()
        pd.DataFrame(rows, columns=[*INDEX_COLUMNS, "duplicate_of"]).to_csv(
            tmp_idx, sep="\t", index=False
        )


def encode_fasta(
    fasta: str | Path,
    onehot_path: str | Path,
    index_path: str | Path,
    *,
    length: int | None = None,
    min_length: int = 20,
    iupac: str = "zero",
    lowercase: str = "upper",
    split: SplitSpec | None = None,
) -> int:
    """Encode every record of a FASTA file.

    The file is read twice (names/lengths, then sequences) so that the one-hot array is
    filled row by row in a memory map and memory does not grow with the number of records.

    Parameters
    ----------
    fasta
        Input FASTA.
    onehot_path
        Output ``.npy`` of shape ``(N, 4, length)``, float32.
    index_path
        Output TSV: name, chrom (the record name), start/end of the encoded window in
        record coordinates (start < 0 when padded), strand, split, source_length, and
        coords (``record``: coordinates are relative to the FASTA record).
    length
        Encoded length; ``None`` requires equal lengths.
    min_length
        Records shorter than this are an error.
    iupac, lowercase
        See :func:`one_hot`.
    split
        Train/valid/test assignment. Records that repeat another record's sequence, or
        its reverse complement, take the split of the first such record (the index's
        ``duplicate_of`` column names it), so no test sequence is also seen in training
        on its other strand; the count is printed to the log.

    Returns
    -------
    The number of records encoded.
    """
    split = split or SplitSpec()
    names: set[str] = set()
    order: list[str] = []
    lengths: list[int] = []
    digests: list[int] = []
    for rec in read_fasta(fasta):
        where = f"{fasta}: line {rec.line}"
        order.append(rec.name)
        digests.append(_canonical_digest(rec.sequence))
        if rec.name in names:
            raise SeqlanternError(
                f"{where}: duplicate record name {rec.name!r}; names must be unique"
            )
        names.add(rec.name)
        if len(rec.sequence) < min_length:
            raise SeqlanternError(
                f"{where} (record {rec.name}): sequence is {len(rec.sequence)} bp, shorter "
                f"than encode.min_length={min_length}; remove it or lower min_length"
            )
        lengths.append(len(rec.sequence))
    if length is None:
        if len(set(lengths)) > 1:
            raise SeqlanternError(
                f"{fasta}: records have unequal lengths ({min(lengths)}-{max(lengths)} bp); "
                "set encode.length to centre-pad/crop them to one length"
            )
        length = lengths[0]

    def items() -> Iterator[_Item]:
        for rec in read_fasta(fasta):
            yield _Item(rec.name, rec.name, 0, len(rec.sequence), "+", rec.sequence,
                        f"{fasta}: line {rec.line}", len(rec.sequence))  # fmt: skip

    groups = duplicate_groups(np.asarray(digests, dtype=np.uint64))
    n_dup = int((groups != np.arange(len(groups))).sum())
    if n_dup:
        print(f"[encode] {n_dup} of {len(groups)} records repeat another record's sequence or "
              "its reverse complement; each is kept in its group's split (index column "
              "duplicate_of)", flush=True)  # fmt: skip
    _write(items(), len(lengths), length, Path(onehot_path), Path(index_path),
           iupac=iupac, lowercase=lowercase, split=split, pad=True, coords="record",
           groups=groups, names=order)  # fmt: skip
    return len(lengths)


def read_bed(path: str | Path) -> pd.DataFrame:
    """Read BED3+ (name and strand optional), with one-line errors naming the line."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: BED file not found; check the path in the config")
    rows = []
    for lineno, raw in enumerate(p.read_text().splitlines(), start=1):
        if not raw.strip() or raw.startswith(("#", "track", "browser")):
            continue
        f = raw.split("\t")
        if len(f) < 3:
            raise SeqlanternError(
                f"{p}: line {lineno}: BED needs chrom, start, end (tab-separated)"
            )
        try:
            start, end = int(f[1]), int(f[2])
        except ValueError:
            raise SeqlanternError(f"{p}: line {lineno}: start/end are not integers") from None
        if start < 0 or end <= start:
            raise SeqlanternError(f"{p}: line {lineno}: need 0 <= start < end, got {start}-{end}")
        name = f[3] if len(f) > 3 and f[3] not in ("", ".") else f"{f[0]}:{start}-{end}"
        strand = f[5] if len(f) > 5 else "."
        if strand not in ("+", "-", "."):
            raise SeqlanternError(
                f"{p}: line {lineno}: strand {strand!r} (column 6) must be +, - or ."
            )
        strand = "-" if strand == "-" else "+"  # "." (unstranded) reads as given
        rows.append((name, f[0], start, end, strand, lineno))
    if not rows:
        raise SeqlanternError(f"{p}: BED file has no regions")
    return pd.DataFrame(rows, columns=["name", "chrom", "start", "end", "strand", "line"])


def _check_fai(genome: Path) -> None:
    """Refuse a ``.fai`` index that no longer fits its FASTA (the FASTA was edited after
    the index was built): pyfaidx would read the wrong bases with only a warning.

    Checks each entry against the file: the byte before a record's first base ends its
    header line, and the record ends within the file. Cheap (one seek per record).
    """
    fai = Path(str(genome) + ".fai")
    if not fai.is_file():
        return
    size = genome.stat().st_size
    stale = genome.stat().st_mtime > fai.stat().st_mtime
    with open(fai) as idx, open(genome, "rb") as fh:
        for line in idx:
            f = line.rstrip("\n").split("\t")
            if stale:
                break
            try:
                length, offset, bases, width = (int(v) for v in f[1:5])
            except (ValueError, IndexError):
                stale = True
                break
            end = offset + (length // max(bases, 1)) * width + length % max(bases, 1)
            fh.seek(max(offset - 1, 0))
            if offset < 1 or fh.read(1) != b"\n" or end > size:
                stale = True
                break
    if stale:
        raise SeqlanternError(
            f"{fai}: index does not fit {genome} (the FASTA changed after the index was "
            f"built); delete {fai.name} and it is rebuilt"
        )


def encode_bed(
    genome: str | Path,
    bed: str | Path,
    onehot_path: str | Path,
    index_path: str | Path,
    *,
    length: int,
    iupac: str = "zero",
    lowercase: str = "upper",
    split: SplitSpec | None = None,
) -> int:
    """Encode BED regions of a genome FASTA (read lazily with pyfaidx).

    Each region is resized to ``length`` around its centre on the genome, so the model sees
    real flanking sequence instead of padding; a window that runs off a contig end is
    padded with N there. Minus-strand regions are reverse-complemented. The index keeps
    the genome coordinates of each encoded window, so every later output maps back to the
    genome.
    """

    split = split or SplitSpec()
    regions = read_bed(bed)
    dup = regions["name"].duplicated()
    if dup.any():
        r = regions[dup].iloc[0]
        raise SeqlanternError(
            f"{bed}: line {r.line}: duplicate region name {r['name']!r}; names must be unique"
        )
    gpath = Path(genome)
    fa = _open_genome(gpath)

    def items() -> Iterator[_Item]:
        for r in regions.itertuples(index=False):
            if r.chrom not in fa:
                raise SeqlanternError(
                    f"{bed}: line {r.line}: chromosome {r.chrom!r} is not in {gpath}"
                )
            clen = len(fa[r.chrom])
            if r.end > clen:
                raise SeqlanternError(
                    f"{bed}: line {r.line}: region ends at {r.end}, past the end of "
                    f"{r.chrom} ({clen} bp)"
                )
            centre = (r.start + r.end) // 2
            ws = centre - length // 2
            we = ws + length
            seq = str(fa[r.chrom][max(ws, 0) : min(we, clen)])
            seq = "N" * (max(ws, 0) - ws) + seq + "N" * (we - min(we, clen))
            if r.strand == "-":
                seq = reverse_complement(seq)
            yield _Item(r.name, r.chrom, ws, we, r.strand, seq, f"{bed}: line {r.line}",
                        r.end - r.start)  # fmt: skip

    _write(items(), len(regions), length, Path(onehot_path), Path(index_path),
           iupac=iupac, lowercase=lowercase, split=split, pad=False, coords="genome")  # fmt: skip
    return len(regions)


def _open_genome(genome: str | Path) -> Any:
    """The genome FASTA through pyfaidx (index checked, built when missing)."""
    import pyfaidx

    gpath = Path(genome)
    if not gpath.is_file():
        raise SeqlanternError(f"{gpath}: genome FASTA not found; check the path in the config")
    _check_fai(gpath)
    try:
        return pyfaidx.Fasta(str(gpath), as_raw=True, sequence_always_upper=False,
                             rebuild=False, build_index=True)  # fmt: skip
    except (pyfaidx.FastaIndexingError, ValueError, OSError) as exc:
        raise SeqlanternError(f"{gpath}: cannot index genome FASTA ({exc})") from None


def tile_windows(
    sizes: Mapping[str, int],
    *,
    window: int,
    stride: int,
    regions: pd.DataFrame | None = None,
    where: str = "tiling",
) -> Iterator[tuple[str, int]]:
    """``(chrom, start)`` of every tile, in chromosome then position order.

    Each chromosome (or each region of ``regions``: chrom, start, end, line) is covered
    from its start in steps of ``stride``; a last window is aligned to its end so the
    end is covered too. A region shorter than the window gets one window centred on it
    (bases off the chromosome become N).
    """
    if window < 1 or stride < 1:
        raise SeqlanternError(f"{where}: window and stride must be >= 1 (got {window}, {stride})")
    spans: list[tuple[str, int, int]]
    if regions is None:
        spans = [(c, 0, n) for c, n in sizes.items()]
        for c, _, n in spans:
            if n < window:
                raise SeqlanternError(
                    f"{where}: window {window} bp is longer than chromosome {c} ({n} bp); "
                    "use a smaller window or leave that chromosome out (data.chroms)"
                )
    else:
        spans = [(str(r.chrom), int(r.start), int(r.end)) for r in regions.itertuples()]
    for c, a, b in spans:
        if b - a <= window:
            yield c, (a + b) // 2 - window // 2
            continue
        starts = list(range(a, b - window + 1, stride))
        if starts[-1] + window < b:
            starts.append(b - window)
        for st in starts:
            yield c, st


def encode_tiles(
    genome: str | Path,
    onehot_path: str | Path,
    index_path: str | Path,
    *,
    window: int,
    stride: int,
    bed: str | Path | None = None,
    chroms: Sequence[str] = (),
    max_n: float = 0.5,
    iupac: str = "zero",
    lowercase: str = "upper",
) -> int:
    """Tile a genome (or the BED regions of it, or some chromosomes) into windows.

    Windows of ``window`` bp every ``stride`` bp (:func:`tile_windows`), named
    ``chrom:start-end``, forward strand, genome coordinates; windows with more than
    ``max_n`` of N (or other non-ACGT) bases are skipped and counted in the log. Every
    tile is in the ``test`` split: tiles are attributed with a model trained elsewhere
    (they have no targets), and the later stages' default selection is the test split.
    Two passes over the genome (count, then write), each reading one window at a time,
    so memory does not grow with the genome.
    """
    fa = _open_genome(genome)
    sizes = {str(k): len(fa[k]) for k in fa.keys()}
    if chroms:
        unknown = [c for c in chroms if c not in sizes]
        if unknown:
            raise SeqlanternError(
                f"data.chroms: chromosome {unknown[0]!r} is not in {genome} "
                f"(it has {', '.join(list(sizes)[:5])}{' …' if len(sizes) > 5 else ''})"
            )
        sizes = {c: sizes[c] for c in chroms}
    regions = None
    if bed is not None:
        regions = read_bed(bed)
        for r in regions.itertuples(index=False):
            if r.chrom not in sizes:
                raise SeqlanternError(
                    f"{bed}: line {r.line}: chromosome {r.chrom!r} is not in {genome}"
                    + (" (or not in data.chroms)" if chroms else "")
                )
            if r.end > sizes[r.chrom]:
                raise SeqlanternError(
                    f"{bed}: line {r.line}: region ends at {r.end}, past the end of "
                    f"{r.chrom} ({sizes[r.chrom]} bp)"
                )

    def seq(c: str, st: int) -> str:
        n = sizes[c]
        s = str(fa[c][max(st, 0) : min(st + window, n)])
        return "N" * (max(st, 0) - st) + s + "N" * (st + window - min(st + window, n))

    def n_share(s: str) -> float:
        u = s.upper()
        return 1.0 - sum(u.count(b) for b in "ACGT") / len(s)

    kept = []
    skipped = 0
    seen: set[tuple[str, int]] = set()
    for c, st in tile_windows(sizes, window=window, stride=stride, regions=regions,
                              where=str(bed or "data.tiling")):  # fmt: skip
        if (c, st) in seen:  # overlapping BED regions can ask for one window twice
            continue
        seen.add((c, st))
        if n_share(seq(c, st)) > max_n:
            skipped += 1
            continue
        kept.append((c, st))
    print(f"[encode] {len(kept):,} windows of {window} bp (stride {stride}) on "
          f"{len(sizes)} chromosome(s); {skipped:,} skipped with more than {max_n:.0%} N",
          flush=True)  # fmt: skip
    if not kept:
        raise SeqlanternError(
            f"{genome}: no window with at most {max_n:.0%} N; check the genome, "
            "data.chroms or data.bed"
        )

    def items() -> Iterator[_Item]:
        for c, st in kept:
            yield _Item(f"{c}:{st}-{st + window}", c, st, st + window, "+", seq(c, st),
                        f"{genome}: {c}:{st}-{st + window}", window)  # fmt: skip

    everything_test = SplitSpec(valid_fraction=0.0, test_fraction=1.0)
    _write(items(), len(kept), window, Path(onehot_path), Path(index_path), iupac=iupac,
           lowercase=lowercase, split=everything_test, pad=False, coords="genome")  # fmt: skip
    return len(kept)


def read_index(path: str | Path) -> pd.DataFrame:
    """Read an index table written by the encode stage."""
    from seqlantern.io import read_tsv

    df = read_tsv(path, what="index")
    missing = set(INDEX_COLUMNS) - set(df.columns)
    if missing:
        raise SeqlanternError(f"{path}: index table lacks columns {sorted(missing)}")
    for c in ("start", "end", "source_length"):
        df[c] = df[c].astype(np.int64)
    return df


def decode(x: np.ndarray) -> str:
    """Inverse of :func:`one_hot` for one (4, L) array (all-zero columns become N)."""
    idx = x.argmax(axis=0)
    out = np.array(list(ALPHABET))[idx]
    out[x.max(axis=0) <= 0] = "N"
    return "".join(out.tolist())


def genome_interval(index_row: pd.Series, start: int, end: int) -> tuple[int, int]:
    """Map ``[start, end)`` in encoded-window coordinates to record/genome coordinates."""
    if index_row["strand"] == "-":
        return int(index_row["end"]) - end, int(index_row["end"]) - start
    return int(index_row["start"]) + start, int(index_row["start"]) + end


def names_subset(index: pd.DataFrame, which: str | Sequence[str]) -> np.ndarray:
    """Row numbers of ``index`` selected by split name, ``"all"``, or a list of names."""
    if isinstance(which, str):
        if which == "all":
            return np.arange(len(index))
        if which in ("train", "valid", "test"):
            return np.flatnonzero(index["split"].to_numpy() == which)
        raise SeqlanternError(f"unknown selection {which!r}; use all, train, valid, test or a list")
    pos = {n: i for i, n in enumerate(index["name"])}
    missing = [n for n in which if n not in pos]
    if missing:
        raise SeqlanternError(f"sequence {missing[0]!r} from the selection list is not encoded")
    return np.array([pos[n] for n in which], dtype=np.int64)
