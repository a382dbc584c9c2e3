"""Shared input/output helpers: errors, atomic writes, FASTA and TSV readers.

Every stage writes its outputs through :func:`atomic_outputs` so that a failing stage leaves
no partial file behind (Snakemake would otherwise see a half-written output as done when
it is run again with ``--rerun-triggers mtime``), and reads user files through readers that
raise :class:`SeqlanternError` with a single line naming the file, the record or line, and
the fix.
"""

from __future__ import annotations

import contextlib
import json
import mmap
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd


class SeqlanternError(Exception):
    """A problem with the user's input or configuration, reported as one line."""


class Progress:
    """Log-friendly progress: a line at every tenth of the work, flushed at once.

    A rule's log then shows how far a long step is while it runs (Snakemake only shows
    a job when it ends). Lines come at fixed fractions of the work, not on a timer, so the
    log is the same on every run; they go to stdout (the rule's log), never to outputs.
    """

    def __init__(self, what: str, total: int, *, parts: int = 10) -> None:
        self.what, self.total, self.parts = what, max(int(total), 0), parts
        self.next = 1

    def update(self, done: int) -> None:
        """Report ``done`` units of ``total`` finished (lines only when a tenth is crossed)."""
        if self.total <= 0:
            return
        reached = min(self.parts, done * self.parts // self.total)
        if reached >= self.next:
            self.next = reached + 1
            print(f"[{self.what}] {done:,} / {self.total:,} ({done / self.total:.0%})",
                  flush=True)  # fmt: skip


def glob_escape(name: str) -> str:
    """A file name with glob metacharacters escaped."""
    import glob

    return glob.escape(name)


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield temporary paths that replace ``paths`` only if the block succeeds.

    The temporary files live beside their targets (same file system, so the final
    :func:`os.replace` is atomic). On any exception every temporary file is removed and no
    target is touched. A job killed outright (SIGKILL: a cluster's time or memory limit)
    cannot clean up; its temporaries are named after the output, so the next run of that
    output removes them first.

    Parameters
    ----------
    *paths
        Final output paths.

    Yields
    ------
    Temporary paths, in the order of ``paths``.
    """
    finals = [Path(p) for p in paths]
    temps: list[Path] = []
    try:
        for final in finals:
            final.parent.mkdir(parents=True, exist_ok=True)
            # a killed earlier run of this output (SIGKILL: no cleanup ran) left these
            suffix = ".tmp" + "".join(final.suffixes[-1:])
            for stale in final.parent.glob(f".{glob_escape(final.name)}.*{suffix}"):
                stale.unlink(missing_ok=True)
            fd, tmp_name = tempfile.mkstemp(
                prefix=f".{final.name}.",
                suffix=".tmp" + "".join(final.suffixes[-1:]),
                dir=final.parent,
            )
            os.close(fd)
            temps.append(Path(tmp_name))
        yield temps
    except BaseException:
        for tmp in temps:
            tmp.unlink(missing_ok=True)
        raise
    umask = os.umask(0)
    os.umask(umask)
    for tmp, final in zip(temps, finals, strict=True):
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; use the usual mode
        os.replace(tmp, final)


def write_tsv(
    df: pd.DataFrame, path: str | os.PathLike[str], *, float_format: str | None = "%.6g"
) -> None:
    """Write a table as TSV atomically (no index, ``NA`` for missing values).

    Final tables round floats to 6 significant digits; intermediate tables between a
    scatter and its gather pass ``float_format=None`` (shortest exact representation), so
    that gathered statistics are computed on the very values an unsharded run has.
    """
    with atomic_outputs(path) as (tmp,):
        df.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format=float_format)


def write_json(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write JSON atomically."""
    with atomic_outputs(path) as (tmp,):
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_tsv(
    path: str | os.PathLike[str],
    *,
    what: str = "table",
    ints: Sequence[str] = (),
    floats: Sequence[str] = (),
    chunk: int = 200_000,
) -> pd.DataFrame:
    """Read a TSV with a header row (all columns as text except ``ints`` and ``floats``).

    A missing or empty file, a missing numeric column or a non-numeric value is a one-line
    error naming the file (and the line). The file is parsed ``chunk`` rows at a time and
    repeated strings (labels, motif names ...) are stored once, so a table of millions of
    elements costs little more than its distinct texts.
    """
    parts = list(iter_tsv(path, what=what, ints=ints, floats=floats, chunk=chunk))
    if len(parts) == 1:
        return parts[0]
    return pd.concat(parts, ignore_index=True)


def iter_tsv(
    path: str | os.PathLike[str],
    *,
    what: str = "table",
    ints: Sequence[str] = (),
    floats: Sequence[str] = (),
    chunk: int = 200_000,
    columns: Sequence[str] | None = None,
) -> Iterator[pd.DataFrame]:
    """:func:`read_tsv` one block of ``chunk`` rows at a time (at least one block: a
    header-only file gives one empty block), for stages whose memory must not grow with
    the table. Blocks keep the file's row numbers as their index. ``columns``: read only
    these (each must be in the header)."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: {what} file not found; check the path in the config")
    try:
        if columns is not None:
            head = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, nrows=0)
            for c in columns:
                if c not in head.columns:
                    raise SeqlanternError(f"{p}: {what} table lacks the column {c!r}")
        reader = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, comment=None,
                             chunksize=chunk, usecols=columns)  # fmt: skip
        k = -1
        for k, df in enumerate(reader):
            yield _typed(df, p, what, ints, floats, first_line=2 + k * chunk)
    except pd.errors.EmptyDataError:
        raise SeqlanternError(f"{p}: {what} file is empty; it needs a header row") from None
    except pd.errors.ParserError as exc:
        raise SeqlanternError(f"{p}: not a valid TSV ({str(exc).splitlines()[-1]})") from None
    if k < 0:  # header only
        empty = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, nrows=0,
                            usecols=columns)  # fmt: skip
        yield _typed(empty, p, what, ints, floats, first_line=2)


def _typed(
    df: pd.DataFrame,
    p: Path,
    what: str,
    ints: Sequence[str],
    floats: Sequence[str],
    *,
    first_line: int,
) -> pd.DataFrame:
    """One chunk of :func:`read_tsv`: numeric columns converted, repeated texts shared."""
    for cols, kind in ((ints, "int64"), (floats, "float64")):
        for c in cols:
            if c not in df.columns:
                raise SeqlanternError(f"{p}: {what} table lacks the column {c!r}")
            vals = pd.to_numeric(df[c].replace("NA", "nan"), errors="coerce")
            bad = vals.isna() & (df[c] != "NA") if kind == "float64" else vals.isna()
            if bad.any():
                line = int(np.flatnonzero(bad.to_numpy())[0]) + first_line
                raise SeqlanternError(f"{p}: line {line}: {c} is not a number")
            df[c] = vals.astype(kind)
    numeric = set(ints) | set(floats)
    for c in df.columns:
        if c not in numeric and len(df) > 64:
            codes, uniques = pd.factorize(df[c])
            if len(uniques) < len(df) // 2:  # e.g. labels: one str object per distinct text
                df[c] = np.asarray(uniques, dtype=object)[codes]
    return df


IUPAC = set("ACGTNRYSWKMBDHV")


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record with the line of its header (1-based) for error messages."""

    name: str
    sequence: str
    line: int


def read_fasta(path: str | os.PathLike[str]) -> Iterator[FastaRecord]:
    """Stream the records of a FASTA file (plain or gzip), validating as it goes.

    Names are the header up to the first white space. Characters other than IUPAC
    nucleotide codes (either case) raise an error naming the record and line, because a
    silently skipped character would shift every later position.

    Parameters
    ----------
    path
        FASTA file.

    Yields
    ------
    Records in file order.
    """
    import gzip

    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: FASTA file not found; check the path in the config")
    with open(p, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b" and p.suffix != ".gz":
        raise SeqlanternError(f"{p}: not a text FASTA but gzip-compressed; name it {p.name}.gz")
    opener: Any = gzip.open if p.suffix == ".gz" else open
    try:
        yield from _fasta_records(p, opener)
    except UnicodeDecodeError as exc:
        raise SeqlanternError(
            f"{p}: not a text FASTA (undecodable byte {exc.object[exc.start : exc.start + 1]!r}); "
            "is it binary or compressed? gzip files must end in .gz"
        ) from None
    except (OSError, EOFError) as exc:
        raise SeqlanternError(f"{p}: cannot be read as FASTA ({exc})") from None


def _fasta_records(p: Path, opener: Any) -> Iterator[FastaRecord]:
    """The records of an opened-as-text FASTA (see :func:`read_fasta`)."""
    name: str | None = None
    header_line = 0
    chunks: list[str] = []
    seen_any = False
    with opener(p, "rt") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if line.startswith(">"):
                if name is not None:
                    yield FastaRecord(name, "".join(chunks), header_line)
                fields = line[1:].split()
                if not fields:
                    raise SeqlanternError(
                        f"{p}: line {lineno}: empty FASTA header; give every record a name"
                    )
                name, header_line, chunks = fields[0], lineno, []
                seen_any = True
            elif line.strip():
                if name is None:
                    raise SeqlanternError(
                        f"{p}: line {lineno}: sequence before the first '>' header; "
                        "this is not a FASTA file"
                    )
                seq = line.strip()
                bad = set(seq.upper()) - IUPAC
                if bad:
                    ch = sorted(bad)[0]
                    raise SeqlanternError(
                        f"{p}: line {lineno} (record {name}): unexpected character {ch!r}; "
                        "only IUPAC nucleotide codes (ACGTN RYSWKMBDHV, any case) are allowed"
                    )
                chunks.append(seq)
    if name is not None:
        yield FastaRecord(name, "".join(chunks), header_line)
    if not seen_any:
        raise SeqlanternError(f"{p}: FASTA file has no records; it must contain '>name' headers")


def write_fasta(
    records: Sequence[tuple[str, str]], path: str | os.PathLike[str], *, width: int = 80
) -> None:
    """Write (name, sequence) pairs as FASTA atomically."""
    with atomic_outputs(path) as (tmp,), open(tmp, "w") as fh:
        for name, seq in records:
            fh.write(f">{name}\n")
            for i in range(0, len(seq), width):
                fh.write(seq[i : i + width] + "\n")


class RowSource(Protocol):
    """What stages need of a large array: its shape and rows by index (a copy each).

    An ``np.ndarray``, a :class:`NpyArray` (a ``.npy`` file read lazily) and a
    :class:`seqlantern.shards.StackedRows` (several shards read as one) all qualify;
    functions that take one read rows in chunks instead of the whole array.
    """

    @property
    def shape(self) -> tuple[int, ...]: ...

    @property
    def dtype(self) -> Any: ...

    @property
    def ndim(self) -> int: ...

    def __len__(self) -> int: ...

    def __getitem__(self, key: Any, /) -> Any: ...


class NpyWriter:
    """Write a ``.npy`` file front to back, one block of rows at a time.

    The header is written first and rows are appended with plain file writes, so the
    process never maps the file: its resident memory stays at one block however large
    the array (a writable memory map would keep every written page resident until the
    file is closed). ``w[i:j] = block`` must continue exactly where the last one ended.
    """

    def __init__(self, path: str | os.PathLike[str], shape: tuple[int, ...], dtype: Any) -> None:
        self.shape = tuple(int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.pos = 0
        self._fh = open(path, "wb")
        np.lib.format.write_array_header_1_0(
            self._fh, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                       "fortran_order": False, "shape": self.shape})  # fmt: skip

    def __setitem__(self, key: int | slice, block: np.ndarray) -> None:
        start = key if isinstance(key, int) else (key.start or 0)
        rows = np.ascontiguousarray(block, dtype=self.dtype).reshape(-1, *self.shape[1:])
        if start != self.pos or start + len(rows) > self.shape[0]:
            raise ValueError(f"rows {start}.. written out of order (next row is {self.pos})")
        self._fh.write(rows.tobytes())
        self.pos += len(rows)

    def close(self) -> None:
        """Close the file; every row must have been written."""
        self._fh.close()
        if self.pos != self.shape[0]:
            raise ValueError(f"{self.pos} of {self.shape[0]} rows written")


def open_npy_writer(path: Path, shape: tuple[int, ...], dtype: Any = np.float32) -> NpyWriter:
    """Open a ``.npy`` file to be written block by block (:class:`NpyWriter`)."""
    return NpyWriter(path, shape, dtype)


class NpyArray:
    """Read-only rows of a memory-mapped ``.npy`` file, with flat resident memory.

    Indexing returns a copy (an ordinary array) and, once ``budget`` bytes have been
    read, the mapping's pages are handed back to the kernel (``madvise(MADV_DONTNEED)``):
    they stay in the page cache, so reading them again is cheap, but they no longer
    count in the process's resident memory. Without this, a job streaming through a
    10^6-row array would end up with the whole file resident (and reported as its peak
    RSS by SLURM and Snakemake) even though it holds only one chunk at a time.
    """

    def __init__(self, mm: np.memmap, *, budget: int = 256 << 20) -> None:
        self._mm = mm
        self._budget = budget
        self._read = 0
        self.shape: tuple[int, ...] = mm.shape
        self.dtype = mm.dtype
        self.ndim = mm.ndim
        self.size = mm.size
        self.nbytes = mm.nbytes

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> Any:
        out = np.array(self._mm[key])
        rows = key[0] if isinstance(key, tuple) else key
        if isinstance(rows, slice):
            self._read += out.nbytes
        else:  # rows by number: the kernel maps pages around each one (fault-around)
            row_bytes = self.nbytes // max(self.shape[0], 1)
            self._read += int(np.size(rows)) * max(row_bytes, 65536)
        if self._read > self._budget:
            self.release()
        return out

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.array(self._mm, dtype=dtype)

    def release(self) -> None:
        """Drop the mapped pages from resident memory (they stay in the page cache)."""
        self._read = 0
        mm = getattr(self._mm, "_mmap", None)
        if mm is not None and hasattr(mmap, "MADV_DONTNEED"):
            mm.madvise(mmap.MADV_DONTNEED)


def load_npy(path: str | os.PathLike[str], *, what: str = "array") -> NpyArray:
    """Memory-map a ``.npy`` file read-only (rows are read only when used; :class:`NpyArray`)."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: {what} file not found; run the stage that makes it first")
    try:
        mm = np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise SeqlanternError(f"{p}: not a readable .npy file ({exc})") from None
    return NpyArray(mm)
