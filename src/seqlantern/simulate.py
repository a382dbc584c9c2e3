"""Deterministic demo data: planted JASPAR motifs, a regulatory grammar and a shortcut.

The demo is built so that every question seqlantern answers has a known answer:

- **background**: a first-order Markov chain with human-like dinucleotide frequencies
  (AT-rich, CpG-depleted), so k-mer statistics look genomic rather than uniform;
- **functional motifs**: real JASPAR matrices, each site *sampled* from its PWM (so sites
  vary as real ones do) and kept when it reaches 90% relative score, at random positions
  and strands, with additive effects;
- **one cooperative pair**: an extra effect only when both motifs are present;
- **one repressor**: a negative effect;
- **one decoy**: planted like the others but with no effect, so a faithful model ignores it;
- **a shortcut**: a fraction of sequences end in an Illumina TruSeq read-through (the
  adapter's first k bases at the 3' end) and their measured activity is inflated, as when
  short inserts are over-counted. A model learns "adapter => active"; seqlantern must call
  those bases an artifact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.encode import reverse_complement
from seqlantern.io import SeqlanternError, atomic_outputs
from seqlantern.motifs import Motif, read_motifs, sample_sites

TRUSEQ_READ1_ADAPTER = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"

# Rows: previous base A, C, G, T; columns: next base. Approximates hg38 dinucleotide
# frequencies (GC ~ 41%, CpG at ~ 1/4 of its expected frequency).
HUMAN_TRANSITIONS = np.array(
    [
        [0.33, 0.17, 0.24, 0.26],
        [0.35, 0.26, 0.05, 0.34],
        [0.29, 0.21, 0.25, 0.25],
        [0.22, 0.20, 0.25, 0.33],
    ]
)


@dataclass(frozen=True)
class Grammar:
    """The demo's regulatory grammar: motif id -> (role, effect)."""

    effects: dict[str, float] = field(
        default_factory=lambda: {
            "MA0139.2": 1.0,  # CTCF
            "MA0080.7": 0.8,  # SPI1 (ETS)
            "MA0105.4": 0.9,  # NFKB1 (Rel)
            "MA0466.4": 0.8,  # CEBPB (bZIP)
            "MA0050.4": 0.8,  # IRF1
            "MA0046.3": 0.7,  # HNF1A (cooperative with HNF4A)
            "MA1494.2": 0.7,  # HNF4A
            "MA0138.3": -1.0,  # REST (repressor)
            "MA0106.3": 0.0,  # TP53 (decoy: planted, no effect)
        }
    )
    cooperative: tuple[str, str, float] = ("MA0046.3", "MA1494.2", 0.8)
    decoys: tuple[str, ...] = ("MA0106.3",)
    site_probability: float = 0.25
    adapter_probability: float = 0.15
    adapter_min: int = 18
    adapter_max: int = 34
    adapter_effect: float = 1.5
    noise_sd: float = 0.3
    min_relative_score: float = 0.9
    adapter: str = TRUSEQ_READ1_ADAPTER
    adapter_name: str = "truseq_read1_3prime_adapter"
    adapter_label: str = "TruSeq read-through"
    transitions: tuple[tuple[float, ...], ...] = tuple(map(tuple, HUMAN_TRANSITIONS.tolist()))


def _strong_site(m: Motif, rng: np.random.Generator, min_relative: float) -> str:
    """Sample a site from the PWM, keeping only samples that a scanner would call.

    Functional sites in vivo are bound sites, so samples are drawn from the PWM but kept
    only when their log-odds score reaches ``min_relative`` of the way from the minimum to
    the maximum possible score (stricter than the 80% usually used to scan, so that
    chance matches in the background rarely look like planted sites).
    """
    lo = np.log2(np.clip(m.pwm, 1e-4, 1) / 0.25)
    smin, smax = lo.min(axis=1).sum(), lo.max(axis=1).sum()
    cut = smin + min_relative * (smax - smin)
    for _ in range(1000):
        site = sample_sites(m.pwm, 1, rng)[0]
        if sum(lo[i, "ACGT".index(c)] for i, c in enumerate(site)) >= cut:
            return site
    return m.consensus()


def _background(
    n: int, length: int, rng: np.random.Generator, transitions: np.ndarray = HUMAN_TRANSITIONS
) -> np.ndarray:
    cum = np.cumsum(transitions, axis=1)
    out = np.empty((n, length), dtype=np.int8)
    start = [0.29, 0.21, 0.21, 0.29]
    if not np.array_equal(transitions, HUMAN_TRANSITIONS):  # the chain's stationary mix
        w, v = np.linalg.eig(transitions.T)
        pi = np.real(v[:, np.argmin(np.abs(w - 1))])
        start = list(pi / pi.sum())
    out[:, 0] = rng.choice(4, size=n, p=start)
    u = rng.random((n, length))
    for i in range(1, length):
        out[:, i] = (u[:, i : i + 1] > cum[out[:, i - 1]]).sum(axis=1)
    return out


def simulate(
    motifs: list[Motif],
    *,
    n: int = 20000,
    length: int = 200,
    seed: int = 0,
    grammar: Grammar | None = None,
) -> tuple[list[tuple[str, str]], pd.DataFrame, pd.DataFrame]:
    """Generate the demo library.

    Parameters
    ----------
    motifs
        Motifs named by the grammar (others are ignored).
    n, length
        Number and length of sequences.
    seed
        Random seed; the same seed gives byte-identical outputs.
    grammar
        Effects; defaults to :class:`Grammar`.

    Returns
    -------
    Records (name, sequence), targets (name, activity) and truth (name, start, end,
    strand, motif, motif_name, kind, effect) with 0-based half-open coordinates.
    """
    g = grammar or Grammar()
    by_id = {m.id: m for m in motifs}
    missing = [k for k in g.effects if k not in by_id]
    if missing:
        raise SeqlanternError(f"motif {missing[0]} of the demo grammar is not in the motif file")
    if length < 80:
        raise SeqlanternError(f"simulate.length={length} is too short for the demo; use >= 80")
    rng = np.random.default_rng(seed)
    bg = _background(n, length, rng, np.asarray(g.transitions, dtype=float))
    seqs = ["".join("ACGT"[i] for i in row) for row in bg]
    names = [f"seq{i:06d}" for i in range(n)]
    activity = np.zeros(n)
    truth: list[tuple[object, ...]] = []
    ids = list(g.effects)
    for s in range(n):
        seq = list(seqs[s])
        free_end = length
        if rng.random() < g.adapter_probability:
            k = int(rng.integers(g.adapter_min, g.adapter_max + 1))
            seq[length - k :] = g.adapter[:k]
            free_end = length - k
            activity[s] += g.adapter_effect
            truth.append((names[s], length - k, length, "+", g.adapter_name,
                          g.adapter_label, "artifact", g.adapter_effect))  # fmt: skip
        occupied = np.zeros(length, dtype=bool)
        present = set()
        for mid in ids:
            if rng.random() >= g.site_probability:
                continue
            m = by_id[mid]
            for _ in range(50):
                pos = int(rng.integers(0, free_end - m.width + 1))
                if not occupied[max(pos - 2, 0) : pos + m.width + 2].any():
                    break
            else:
                continue
            site = _strong_site(m, rng, g.min_relative_score)
            strand = "+" if rng.random() < 0.5 else "-"
            if strand == "-":
                site = reverse_complement(site)
            seq[pos : pos + m.width] = site
            occupied[pos : pos + m.width] = True
            present.add(mid)
            kind = "decoy" if mid in g.decoys else "functional"
            activity[s] += g.effects[mid]
            truth.append((names[s], pos, pos + m.width, strand, mid, m.name, kind,
                          g.effects[mid]))  # fmt: skip
        a, b, bonus = g.cooperative
        if a in present and b in present:
            activity[s] += bonus
        seqs[s] = "".join(seq)
    activity += rng.normal(0, g.noise_sd, size=n)
    targets = pd.DataFrame({"name": names, "activity": np.round(activity, 5)})
    truth_df = pd.DataFrame(
        truth,
        columns=["name", "start", "end", "strand", "motif", "motif_name", "kind", "effect"],
    )
    return list(zip(names, seqs, strict=True)), targets, truth_df


def write_demo(
    motif_file: str | Path,
    fasta: str | Path,
    targets: str | Path,
    truth: str | Path,
    *,
    n: int = 20000,
    length: int = 200,
    seed: int = 0,
    grammar: Grammar | None = None,
) -> None:
    """Simulate and write FASTA, targets TSV and truth TSV (all or nothing)."""
    records, tdf, truth_df = simulate(read_motifs(motif_file), n=n, length=length, seed=seed,
                                      grammar=grammar)  # fmt: skip
    with atomic_outputs(fasta, targets, truth) as (tf, tt, tr):
        with open(tf, "w") as fh:
            for name, seq in records:
                fh.write(f">{name}\n{seq}\n")
        tdf.to_csv(tt, sep="\t", index=False)
        truth_df.to_csv(tr, sep="\t", index=False)
