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
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


class SeqlanternError(Exception):
    """A problem with the user's input or configuration, reported as one line."""


@contextlib.contextmanager
def atomic_outputs(*paths: str | os.PathLike[str]) -> Iterator[list[Path]]:
    """Yield temporary paths that replace ``paths`` only if the block succeeds.

    The temporary files live beside their targets (same file system, so the final
    :func:`os.replace` is atomic). On any exception every temporary file is removed and no
    target is touched.

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
) -> pd.DataFrame:
    """Read a TSV with a header row (all columns as text except ``ints`` and ``floats``).

    A missing or empty file, a missing numeric column or a non-numeric value is a one-line
    error naming the file (and the line).
    """
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: {what} file not found; check the path in the config")
    try:
        df = pd.read_csv(p, sep="\t", dtype=str, keep_default_na=False, comment=None)
    except pd.errors.EmptyDataError:
        raise SeqlanternError(f"{p}: {what} file is empty; it needs a header row") from None
    except pd.errors.ParserError as exc:
        raise SeqlanternError(f"{p}: not a valid TSV ({str(exc).splitlines()[-1]})") from None
    for cols, kind in ((ints, "int64"), (floats, "float64")):
        for c in cols:
            if c not in df.columns:
                raise SeqlanternError(f"{p}: {what} table lacks the column {c!r}")
            vals = pd.to_numeric(df[c].replace("NA", "nan"), errors="coerce")
            bad = vals.isna() & (df[c] != "NA") if kind == "float64" else vals.isna()
            if bad.any():
                line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
                raise SeqlanternError(f"{p}: line {line}: {c} is not a number")
            df[c] = vals.astype(kind)
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
    opener = gzip.open if p.suffix == ".gz" else open
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


def open_npy_writer(path: Path, shape: tuple[int, ...], dtype: Any = np.float32) -> np.memmap:
    """Open a ``.npy`` file as a writable memory map, so that it fills chunk by chunk."""
    return np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=shape)


def load_npy(path: str | os.PathLike[str], *, what: str = "array") -> np.ndarray:
    """Memory-map a ``.npy`` file read-only (rows are read only when used)."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: {what} file not found; run the stage that makes it first")
    try:
        return np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise SeqlanternError(f"{p}: not a readable .npy file ({exc})") from None
