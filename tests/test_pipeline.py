"""End-to-end on a reduced demo through the CLI, asserting the issue's quality targets."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import ARTIFACTS, DEMO_MOTIFS, FAMILIES, JASPAR
from seqlantern.cli import main


@pytest.mark.slow
def test_reduced_demo_meets_targets(tmp_path: Path) -> None:
    d = tmp_path
    steps = [
        ["simulate", "--motifs", str(DEMO_MOTIFS), "--n", "10000", "--seed", "11",
         "--fasta", f"{d}/demo.fa", "--targets", f"{d}/t.tsv", "--truth", f"{d}/truth.tsv"],
        ["encode", "--fasta", f"{d}/demo.fa", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv",
         "--test-fraction", "0.15", "--seed", "11"],
        ["train", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--targets", f"{d}/t.tsv",
         "--columns", "activity", "--threads", "2", "--no-equal-steps", "--seed", "11", "--out-model",
         f"{d}/m/model.json", "--metrics", f"{d}/m/metrics.tsv", "--curve", f"{d}/m/c.png"],
        ["attribute", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--model",
         f"{d}/m/model.json", "--out", f"{d}/a.npy", "--predictions", f"{d}/p.tsv"],
        ["call-seqlets", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
         "--null", "laplace", "--pvalue", "0.02", "--out", f"{d}/s.tsv"],
        ["annotate", "--seqlets", f"{d}/s.tsv", "--onehot", f"{d}/x.npy", "--attributions",
         f"{d}/a.npy", "--predictions", f"{d}/p.tsv", "--index", f"{d}/i.tsv", "--motifs",
         str(JASPAR), "--families", str(FAMILIES), "--artifacts", str(ARTIFACTS),
         "--out", f"{d}/e.tsv"],
        ["evaluate", "--elements", f"{d}/e.tsv", "--truth", f"{d}/truth.tsv", "--predictions",
         f"{d}/p.tsv", "--motifs", str(JASPAR), "--families", str(FAMILIES),
         "--out", f"{d}/ev.tsv"],
        ["export", "--elements", f"{d}/e.tsv", "--index", f"{d}/i.tsv", "--candidates",
         f"{d}/c.bed", "--artifacts-bed", f"{d}/a.bed", "--all", f"{d}/all.bed"],
        ["report", "--elements", f"{d}/e.tsv", "--index", f"{d}/i.tsv", "--onehot",
         f"{d}/x.npy", "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv",
         "--motifs", str(JASPAR), "--metrics", f"{d}/m/metrics.tsv", "--curve",
         f"{d}/m/c.png", "--evaluation", f"{d}/ev.tsv", "--out", f"{d}/report.html"],
    ]  # fmt: skip
    for args in steps:
        assert main(args) == 0, args[0]
    ev = pd.read_csv(d / "ev.tsv", sep="\t").set_index("metric")["value"]
    print(ev.head(6).to_string())
    assert ev["functional_found"] >= 0.85
    assert ev["functional_right_family"] >= 0.75
    assert ev["artifact_flagged"] >= 0.95
    assert ev["functional_as_artifact"] <= 0.01
    assert ev["calls_matching_nothing"] <= 0.20
    metrics = pd.read_csv(d / "m" / "metrics.tsv", sep="\t")
    assert metrics["pearson"][0] > 0.7
    bed = pd.read_csv(d / "c.bed", sep="\t", header=None)
    assert (bed[6] == "motif").all() and bed.equals(bed.sort_values([0, 1, 2]))
    html = (d / "report.html").read_text()
    assert "What the model relies on: known motifs" in html
    assert "truseq_read1_3prime_adapter" in html
    assert "data:image/png;base64" in html and "http" not in html.split("<body>")[1][:2000]
