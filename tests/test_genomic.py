"""BED regions on a genome through attribute -> seqlets -> annotate -> export (CLI)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from conftest import ARTIFACTS, DEMO_MOTIFS, random_dna
from seqlantern.cli import main
from seqlantern.encode import reverse_complement


def test_genomic_input_gives_genome_coordinates(tmp_path: Path, trained_small: Path) -> None:
    rng = np.random.default_rng(4)
    genome = random_dna(20000, rng)
    (tmp_path / "g.fa").write_text(">chrS\n" + "\n".join(genome[i : i + 70]
                                                          for i in range(0, 20000, 70)) + "\n")  # fmt: skip
    starts = rng.integers(300, 19000, 16)
    bed = "".join(f"chrS\t{s}\t{s + 150}\treg{i}\t0\t{'+-'[i % 2]}\n" for i, s in enumerate(starts))
    (tmp_path / "r.bed").write_text(bed)
    d = str(tmp_path)
    assert main(["encode", "--genome", f"{d}/g.fa", "--bed", f"{d}/r.bed", "--length", "200",
                 "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv"]) == 0  # fmt: skip
    assert main(["attribute", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--model",
                 str(trained_small), "--which", "all", "--out", f"{d}/a.npy",
                 "--predictions", f"{d}/p.tsv"]) == 0  # fmt: skip
    assert main(["call-seqlets", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
                 "--pvalue", "0.3", "--null", "laplace", "--out", f"{d}/s.tsv"]) == 0  # fmt: skip
    assert main(["annotate", "--seqlets", f"{d}/s.tsv", "--onehot", f"{d}/x.npy",
                 "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv", "--index",
                 f"{d}/i.tsv", "--motifs", str(DEMO_MOTIFS), "--artifacts", str(ARTIFACTS),
                 "--out", f"{d}/e.tsv"]) == 0  # fmt: skip
    assert main(["export", "--elements", f"{d}/e.tsv", "--index", f"{d}/i.tsv", "--candidates",
                 f"{d}/c.bed", "--artifacts-bed", f"{d}/a.bed", "--all", f"{d}/all.bed"]) == 0  # fmt: skip
    el = pd.read_csv(tmp_path / "e.tsv", sep="\t")
    idx = pd.read_csv(tmp_path / "i.tsv", sep="\t").set_index("name")
    assert len(el) > 0 and (el["chrom"] == "chrS").all()
    for r in el.itertuples():
        g = genome[r.genome_start : r.genome_end]
        strand = idx.loc[r.name, "strand"]
        assert (reverse_complement(g) if strand == "-" else g) == r.sequence
        assert idx.loc[r.name, "start"] <= r.genome_start < r.genome_end <= idx.loc[r.name, "end"]
    allbed = pd.read_csv(tmp_path / "all.bed", sep="\t", header=None)
    assert sorted(zip(allbed[1], allbed[2], strict=True)) == sorted(
        zip(el["genome_start"], el["genome_end"], strict=True)
    )


def test_no_seqlets_gives_empty_outputs(tmp_path: Path, demo_small: dict[str, Path],
                                        trained_small: Path) -> None:  # fmt: skip
    d = str(tmp_path)
    assert main(["attribute", "--onehot", str(demo_small["onehot"]), "--index",
                 str(demo_small["index"]), "--model", str(trained_small), "--out",
                 f"{d}/a.npy", "--predictions", f"{d}/p.tsv"]) == 0  # fmt: skip
    (tmp_path / "s.tsv").write_text(
        "name\trow\tseqlet_id\tstart\tend\tsign\tscore\tmax_abs\tpvalue\n"
    )
    assert main(["annotate", "--seqlets", f"{d}/s.tsv", "--onehot", str(demo_small["onehot"]),
                 "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv", "--index",
                 str(demo_small["index"]), "--motifs", str(DEMO_MOTIFS), "--artifacts",
                 str(ARTIFACTS), "--out", f"{d}/e.tsv", "--groups", f"{d}/g.tsv"]) == 0  # fmt: skip
    assert main(["export", "--elements", f"{d}/e.tsv", "--index", str(demo_small["index"]),
                 "--candidates", f"{d}/c.bed", "--artifacts-bed", f"{d}/ab.bed", "--all",
                 f"{d}/all.bed"]) == 0  # fmt: skip
    assert main(["report", "--elements", f"{d}/e.tsv", "--index", str(demo_small["index"]),
                 "--onehot", str(demo_small["onehot"]), "--attributions", f"{d}/a.npy",
                 "--predictions", f"{d}/p.tsv", "--motifs", str(DEMO_MOTIFS), "--groups",
                 f"{d}/g.tsv", "--out", f"{d}/r.html"]) == 0  # fmt: skip
    assert len(pd.read_csv(tmp_path / "e.tsv", sep="\t")) == 0
    assert (tmp_path / "all.bed").read_text() == ""
    assert "No element matched" in (tmp_path / "r.html").read_text()
