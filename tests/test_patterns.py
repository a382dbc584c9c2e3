"""De novo patterns (seqlantern patterns): signs, strands, PWMs and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqlantern.cli import main
from seqlantern.encode import one_hot, reverse_complement
from seqlantern.motifs import read_meme

MEME = Path(__file__).resolve().parents[1] / "resources/motifs/demo_motifs.meme"


def _library(d: Path, plants: list[tuple[str, float, bool]], *, length: int = 60,
             seed: int = 0) -> list[str]:  # fmt: skip
    """Records with one planted site each: (site, contribution sign, reverse complement).

    The 'model' prefers the site's base at each site position (hypothetical +1 for it,
    -1/3 for the others, times the sign) and is indifferent elsewhere (small noise); the
    attribution is hypothetical x one-hot, as gradient x input gives. Writes the stage's
    input files into ``d``; returns the arguments of ``seqlantern patterns``.
    """
    rng = np.random.default_rng(seed)
    n = len(plants)
    x = np.zeros((n, 4, length), np.float32)
    hyp = rng.normal(0, 0.02, size=(n, 4, length)).astype(np.float32)
    rows = []
    for i, (site, sign, rc) in enumerate(plants):
        seq = list(rng.choice(list("ACGT"), length))
        s = int(rng.integers(18, length - 18 - len(site)))
        placed = reverse_complement(site) if rc else site
        seq[s : s + len(site)] = list(placed)
        x[i] = one_hot("".join(seq))
        pref = x[i][:, s : s + len(site)] * (4 / 3) - 1 / 3
        hyp[i][:, s : s + len(site)] += sign * pref
        rows.append({"seqlet_id": f"r{i}:{s}-{s + len(site)}", "name": f"r{i}", "row": i,
                     "start": s, "end": s + len(site), "strand": "-" if rc else "+",
                     "sign": "+" if sign > 0 else "-", "label": "unexplained",
                     "artifact_name": "NA"})  # fmt: skip
    np.save(d / "x.npy", x)
    np.save(d / "h.npy", hyp)
    np.save(d / "a.npy", hyp * x)
    pd.DataFrame({"row": np.arange(n), "name": [f"r{i}" for i in range(n)],
                  "prediction": 0.0}).to_csv(d / "p.tsv", sep="\t", index=False)  # fmt: skip
    pd.DataFrame(rows).to_csv(d / "e.tsv", sep="\t", index=False)
    return ["patterns", "--elements", str(d / "e.tsv"), "--onehot", str(d / "x.npy"),
            "--attributions", str(d / "a.npy"), "--predictions", str(d / "p.tsv"),
            "--hypothetical", str(d / "h.npy"), "--motifs", str(MEME), "--out-meme",
            str(d / "o.meme"), "--out-patterns", str(d / "o.tsv"), "--out-members",
            str(d / "m.tsv"), "--out-matrices", str(d / "x.tsv")]  # fmt: skip


def test_same_bases_opposite_signs_are_two_patterns(tmp_path: Path) -> None:
    site = "TGACGTCATG"
    plants = [(site, 1.0, False)] * 60 + [(site, -1.0, False)] * 60
    assert main(_library(tmp_path, plants)) == 0
    pt = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    assert len(pt) == 2
    assert sorted(zip(pt["positive"], pt["negative"], strict=True)) == [(0, 60), (60, 0)]


def test_a_motif_and_its_reverse_complement_are_one_pattern(tmp_path: Path) -> None:
    site = "GGGACTTTCC"
    plants = [(site, 1.0, i % 2 == 1) for i in range(120)]
    assert main(_library(tmp_path, plants)) == 0
    pt = pd.read_csv(tmp_path / "o.tsv", sep="\t")
    mem = pd.read_csv(tmp_path / "m.tsv", sep="\t")
    assert len(pt) == 1 and pt["members"].iloc[0] == 120
    # members on both strands, each read in the pattern's orientation
    assert set(mem["window_strand"]) == {"+", "-"}
    assert pt["consensus"].iloc[0] in (site, reverse_complement(site))


def test_pwm_is_the_members_base_frequencies(tmp_path: Path) -> None:
    """The PWM written to patterns.meme equals the PFM recomputed by hand from the
    members' windows (bases read on the member's strand)."""
    rng = np.random.default_rng(3)
    sites = ["".join(rng.choice(list("AC"), 2)) + "TTGCGCAA" for _ in range(50)]
    plants = [(s, 1.0, i % 3 == 0) for i, s in enumerate(sites)]
    assert main(_library(tmp_path, plants, seed=3)) == 0
    mem = pd.read_csv(tmp_path / "m.tsv", sep="\t")
    mem = mem[mem["pattern"] == "pattern_1"]
    x = np.load(tmp_path / "x.npy")
    counts = None
    for r in mem.itertuples(index=False):
        w = x[r.row][:, r.window_start : r.window_end]
        if r.window_strand == "-":
            w = w[::-1, ::-1]
        counts = w.copy() if counts is None else counts + w
    assert counts is not None
    by_hand = (counts / counts.sum(axis=0)).T
    pwm = read_meme(tmp_path / "o.meme")[0].pwm
    assert pwm.shape == by_hand.shape and np.allclose(pwm, by_hand, atol=1e-6)
    assert len(mem) == 50


def test_no_seqlets_is_an_empty_result(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = _library(tmp_path, [("TGACGTCATG", 1.0, False)] * 5)
    el = pd.read_csv(tmp_path / "e.tsv", sep="\t")
    el.iloc[:0].to_csv(tmp_path / "e.tsv", sep="\t", index=False)
    assert main(args) == 0
    assert "no elements" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "o.tsv", sep="\t").empty
    assert pd.read_csv(tmp_path / "m.tsv", sep="\t").empty
    assert "MOTIF" not in (tmp_path / "o.meme").read_text()


def test_hypothetical_shape_mismatch_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _library(tmp_path, [("TGACGTCATG", 1.0, False)] * 30)
    np.save(tmp_path / "h.npy", np.zeros((30, 4, 50), np.float32))
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "h.npy" in err and "(30, 4, 50)" in err
    assert not (tmp_path / "o.tsv").exists() and not (tmp_path / "o.meme").exists()


def test_patterns_are_deterministic(tmp_path: Path) -> None:
    site = "GGGACTTTCC"
    plants = [(site, 1.0, i % 2 == 1) for i in range(80)] + [("TGACGTCATG", 1.0, False)] * 40
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        assert main(_library(d, plants)) == 0
    for f in ("o.meme", "o.tsv", "m.tsv", "x.tsv"):
        assert (a / f).read_bytes() == (b / f).read_bytes(), f
