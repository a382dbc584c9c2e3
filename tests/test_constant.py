"""Data-driven artifact sources: constant sequence, position hotspots, low complexity."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import RESOURCES
from seqlantern.constant import (
    dust_score,
    find_constant,
    position_hotspots,
    read_constant,
    write_constant,
)
from seqlantern.encode import encode_fasta, read_index
from seqlantern.io import load_npy, write_fasta


def _library(tmp_path: Path, n: int, lengths: tuple[int, int], seed: int = 0) -> Path:
    """Random inserts of variable length between two constant flanks."""
    rng = np.random.default_rng(seed)
    recs = []
    for i in range(n):
        insert = "".join(rng.choice(list("ACGT"), rng.integers(*lengths)))
        recs.append((f"s{i}", "GATTACAGGCCTTA" + insert + "CCGGTTAACTG"))
    fa = tmp_path / "lib.fa"
    write_fasta(recs, fa)
    return fa


def test_constant_flanks_found_at_both_ends_of_variable_lengths(tmp_path: Path) -> None:
    fa = _library(tmp_path, 400, (60, 90))
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv", length=110)
    regions = find_constant(load_npy(tmp_path / "x.npy", what="x"), read_index(tmp_path / "i.tsv"))
    got = {(r.anchor, r.sequence) for r in regions}
    assert ("start", "GATTACAGGCCTTA") in got and ("end", "CCGGTTAACTG") in got
    assert len(regions) == 2
    write_constant(regions, tmp_path / "c.tsv", tmp_path / "c.fa")
    assert read_constant(tmp_path / "c.tsv") == regions
    assert "kind=constant" in (tmp_path / "c.fa").read_text()
    r = next(r for r in regions if r.anchor == "end")
    assert r.record_span(100) == (89, 100)


def test_no_constant_sequence_in_random_library(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    fa = tmp_path / "r.fa"
    write_fasta([(f"r{i}", "".join(rng.choice(list("ACGT"), 80))) for i in range(300)], fa)
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    assert find_constant(load_npy(tmp_path / "x.npy", what="x"),
                         read_index(tmp_path / "i.tsv")) == []  # fmt: skip


@pytest.mark.parametrize(
    ("seq", "low"),
    [
        ("A" * 20, True),
        ("CA" * 10, True),
        ("GATTACAGGCCTTAGCTTAC", False),
        ("CCGCGTGGCGGCAG", False),
    ],
)
def test_dust_score(seq: str, low: bool) -> None:
    assert (dust_score(seq) >= 3.0) is low


def test_position_hotspots() -> None:
    rng = np.random.default_rng(2)
    centres = rng.integers(0, 200, 2000)
    assert position_hotspots(centres, np.full(2000, 200)) == []
    piled = np.r_[centres, rng.integers(186, 194, 800)]
    hot = position_hotspots(piled, np.full(len(piled), 200))
    assert [(h.anchor, h.start, h.end) for h in hot] == [("start", 180, 190), ("start", 190, 200)]
    # variable lengths: a pile-up 5-15 bp before each record's end is found from the end
    lengths = rng.integers(150, 250, 2800)
    pos = np.r_[rng.integers(0, lengths[:2000]), lengths[2000:] - rng.integers(6, 15, 800)]
    hot = position_hotspots(pos, lengths)
    assert {h.anchor for h in hot} == {"end"}


def test_annotate_labels_constant_and_low_complexity(tmp_path: Path) -> None:
    """Crafted seqlets: one on the constant 5' flank (artifact/constant), a poly-T tract
    inside the insert (only annotated low complexity: poly-dA:dT tracts are promoter
    biology), a CTCF site (motif), and a poly-A run at the read's 3' end (artifact: that is
    where read-through poly-A sits)."""
    from seqlantern.annotate import annotate

    ctcf = "CCGCGCCCTCTGGTGGCCAC"  # not used for placement tests, only as a site
    rng = np.random.default_rng(3)
    flank5 = "GATTACAGGCCTTACGT"
    seqs = []
    for i in range(60):
        mid = "".join(rng.choice(list("ACGT"), 100))
        if i == 0:
            mid = mid[:20] + "T" * 16 + mid[36:60] + ctcf + mid[80:]
        if i == 1:
            mid = mid[:88] + "A" * 12
        seqs.append((f"s{i}", flank5 + mid))
    fa = tmp_path / "f.fa"
    write_fasta(seqs, fa)
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    x = load_npy(tmp_path / "x.npy", what="x")
    idx = read_index(tmp_path / "i.tsv")
    write_constant(find_constant(x, idx), tmp_path / "c.tsv", tmp_path / "c.fa")
    attr = np.zeros((2, 4, x.shape[2]), dtype=np.float32)
    spans = [(0, 2, 12), (0, 17 + 21, 17 + 34), (0, 17 + 60, 17 + 80), (1, 17 + 88, 17 + 100)]
    for r, a, b in spans:
        attr[r, :, a:b] = x[r, :, a:b] * 1.0
    np.save(tmp_path / "a.npy", attr)
    pd.DataFrame({"name": ["s0", "s1"], "row": [0, 1], "pred_y": [1.0, 1.0]}).to_csv(
        tmp_path / "p.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({
        "name": [f"s{r}" for r, _, _ in spans], "row": [r for r, _, _ in spans],
        "seqlet_id": [f"s{r}:{a}-{b}" for r, a, b in spans],
        "start": [a for _, a, _ in spans], "end": [b for _, _, b in spans], "sign": "+",
        "score": [float(b - a) for _, a, b in spans], "max_abs": 1.0, "pvalue": 1e-4,
    }).to_csv(tmp_path / "s.tsv", sep="\t", index=False)  # fmt: skip
    df = annotate(tmp_path / "s.tsv", tmp_path / "x.npy", tmp_path / "a.npy", tmp_path / "p.tsv",
                  tmp_path / "i.tsv", RESOURCES / "motifs/JASPAR2026_CORE_vertebrates.meme",
                  [RESOURCES / "artifacts/artifacts.fa"], tmp_path / "e.tsv",
                  constant_tsv=tmp_path / "c.tsv")  # fmt: skip
    df = df.sort_values(["row", "start"]).reset_index(drop=True)
    assert df["artifact_kind"].tolist() == ["constant", "NA", "NA", "low_complexity"]
    assert df["label"].iloc[0] == "artifact" and df["label"].iloc[3] == "artifact"
    assert df["label"].iloc[1] != "artifact" and bool(df["low_complexity"].iloc[1])
    assert df["label"].iloc[2] == "motif" and not bool(df["low_complexity"].iloc[2])
    assert "CTCF" in df["motif_name"].iloc[2].upper()
    # sub-threshold alignments (random 100-bp inserts always have some) fill nothing
    assert df["artifact_name"].iloc[1:3].tolist() == ["NA", "NA"]
    # the rule is configurable: "anywhere" labels the insert's tract an artifact again
    from seqlantern.annotate import AnnotateParams

    anywhere = annotate(tmp_path / "s.tsv", tmp_path / "x.npy", tmp_path / "a.npy",
                        tmp_path / "p.tsv", tmp_path / "i.tsv",
                        RESOURCES / "motifs/JASPAR2026_CORE_vertebrates.meme",
                        [RESOURCES / "artifacts/artifacts.fa"], tmp_path / "e2.tsv",
                        constant_tsv=tmp_path / "c.tsv",
                        params=AnnotateParams(low_complexity_read_end=10_000))  # fmt: skip
    anywhere = anywhere.sort_values(["row", "start"]).reset_index(drop=True)
    assert anywhere["label"].iloc[1] == "artifact"


def test_find_constant_cli(tmp_path: Path) -> None:
    fa = _library(tmp_path, 200, (50, 51))
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    r = subprocess.run([sys.executable, "-m", "seqlantern.cli", "find-constant", "--onehot",
                        str(tmp_path / "x.npy"), "--index", str(tmp_path / "i.tsv"), "--out",
                        str(tmp_path / "c.tsv"), "--fasta", str(tmp_path / "c.fa")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "2 constant regions" in r.stdout
    assert len(pd.read_csv(tmp_path / "c.tsv", sep="\t")) == 2


def test_adapter_hit_is_not_replaced_by_a_partial_flank_overlap(tmp_path: Path) -> None:
    """A seqlet on a read-through adapter that touches the constant flank by 3 bp stays an
    adapter artifact (the flank covers too little of it to decide)."""
    from seqlantern.annotate import annotate

    rng = np.random.default_rng(4)
    flank5, adapter = "GATTACAGGCCTTACGT", "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"
    seqs = [(f"s{i}", flank5 + "".join(rng.choice(list("ACGT"), 100))) for i in range(60)]
    seqs[0] = ("s0", flank5 + adapter + seqs[0][1][17 + len(adapter) :])
    write_fasta(seqs, tmp_path / "f.fa")
    encode_fasta(tmp_path / "f.fa", tmp_path / "x.npy", tmp_path / "i.tsv")
    x = load_npy(tmp_path / "x.npy", what="x")
    write_constant(find_constant(x, read_index(tmp_path / "i.tsv")), tmp_path / "c.tsv",
                   tmp_path / "c.fa")  # fmt: skip
    attr = np.zeros((1, 4, x.shape[2]), dtype=np.float32)
    attr[0, :, 14:40] = x[0, :, 14:40]
    np.save(tmp_path / "a.npy", attr)
    pd.DataFrame({"name": ["s0"], "row": [0], "pred_y": [1.0]}).to_csv(
        tmp_path / "p.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame({"name": ["s0"], "row": [0], "seqlet_id": ["s0:14-40"], "start": [14],
                  "end": [40], "sign": "+", "score": [26.0], "max_abs": 1.0,
                  "pvalue": 1e-4}).to_csv(tmp_path / "s.tsv", sep="\t", index=False)  # fmt: skip
    df = annotate(tmp_path / "s.tsv", tmp_path / "x.npy", tmp_path / "a.npy", tmp_path / "p.tsv",
                  tmp_path / "i.tsv", RESOURCES / "motifs/JASPAR2026_CORE_vertebrates.meme",
                  [RESOURCES / "artifacts/artifacts.fa"], tmp_path / "e.tsv",
                  constant_tsv=tmp_path / "c.tsv")  # fmt: skip
    assert df["label"].iloc[0] == "artifact"
    assert df["artifact_kind"].iloc[0] == "adapter"
    assert df["artifact_name"].iloc[0] == "truseq_read1_3prime_adapter"
