"""Genome-browser tracks: the bigWig and bigBed read back equal what seqlantern computed."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import random_dna
from seqlantern.cli import main
from seqlantern.encode import encode_bed, encode_fasta, read_index
from seqlantern.io import SeqlanternError, load_npy

pybigtools = pytest.importorskip("pybigtools")

CHROMS = {"chrA": 900, "chrB": 400}


def _genome(tmp_path: Path) -> Path:
    rng = np.random.default_rng(11)
    text = "".join(f">{c}\n{random_dna(n, rng)}\n" for c, n in CHROMS.items())
    (tmp_path / "g.fa").write_text(text)
    return tmp_path / "g.fa"


def _maps(x: np.ndarray, rows: np.ndarray, seed: int = 0) -> np.ndarray:
    """Random hypothetical-like maps, kept on the observed base (gradient x input)."""
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(len(rows), 4, x.shape[2])) * x[rows]).astype(np.float32)


def _expected(idx: pd.DataFrame, x: np.ndarray, attr: np.ndarray, rows: np.ndarray) -> dict:
    """Per chromosome, the mean over windows at each base, computed the plain way."""
    sums = {c: np.zeros(n) for c, n in CHROMS.items()}
    cnts = {c: np.zeros(n) for c, n in CHROMS.items()}
    for i, r in enumerate(rows):
        w = idx.iloc[r]
        vals = attr[i].sum(axis=0)
        seen = x[r].sum(axis=0) > 0
        for p in range(x.shape[2]):
            g = int(w["end"]) - 1 - p if w["strand"] == "-" else int(w["start"]) + p
            if seen[p] and 0 <= g < CHROMS[w["chrom"]]:
                sums[w["chrom"]][g] += vals[p]
                cnts[w["chrom"]][g] += 1
    return {c: np.where(cnts[c] > 0, sums[c] / np.maximum(cnts[c], 1), np.nan) for c in CHROMS}


def _run(tmp_path: Path, bed: str, *extra: str) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    g = _genome(tmp_path)
    (tmp_path / "r.bed").write_text(bed)
    encode_bed(g, tmp_path / "r.bed", tmp_path / "x.npy", tmp_path / "i.tsv", length=200)
    idx = read_index(tmp_path / "i.tsv")
    x = np.asarray(load_npy(tmp_path / "x.npy"))
    rows = np.arange(len(idx))
    attr = _maps(x, rows)
    np.save(tmp_path / "a.npy", attr)
    pd.DataFrame({"name": idx["name"], "row": rows}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                            index=False)  # fmt: skip
    d = str(tmp_path)
    assert main(["tracks", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
                 "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--genome", str(g),
                 "--out-bigwig", f"{d}/t.bw", *extra]) == 0  # fmt: skip
    return idx, x, attr


def test_bigwig_equals_the_maps_at_every_base(tmp_path: Path) -> None:
    """Overlapping windows (mean), a minus-strand window, windows running off both
    chromosome ends (N-padded: not written), two chromosomes."""
    bed = ("chrA\t0\t60\tstart_edge\t0\t+\n"   # window -70..130: off the start
           "chrA\t100\t300\tw1\t0\t+\n"
           "chrA\t150\t350\tw2\t0\t-\n"        # overlaps w1 on the other strand
           "chrA\t200\t400\tw3\t0\t+\n"        # a base covered by three windows
           "chrA\t850\t900\tend_edge\t0\t+\n"  # runs off the end
           "chrB\t100\t300\tb1\t0\t-\n")  # fmt: skip
    idx, x, attr = _run(tmp_path, bed)
    want = _expected(idx, x, attr, np.arange(len(idx)))
    bw = pybigtools.open(str(tmp_path / "t.bw"))
    assert dict(bw.chroms()) == CHROMS
    info = bw.info()  # a valid BBI header: version 4, compressed, zoom levels for browsers
    assert info["version"] == 4 and info["isCompressed"] and info["zoomLevels"] >= 1
    covered = sum(int((~np.isnan(v)).sum()) for v in want.values())
    assert info["summary"]["basesCovered"] == covered
    for c, n in CHROMS.items():
        got = np.asarray(bw.values(c, 0, n, fillna=None), dtype=np.float64)
        assert np.array_equal(np.isnan(got), np.isnan(want[c])), c
        ok = ~np.isnan(want[c])
        assert np.allclose(got[ok], want[c][ok], rtol=1e-6, atol=1e-6), c
    assert (~np.isnan(want["chrA"][200:300])).all()  # the triple overlap is covered


def test_bigbed_holds_every_element_and_hypothetical_tracks(tmp_path: Path) -> None:
    bed = "chrA\t100\t300\tw1\t0\t+\nchrA\t400\t600\tw2\t0\t-\n"
    g = _genome(tmp_path)
    (tmp_path / "r.bed").write_text(bed)
    encode_bed(g, tmp_path / "r.bed", tmp_path / "x.npy", tmp_path / "i.tsv", length=200)
    x = np.asarray(load_npy(tmp_path / "x.npy"))
    attr = _maps(x, np.arange(2))
    np.save(tmp_path / "a.npy", attr)
    hyp = np.random.default_rng(3).normal(size=attr.shape).astype(np.float32)
    np.save(tmp_path / "h.npy", hyp)
    pd.DataFrame({"name": ["w1", "w2"], "row": [0, 1]}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                                index=False)  # fmt: skip
    elements = pd.DataFrame({
        "name": ["w1", "w2", "w2"], "row": [0, 1, 1], "start": [10, 20, 150],
        "end": [20, 32, 160], "strand": ["+", "-", "."], "score": [2.0, -1.5, 0.7],
        "pvalue": [1e-4, 1e-3, 1e-2], "label": ["motif", "artifact", "unexplained"],
        "motif_id": ["MA1", "NA", "NA"], "motif_name": ["CTCF", "NA", "NA"],
        "motif_cluster": ["CTCF", "NA", "NA"], "motif_qvalue": [0.01, 1.0, 1.0],
        "artifact_name": ["NA", "truseq", "NA"], "decision": ["plausible", "artifact",
                                                              "unexplained"],
        "effect": [0.5, 0.2, 0.0], "shortcut": [False, True, False],
    })  # fmt: skip
    elements.to_csv(tmp_path / "e.tsv", sep="\t", index=False)
    d = str(tmp_path)
    assert main(["export", "--elements", f"{d}/e.tsv", "--index", f"{d}/i.tsv", "--candidates",
                 f"{d}/c.bed", "--artifacts-bed", f"{d}/ab.bed", "--all",
                 f"{d}/all.bed"]) == 0  # fmt: skip
    outs = [f"{d}/h{b}.bw" for b in "ACGT"]
    assert main(["tracks", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
                 "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--genome", str(g),
                 "--elements-bed", f"{d}/all.bed", "--out-bigwig", f"{d}/t.bw",
                 "--out-bigbed", f"{d}/e.bb", "--hypothetical", f"{d}/h.npy",
                 "--out-hypothetical", *outs]) == 0  # fmt: skip
    bb = pybigtools.open(f"{d}/e.bb")
    # (start, end, name, score, strand, thickStart, thickEnd, rgb, 10 detail fields)
    got = sorted(("chrA", r[0], r[1], *r[2:5], *r[8:]) for r in bb.records("chrA"))
    allbed = pd.read_csv(f"{d}/all.bed", sep="\t", header=None, dtype=str,
                         keep_default_na=False)  # fmt: skip
    want = sorted((r[0], int(r[1]), int(r[2]), *r[3:]) for r in allbed.itertuples(index=False))
    assert got == want and len(got) == 3
    assert "decision" in bb.sql() and "shortcut" in bb.sql()
    # hypothetical C track: on the minus window w2 (genome 400..600), genome base g holds
    # the model's complement channel (G) at window position 599 - g
    hc = np.asarray(pybigtools.open(outs[1]).values("chrA", 400, 600, fillna=None))
    assert np.allclose(hc, hyp[1, 2, ::-1], atol=1e-6)
    ha = np.asarray(pybigtools.open(outs[0]).values("chrA", 100, 300, fillna=None))
    assert np.allclose(ha, hyp[0, 0], atol=1e-6)


def test_fasta_records_are_their_own_chromosomes(tmp_path: Path) -> None:
    """FASTA input: one chromosome per record, its length, padding not written."""
    (tmp_path / "f.fa").write_text(">r1\n" + "ACGT" * 20 + "\n>r2\n" + "TTGCA" * 10 + "\n")
    encode_fasta(tmp_path / "f.fa", tmp_path / "x.npy", tmp_path / "i.tsv", length=80)
    x = np.asarray(load_npy(tmp_path / "x.npy"))
    attr = _maps(x, np.arange(2))
    np.save(tmp_path / "a.npy", attr)
    pd.DataFrame({"name": ["r1", "r2"], "row": [0, 1]}).to_csv(tmp_path / "p.tsv", sep="\t",
                                                                index=False)  # fmt: skip
    d = str(tmp_path)
    assert main(["tracks", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
                 "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv",
                 "--out-bigwig", f"{d}/t.bw"]) == 0  # fmt: skip
    bw = pybigtools.open(f"{d}/t.bw")
    assert dict(bw.chroms()) == {"r1": 80, "r2": 50}
    got = np.asarray(bw.values("r2", 0, 50, fillna=None))
    assert np.allclose(got, attr[1].sum(axis=0)[15:65], atol=1e-6)  # centre-padded by 15


def test_bad_inputs_name_the_chromosome_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bed = "chrA\t100\t300\tw1\t0\t+\n"
    _run(tmp_path, bed)
    d = str(tmp_path)
    # a genome whose .fai lacks the index's chromosome
    (tmp_path / "other.fa").write_text(">chrZ\nACGT\n")
    (tmp_path / "other.fa.fai").write_text("chrZ\t4\t6\t4\t5\n")
    args = ["tracks", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
            "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--genome",
            f"{d}/other.fa", "--out-bigwig", f"{d}/bad.bw"]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "chromosome 'chrA'" in err[0] and "other.fa.fai" in err[0]
    assert not (tmp_path / "bad.bw").exists()
    # an element past the chromosome's end
    (tmp_path / "x.bed").write_text("chrA\t850\t950\tunexplained\t100\t.\tunexplained\t.\t.\t."
                                    "\t.\t1.0\t0.01\t.\t.\t.\n")  # fmt: skip
    args = [*args[:-1], f"{d}/bad2.bw", "--elements-bed", f"{d}/x.bed", "--out-bigbed",
            f"{d}/bad.bb"]  # fmt: skip
    args[args.index(f"{d}/other.fa")] = str(tmp_path / "g.fa")
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "ends past chrA (900 bp)" in err and "Traceback" not in err
    assert not (tmp_path / "bad2.bw").exists() and not (tmp_path / "bad.bb").exists()


def test_stale_chromosome_sizes_are_refused(tmp_path: Path) -> None:
    from seqlantern.tracks import chrom_sizes

    idx = pd.DataFrame({"chrom": ["chrQ"], "coords": ["genome"], "source_length": [10]})
    with pytest.raises(SeqlanternError, match="genome FASTA"):
        chrom_sizes(idx, None)


def test_tiling_covers_each_chromosome_and_skips_n(tmp_path: Path) -> None:
    """Windows every stride, the last one aligned to the end; N-rich windows skipped
    and counted; the index is in genome coordinates, all in the test split."""
    from seqlantern.encode import encode_tiles, tile_windows

    got = list(tile_windows({"c": 1000}, window=300, stride=250))
    assert [s for _, s in got] == [0, 250, 500, 700]  # 700: the end is covered
    g = _genome(tmp_path)
    text = g.read_text().splitlines()
    text[1] = text[1][:300] + "N" * 200 + text[1][500:]  # chrA 300..500 is N
    g.write_text("\n".join(text) + "\n")
    n = encode_tiles(g, tmp_path / "x.npy", tmp_path / "i.tsv", window=200, stride=100,
                     max_n=0.5)  # fmt: skip
    idx = read_index(tmp_path / "i.tsv")
    assert n == len(idx) and set(idx["split"]) == {"test"} and set(idx["coords"]) == {"genome"}
    a = idx[idx["chrom"] == "chrA"]
    # 0,100,...,700 on chrA: 300-500 is all N (skipped); 200-400, 400-600 half N (kept)
    assert a["start"].tolist() == [0, 100, 200, 400, 500, 600, 700]
    assert idx[idx["chrom"] == "chrB"]["start"].tolist() == [0, 100, 200]
    assert (idx["end"] - idx["start"] == 200).all()


def test_tiling_bad_inputs_are_one_line(tmp_path: Path) -> None:
    from seqlantern.encode import encode_tiles

    g = _genome(tmp_path)
    kw = {"window": 500, "stride": 100}
    with pytest.raises(SeqlanternError, match=r"window 500 bp is longer than chromosome chrB"):
        encode_tiles(g, tmp_path / "x.npy", tmp_path / "i.tsv", **kw)
    with pytest.raises(SeqlanternError, match=r"chromosome 'chrZ' is not in"):
        encode_tiles(g, tmp_path / "x.npy", tmp_path / "i.tsv", chroms=["chrZ"], **kw)
    (tmp_path / "r.bed").write_text("chrA\t100\t200\n chrA\t800\t950\n".replace(" ", ""))
    with pytest.raises(SeqlanternError, match=r"r.bed: line 2: region ends at 950, past the end"):
        encode_tiles(g, tmp_path / "x.npy", tmp_path / "i.tsv", bed=tmp_path / "r.bed", **kw)
    assert not (tmp_path / "x.npy").exists() and not (tmp_path / "i.tsv").exists()


def test_a_site_seen_by_two_windows_is_one_element() -> None:
    from seqlantern.annotate import merge_window_duplicates

    df = pd.DataFrame({
        "chrom": ["c", "c", "c", "c", "c"], "row": [0, 1, 1, 0, 2],
        "genome_start": [150, 152, 158, 400, 900], "genome_end": [160, 157, 168, 410, 910],
        "sign": ["+", "+", "+", "+", "-"], "score": [1.0, 2.0, 0.5, 1.0, -1.0],
    })  # fmt: skip
    out = merge_window_duplicates(df)
    # window 1 holds the strongest call of the cluster 150..168: its two calls stay
    assert out[["row", "genome_start", "windows"]].values.tolist() == [
        [1, 152, 2], [1, 158, 2], [0, 400, 1], [2, 900, 1]]  # fmt: skip
