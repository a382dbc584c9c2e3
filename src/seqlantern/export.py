"""BED6+ export of elements: candidates, artifacts, and all.

Columns: chrom, start, end, name, score, strand, then label, motif_id, motif_name,
motif_qvalue, artifact_name, attribution (signed summed attribution), pvalue, decision,
effect, shortcut. Candidates are the elements decided ``plausible`` (motif match and a
measurable effect on the prediction) when the shortcut tests ran, else those labelled
``motif``; without the tests, decision/effect/shortcut are ``.``. ``score`` is
the BED 0-1000 integer: ``min(1000, round(100 * -log10(pvalue)))``. ``name`` is the motif's
archetype cluster (``motif_cluster``) when the families table has clusters, else the motif
name; ``motif_name`` always holds the best-matching database motif. Coordinates are genome
coordinates when the input was BED regions on a genome; otherwise ``chrom`` is the FASTA
record name and coordinates are relative to that record. Files are sorted by chrom, start,
end (``sort -k1,1 -k2,2n`` order), ready for ``bedtools`` and genome browsers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.encode import genome_interval, read_index
from seqlantern.io import atomic_outputs, read_tsv

BED_EXTRA = ["label", "motif_id", "motif_name", "motif_qvalue", "artifact_name", "attribution",
             "pvalue", "decision", "effect", "shortcut"]  # fmt: skip


def to_bed(elements: pd.DataFrame, index: pd.DataFrame) -> pd.DataFrame:
    """Convert an elements table to a sorted BED6+ table."""
    if elements.empty:
        return pd.DataFrame(
            columns=["chrom", "start", "end", "name", "score", "strand", *BED_EXTRA]
        )
    rows = index.iloc[elements["row"].astype(np.int64).to_numpy()]
    iv = [genome_interval(r, int(s), int(e)) for (_, r), s, e in
          zip(rows.iterrows(), elements["start"], elements["end"], strict=True)]  # fmt: skip
    label = elements["label"].to_numpy()
    shown = elements["motif_name"].astype(str)
    if "motif_cluster" in elements.columns:  # reported by archetype cluster when known
        cl = elements["motif_cluster"].fillna("NA").astype(str)
        shown = cl.where(~cl.isin(["NA", "", "nan"]), shown)
    name = np.where(
        label == "motif",
        shown,
        np.where(label == "artifact", elements["artifact_name"], "unexplained"),
    )
    p = elements["pvalue"].astype(float).clip(lower=1e-300)
    strand = elements["strand"].to_numpy().copy()
    genomic_minus = (rows["strand"].to_numpy() == "-") & (strand != ".")
    strand[genomic_minus] = np.where(strand[genomic_minus] == "+", "-", "+")
    bed = pd.DataFrame({
        "chrom": rows["chrom"].to_numpy(),
        "start": [i[0] for i in iv], "end": [i[1] for i in iv],
        "name": name,
        "score": np.minimum(1000, np.round(-100 * np.log10(p))).astype(int),
        "strand": strand,
        "label": label,
        "motif_id": np.where(label == "motif", elements["motif_id"], "."),
        "motif_name": np.where(label == "motif", elements["motif_name"], "."),
        "motif_qvalue": np.where(label == "motif", elements["motif_qvalue"].astype(str), "."),
        "artifact_name": np.where(label == "artifact", elements["artifact_name"], "."),
        "attribution": elements["score"].astype(float).map(lambda v: f"{v:.5g}"),
        "pvalue": elements["pvalue"].astype(float).map(lambda v: f"{v:.3g}"),
        "decision": elements["decision"] if "decision" in elements else ".",
        "effect": elements["effect"].astype(float).map(lambda v: f"{v:.4g}")
        if "effect" in elements else ".",
        "shortcut": elements["shortcut"].astype(str) if "shortcut" in elements else ".",
    })  # fmt: skip
    return bed.sort_values(["chrom", "start", "end", "name"], kind="stable").reset_index(drop=True)


def export(
    elements_tsv: str | Path,
    index_tsv: str | Path,
    candidates_bed: str | Path,
    artifacts_bed: str | Path,
    all_bed: str | Path,
) -> pd.DataFrame:
    """Write the three BED files (all or none)."""
    el = read_tsv(elements_tsv, what="elements")
    bed = to_bed(el, read_index(index_tsv))
    with atomic_outputs(candidates_bed, artifacts_bed, all_bed) as (tc, ta, tall):
        cand = bed["decision"] == "plausible" if "decision" in el else bed["label"] == "motif"
        for sel, tmp in ((cand, tc), (bed["label"] == "artifact", ta),
                         (slice(None), tall)):  # fmt: skip
            bed[sel].to_csv(tmp, sep="\t", index=False, header=False)
    return bed
