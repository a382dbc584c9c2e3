"""Artifact library and matching of attribution peaks against it.

An element is an *artifact* when its bases are (part of) a sequencing adapter, primer,
or a low-complexity run rather than genomic sequence. Read-through adapters appear as a
prefix of the adapter at a read's 3' end and carry sequencing errors, so matching is an
ungapped local alignment (match +1, mismatch -2, like BLAST's blastn-short defaults) that
accepts partial and mismatching copies, on both strands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqlantern.encode import reverse_complement
from seqlantern.io import SeqlanternError, read_fasta


@dataclass(frozen=True)
class Artifact:
    """One library entry: name, sequence, source and kind from the FASTA header."""

    name: str
    sequence: str
    source: str
    kind: str


def read_artifacts(*paths: str | Path) -> list[Artifact]:
    """Read artifact FASTA files (``>name source=... kind=...``); names must be unique."""
    out: list[Artifact] = []
    seen: set[str] = set()
    for path in paths:
        text = Path(path).read_text() if Path(path).is_file() else ""
        headers = {
            line[1:].split()[0]: line[1:].split()[1:]
            for line in text.splitlines()
            if line.startswith(">") and line[1:].split()
        }
        for rec in read_fasta(path):
            if rec.name in seen:
                raise SeqlanternError(
                    f"{path}: line {rec.line}: artifact {rec.name!r} is listed twice"
                )
            seen.add(rec.name)
            fields = dict(f.split("=", 1) for f in headers.get(rec.name, []) if "=" in f)
            if len(rec.sequence) < 8:
                raise SeqlanternError(
                    f"{path}: line {rec.line}: artifact {rec.name!r} is shorter than 8 bp"
                )
            out.append(Artifact(rec.name, rec.sequence.upper(), fields.get("source", str(path)),
                                fields.get("kind", "artifact")))  # fmt: skip
    return out


@dataclass(frozen=True)
class ArtifactHit:
    """Best local alignment of a query window to the library."""

    name: str
    score: int
    query_start: int
    query_end: int
    strand: str
    matches: int


class ArtifactMatcher:
    """Aligns query windows against every artifact (both strands) in one pass.

    All artifacts and their reverse complements are concatenated with separators that
    always mismatch heavily, so one dynamic-programming sweep over the query scores every
    entry at once.
    """

    MATCH, MISMATCH, SEPARATOR = 1, -2, -1000

    def __init__(self, artifacts: list[Artifact]) -> None:
        self.artifacts = artifacts
        parts, owner, strand = [], [], []
        for k, a in enumerate(artifacts):
            for s, seq in (("+", a.sequence), ("-", reverse_complement(a.sequence))):
                parts.append(seq + "#")
                owner += [k] * (len(seq) + 1)
                strand += [s] * (len(seq) + 1)
        self.target = np.frombuffer("".join(parts).encode(), dtype=np.uint8)
        self.owner = np.array(owner)
        self.strand = np.array(strand)

    def best(self, query: str) -> ArtifactHit | None:
        """Best-scoring ungapped local alignment of ``query`` (N never matches)."""
        if not self.artifacts or not query:
            return None
        q = np.frombuffer(query.upper().encode(), dtype=np.uint8)
        t = self.target
        sep = t == ord("#")
        h_prev = np.zeros(len(t) + 1)
        s_prev = np.zeros(len(t) + 1, dtype=np.int64)
        m_prev = np.zeros(len(t) + 1, dtype=np.int64)
        best = (0.0, 0, 0, 0, 0)  # score, i_end, j_end, start, matches
        for i in range(len(q)):
            hit = (t == q[i]) & (q[i] != ord("N"))
            sc = np.where(sep, self.SEPARATOR, np.where(hit, self.MATCH, self.MISMATCH))
            cand = h_prev[:-1] + sc
            h = np.zeros(len(t) + 1)
            h[1:] = np.maximum(cand, 0)
            s = np.empty(len(t) + 1, dtype=np.int64)
            m = np.zeros(len(t) + 1, dtype=np.int64)
            cont = (h_prev[:-1] > 0) & (cand > 0)
            s[1:] = np.where(cont, s_prev[:-1], i)
            m[1:] = np.where(cand > 0, np.where(cont, m_prev[:-1], 0) + hit, 0)
            s[0] = i
            j = int(np.argmax(h))
            if h[j] > best[0]:
                best = (float(h[j]), i + 1, j - 1, int(s[j]), int(m[j]))
            h_prev, s_prev, m_prev = h, s, m
        score, i_end, j_end, start, matches = best
        if score <= 0:
            return None
        k = int(self.owner[j_end])
        return ArtifactHit(self.artifacts[k].name, int(score), start, i_end,
                           str(self.strand[j_end]), matches)  # fmt: skip
