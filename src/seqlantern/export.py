"""BED export of elements: candidates, artifacts, and all; detail tables and browser tracks.

Two kinds of file, because no one BED serves both readers:

- ``candidates.bed``, ``artifacts.bed``, ``all_elements.bed``: BED6+10 detail tables for
  ``bedtools``, pandas and scripts (an optional ``#chrom start ...`` header line).
  UCSC rejects them as custom tracks (column 7 must be an integer) and igv.js drops
  columns 7-16.
- ``*.browser.bed``: BED9 for IGV and the UCSC browser: name, score and strand as
  below, ``thickStart``/``thickEnd`` = the element, ``itemRgb`` by class (plausible or
  motif green, junction purple, artifact orange, shortcut red, unexplained grey) and,
  by default, a ``track`` line (``itemRgb="On"``, so UCSC colours the items).

Detail columns: chrom, start, end, name, score, strand, then label, motif_id, motif_name,
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

COLOURS = {"plausible": "0,140,0", "motif": "0,140,0", "junction": "140,0,160",
           "artifact": "230,120,0", "shortcut": "200,0,0",
           "unexplained": "130,130,130"}  # fmt: skip
BROWSER = {"candidates": "plausible elements (motif match, measured effect)",
           "artifacts": "elements on artifacts (adapters, constant flanks, read ends)",
           "all_elements": "every called element, coloured by class"}  # fmt: skip

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
        cl = elements["motif_cluster"].astype(object).fillna("NA").astype(str)
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


def to_browser_bed(bed: pd.DataFrame) -> pd.DataFrame:
    """BED9 of a detail table (:func:`to_bed`): the element as the thick part, coloured.

    Colour: ``shortcut`` (the prediction depends on the artifact part) over the
    decision (``plausible``, ``junction``, ``artifact``, ``unexplained``) when the
    shortcut tests ran, else the label.
    """
    cls = bed["decision"].astype(str).where(bed["decision"].astype(str) != ".", bed["label"])
    cls = cls.where(bed["shortcut"].astype(str) != "True", "shortcut")
    return pd.DataFrame({
        "chrom": bed["chrom"], "start": bed["start"], "end": bed["end"], "name": bed["name"],
        "score": bed["score"], "strand": bed["strand"], "thickStart": bed["start"],
        "thickEnd": bed["end"], "itemRgb": cls.map(COLOURS).fillna(COLOURS["unexplained"]),
    })  # fmt: skip


def track_line(kind: str, name: str) -> str:
    """The UCSC/IGV ``track`` line of one browser BED."""
    return (f'track name="seqlantern {kind}" description="seqlantern {name}: {BROWSER[kind]}" '
            'itemRgb="On" visibility=pack')  # fmt: skip


def export(
    elements_tsv: str | Path,
    index_tsv: str | Path,
    candidates_bed: str | Path,
    artifacts_bed: str | Path,
    all_bed: str | Path,
    *,
    header: bool = False,
    browser: bool = True,
    track: bool = True,
    run_name: str = "run",
) -> pd.DataFrame:
    """Write the three detail BED files and, with ``browser``, their ``.browser.bed``
    versions beside them (same stem, all or none).

    ``header`` adds a ``#chrom start end ...`` line to the detail files (bedtools and
    IGV skip ``#`` lines); ``track`` a ``track`` line to the browser files, whose
    description names ``run_name``.
    """
    el = read_tsv(elements_tsv, what="elements")
    bed = to_bed(el, read_index(index_tsv))
    detail = [Path(candidates_bed), Path(artifacts_bed), Path(all_bed)]
    outs = detail + ([_browser_path(p) for p in detail] if browser else [])
    cand = bed["decision"] == "plausible" if "decision" in el else bed["label"] == "motif"
    sels = (cand, bed["label"] == "artifact", pd.Series(True, index=bed.index))
    kinds = ("candidates", "artifacts", "all_elements")
    with atomic_outputs(*outs) as tmps:
        for sel, tmp in zip(sels, tmps[:3], strict=True):
            with open(tmp, "w") as fh:
                if header:
                    fh.write("#" + "\t".join(bed.columns) + "\n")
                bed[sel].to_csv(fh, sep="\t", index=False, header=False)
        for sel, tmp, kind in zip(sels, tmps[3:], kinds, strict=False):
            with open(tmp, "w") as fh:
                if track:
                    fh.write(track_line(kind, run_name) + "\n")
                to_browser_bed(bed[sel]).to_csv(fh, sep="\t", index=False, header=False)
    return bed


def _browser_path(p: Path) -> Path:
    return p.with_name(p.name[: -len(".bed")] + ".browser.bed" if p.name.endswith(".bed")
                       else p.name + ".browser.bed")  # fmt: skip
