"""Sharding: split the attributed sequences into K contiguous blocks and gather them again.

With ``shards: K`` the workflow runs attribution, shuffled-control attribution, seqlet
calling and per-element annotation once per shard (K cluster jobs), and gathers only
what needs every sequence: the seqlet null (a seeded sample of rows, read through
:class:`StackedRows` without loading the shards), the control statistics (one float per
call) and the grouping of elements.

Outputs are identical for every K (byte for byte) because

- shard boundaries are multiples of the attribution batch size, so every batch, and with
  it every floating-point result and every per-batch seed, is the batch the unsharded run
  would have made (:func:`shard_bounds`);
- random draws are seeded by a sequence's position in the whole selection, never by its
  position in a shard (``position_offset`` of :func:`seqlantern.attribute.attribute`);
- every statistic over all sequences (null fit, control p-values, BH q-values, hotspots,
  groups) is computed once, in a gather step, on the same values.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from seqlantern.io import RowSource, SeqlanternError, atomic_outputs, load_npy, open_npy_writer


def shard_bounds(n: int, shards: int, *, align: int = 1) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` of each of ``shards`` contiguous blocks of ``n`` items.

    Blocks hold ``ceil(n / shards)`` items rounded up to a multiple of ``align`` (the
    attribution batch size), so trailing shards can be short or empty when ``n`` is small;
    an empty shard is a valid, empty result, not an error.
    """
    if shards < 1:
        raise SeqlanternError(f"shards must be >= 1, not {shards}")
    align = max(int(align), 1)
    block = -(-max(n, 1) // shards)
    block = -(-block // align) * align
    return [(min(s * block, n), min((s + 1) * block, n)) for s in range(shards)]


class StackedRows:
    """Read-only row access to several ``.npy`` arrays as if concatenated along axis 0.

    Rows are read from the memory maps only when indexed, so a gather step can sample
    rows of all shards without holding any of them.
    """

    def __init__(self, arrays: Sequence[RowSource]) -> None:
        if not arrays:
            raise SeqlanternError("no arrays to stack")
        tail = arrays[0].shape[1:]
        for a in arrays:
            if a.shape[1:] != tail:
                raise SeqlanternError(
                    f"shard arrays disagree in shape ({a.shape[1:]} vs {tail}); make all "
                    "shards with the same attribute settings"
                )
        self.arrays = list(arrays)
        self.offsets = np.cumsum([0] + [a.shape[0] for a in arrays])
        self.shape: tuple[int, ...] = (int(self.offsets[-1]), *tail)
        self.ndim = len(self.shape)
        self.dtype = arrays[0].dtype

    @classmethod
    def load(cls, paths: Sequence[str | os.PathLike[str]], *, what: str) -> StackedRows:
        """Memory-map every path (:func:`seqlantern.io.load_npy`)."""
        return cls([load_npy(p, what=what) for p in paths])

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if isinstance(key, slice):
            key = np.arange(*key.indices(self.shape[0]))
        idx = np.asarray(key, dtype=np.int64)
        scalar = idx.ndim == 0
        idx = np.atleast_1d(idx)
        if idx.size and (idx.min() < 0 or idx.max() >= self.shape[0]):
            raise IndexError(f"row index out of range for {self.shape[0]} rows")
        out = np.empty((idx.size, *self.shape[1:]), dtype=self.dtype)
        which = np.searchsorted(self.offsets, idx, side="right") - 1
        for s in np.unique(which):
            sel = which == s
            out[sel] = self.arrays[s][idx[sel] - self.offsets[s]]
        return out[0] if scalar else out


def concat_npy(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    what: str = "array",
    chunk: int = 4096,
) -> tuple[int, ...]:
    """Concatenate ``.npy`` files along axis 0 into ``out``, ``chunk`` rows at a time.

    Memory holds one chunk whatever the total; the output is written atomically.

    Returns
    -------
    Shape of the output.
    """
    src = StackedRows.load(paths, what=what)
    with atomic_outputs(out) as (tmp,):
        dst = open_npy_writer(Path(tmp), src.shape, src.dtype)
        pos = 0
        for a in src.arrays:
            for i in range(0, a.shape[0], chunk):
                block = np.asarray(a[i : i + chunk])
                dst[pos : pos + len(block)] = block
                pos += len(block)
        dst.close()
    return src.shape


def concat_tsv(paths: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str]) -> int:
    """Concatenate TSV files with one header (which must be the same in all), line by line.

    Returns
    -------
    Number of data rows written.
    """
    header: str | None = None
    rows = 0
    with atomic_outputs(out) as (tmp,), open(tmp, "w") as dst:
        for p in paths:
            with open(p) as src:
                head = src.readline()
                if not head:
                    raise SeqlanternError(f"{p}: empty table; run the stage that makes it again")
                if header is None:
                    header = head
                    dst.write(head)
                elif head != header:
                    raise SeqlanternError(
                        f"{p}: header differs from {paths[0]}; make all shards with the same "
                        "model and settings"
                    )
                for line in src:
                    dst.write(line)
                    rows += 1
    return rows
