from __future__ import annotations

from pathlib import Path

import pandas as pd

from seqlantern.export import export, to_bed


def _index(coords: str) -> pd.DataFrame:
    return pd.DataFrame({
        "name": ["r1", "r2"], "chrom": ["chr22", "chr22"], "start": [1000, 5000],
        "end": [1200, 5200], "strand": ["+", "-"], "split": ["test", "test"],
        "source_length": [200, 200], "coords": [coords, coords],
    })  # fmt: skip


def _elements() -> pd.DataFrame:
    return pd.DataFrame({
        "name": ["r2", "r1", "r1"], "row": [1, 0, 0], "start": [10, 50, 180],
        "end": [20, 62, 200], "strand": ["+", "-", "."], "label": ["motif", "motif", "artifact"],
        "motif_id": ["MA1", "MA2", "MA3"], "motif_name": ["CTCF", "SPI1", "X"],
        "motif_qvalue": [0.001, 0.01, 0.5], "artifact_name": ["NA", "NA", "truseq"],
        "score": [2.5, 1.5, 4.0], "pvalue": [1e-4, 1e-3, 1e-6],
    })  # fmt: skip


def test_genomic_coordinates_and_strands() -> None:
    bed = to_bed(_elements(), _index("genome"))
    assert bed["start"].tolist() == [1050, 1180, 5180]  # sorted by chrom, start
    # r2 is a minus-strand region: window position 10-20 is genome 5180-5190, strand flipped
    r2 = bed[bed["start"] == 5180].iloc[0]
    assert (r2["end"], r2["strand"], r2["name"]) == (5190, "-", "CTCF")
    art = bed[bed["label"] == "artifact"].iloc[0]
    assert art["name"] == "truseq" and art["score"] == 600 and art["motif_id"] == "."


def test_export_writes_three_files(tmp_path: Path) -> None:
    el = tmp_path / "e.tsv"
    _elements().to_csv(el, sep="\t", index=False)
    idx = tmp_path / "i.tsv"
    _index("genome").to_csv(idx, sep="\t", index=False)
    export(el, idx, tmp_path / "c.bed", tmp_path / "a.bed", tmp_path / "all.bed")
    c = pd.read_csv(tmp_path / "c.bed", sep="\t", header=None)
    a = pd.read_csv(tmp_path / "a.bed", sep="\t", header=None)
    alls = pd.read_csv(tmp_path / "all.bed", sep="\t", header=None)
    assert len(c) == 2 and len(a) == 1 and len(alls) == 3
    assert list(c.columns[:6]) == [0, 1, 2, 3, 4, 5] and set(c[0]) == {"chr22"}
    assert (alls[2] > alls[1]).all() and alls[4].between(0, 1000).all()
