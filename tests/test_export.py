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


def test_browser_beds_are_valid_bed9_with_a_track_line(tmp_path: Path) -> None:
    """The .browser.bed files are what UCSC accepts as a custom track: a track line, then
    nine columns with integer thickStart/thickEnd and an R,G,B itemRgb per class; the
    detail BEDs keep their documented columns, with a '#' column line on request."""
    el = tmp_path / "e.tsv"
    _elements().to_csv(el, sep="\t", index=False)
    idx = tmp_path / "i.tsv"
    _index("genome").to_csv(idx, sep="\t", index=False)
    export(el, idx, tmp_path / "c.bed", tmp_path / "a.bed", tmp_path / "all.bed", header=True,
           run_name="demo")  # fmt: skip
    lines = (tmp_path / "all.browser.bed").read_text().splitlines()
    assert lines[0].startswith('track name="seqlantern all_elements"') and "itemRgb" in lines[0]
    rows = [r.split("\t") for r in lines[1:]]
    assert len(rows) == 3 and all(len(r) == 9 for r in rows)
    for r in rows:
        assert int(r[6]) == int(r[1]) and int(r[7]) == int(r[2]) and 0 <= int(r[4]) <= 1000
        assert len(r[8].split(",")) == 3 and all(0 <= int(v) <= 255 for v in r[8].split(","))
    colour = {r[3]: r[8] for r in rows}
    assert colour["truseq"] != colour["CTCF"]  # artifact and motif differ
    detail = (tmp_path / "all.bed").read_text().splitlines()
    assert detail[0].split("\t")[:7] == ["#chrom", "start", "end", "name", "score", "strand",
                                         "label"]  # fmt: skip
    assert [r.split("\t")[:3] for r in detail[1:]] == [r[:3] for r in rows]
    export(el, idx, tmp_path / "c2.bed", tmp_path / "a2.bed", tmp_path / "all2.bed",
           track=False)  # fmt: skip
    assert not (tmp_path / "all2.browser.bed").read_text().startswith("track")
    assert not (tmp_path / "all2.bed").read_text().startswith("#")
