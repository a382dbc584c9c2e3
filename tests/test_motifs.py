from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import DEMO_MOTIFS, JASPAR
from seqlantern.io import SeqlanternError
from seqlantern.motifs import read_meme, revcomp_pwm, write_meme
from seqlantern.tomtom import MotifIndex, compare

TRAPS = (
    "MEME version 5\r\n\r\nALPHABET= ACGT\r\n\r\nstrands: + -\r\n\r\n"
    "MOTIF M1 first\r\nletter-probability matrix: alength= 4 w= 2\r\n"
    "0.1 0.2 0.3 0.4\r\n1 0 0 0\r\nURL http://example.org/M1\r\n\r\n"
    "MOTIF M2\r\nletter-probability matrix: alength= 4 w= 3 nsites= 5 E= 1e-3\r\n"
    "0.25 0.25 0.25 0.25\r\n0 0 0 1\r\n0 0 2 0"
)


def test_read_meme_traps(tmp_path: Path) -> None:
    p = tmp_path / "m.meme"
    p.write_text(TRAPS)
    ms = read_meme(p)
    assert [m.id for m in ms] == ["M1", "M2"]
    assert ms[1].name == "M2" and ms[1].width == 3  # no name, last motif at EOF, no newline
    assert np.allclose(ms[1].pwm[2], [0, 0, 1, 0])  # renormalised
    write_meme(ms, tmp_path / "out.meme")
    again = read_meme(tmp_path / "out.meme")
    assert all(np.allclose(a.pwm, b.pwm, atol=1e-6) for a, b in zip(ms, again, strict=True))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("MOTIF X\n", "not a MEME motif file"),
        (
            "MEME version 4\n\nMOTIF A\nletter-probability matrix: w= 3\n1 0 0 0\n0 1 0 0\n\n"
            "MOTIF B\n",
            r"line 4: motif A: header says w=3 but 2 rows follow",
        ),
        ("MEME version 4\n\nMOTIF A\nletter-probability matrix: w= 1\n1 0 0\n", "row has 3 values"),
        ("MEME version 4\n\n", "no motifs"),
    ],
)
def test_read_meme_malformed(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.meme"
    p.write_text(text)
    with pytest.raises(SeqlanternError, match=message):
        read_meme(p)


def test_database_self_match_and_strands() -> None:
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    for k in range(len(ms)):  # every JASPAR 2026 vertebrate motif returns itself first
        _, hit = compare(ms[k].pwm, db)
        assert hit.index == k and hit.strand == "+" and hit.offset == 0
    rng = np.random.default_rng(0)
    for k in rng.choice(len(ms), 60, replace=False):
        _, hit_rc = compare(revcomp_pwm(ms[k].pwm), db)
        assert ms[hit_rc.index].name == ms[k].name


def test_random_queries_are_not_significant() -> None:
    db = MotifIndex.build(read_meme(JASPAR))
    rng = np.random.default_rng(1)
    qs = [compare(np.eye(4)[rng.integers(0, 4, 12)], db)[1].qvalue for _ in range(40)]
    assert np.mean(np.array(qs) <= 0.05) <= 0.1


def test_planted_site_matches_its_motif() -> None:
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    demo = {m.id: m for m in read_meme(DEMO_MOTIFS)}
    ctcf = demo["MA0139.2"]
    _, hit = compare(np.eye(4)[["ACGT".index(c) for c in ctcf.consensus()]], db)
    assert "CTCF" in ms[hit.index].name.upper() and hit.qvalue < 0.01


def test_site_scanner_exact_pvalues() -> None:
    from seqlantern.encode import one_hot, reverse_complement
    from seqlantern.motifs import SiteScanner

    m = {x.id: x for x in read_meme(DEMO_MOTIFS)}["MA0139.2"]
    scanner = SiteScanner()
    rng = np.random.default_rng(0)
    bg = "".join("ACGT"[i] for i in rng.integers(0, 4, 40))
    for site, strand in ((m.consensus(), "+"), (reverse_complement(m.consensus()), "-")):
        best = scanner.best_site(m, one_hot(bg[:10] + site + bg[10:]))
        assert best is not None and best[0] == 10 and best[1] == strand
        assert np.isclose(best[3], 0.25**m.width, rtol=1e-6)  # only the consensus scores max
    # one random window per draw, best of two strands: P(p < a) ~ 1 - (1 - a)^2
    ps = np.array([scanner.best_site(m, one_hot("".join("ACGT"[i] for i in
                   rng.integers(0, 4, m.width))))[3] for _ in range(3000)])  # type: ignore[index]  # fmt: skip
    for a in (0.01, 0.1):
        assert abs(np.mean(ps < a) - (1 - (1 - a) ** 2)) < 0.35 * a + 0.005
    assert scanner.best_site(m, one_hot("ACGT")) is None


def test_species_selection_on_the_shipped_fungi() -> None:
    """annotate.species keeps the motifs of that species (a strain counts for it) and
    drops the other fungi: S. pombe's toe1 and Neurospora's nit-4 leave a yeast run."""
    from conftest import ROOT
    from seqlantern.motifs import read_motifs, select_species

    meme = ROOT / "resources/motifs/JASPAR2026_CORE_fungi.meme"
    fam = ROOT / "resources/motifs/JASPAR2026_CORE_fungi.families.tsv"
    motifs = read_motifs(meme)
    table = pd.read_csv(fam, sep="\t", dtype=str, keep_default_na=False)
    keep = select_species(motifs, fam, ["saccharomyces cerevisiae"])
    ids = {m.id for m in keep}
    want = set(table.loc[table["species"].str.startswith("Saccharomyces cerevisiae"), "motif_id"])
    assert ids == want and 0 < len(ids) < len(motifs)
    names = {m.name for m in keep}
    assert "toe1" not in names and "nit-4" not in names and "RSC30" in names
    assert [m.id for m in keep] == [m.id for m in motifs if m.id in ids]  # file order kept
    with pytest.raises(SeqlanternError, match="Saccharomyces cerevisiae"):
        select_species(motifs, fam, ["Sacharomyces"])


def test_species_selection_needs_a_species_column(tmp_path: Path) -> None:
    from conftest import ROOT
    from seqlantern.motifs import read_motifs, select_species

    fam = tmp_path / "f.tsv"
    fam.write_text("motif_id\ttf_family\nMA0271.1\tMADS\n")
    motifs = read_motifs(ROOT / "resources/motifs/JASPAR2026_CORE_fungi.meme")
    with pytest.raises(SeqlanternError, match="no species column"):
        select_species(motifs, fam, ["Saccharomyces cerevisiae"])


def test_shipped_tables_give_species() -> None:
    """Every shipped table has the species column; every fungal and insect motif has a
    species (JASPAR gives none for one vertebrate matrix, TBP's)."""
    from conftest import ROOT

    for taxon in ("fungi", "insects", "vertebrates"):
        t = pd.read_csv(ROOT / f"resources/motifs/JASPAR2026_CORE_{taxon}.families.tsv",
                        sep="\t", dtype=str, keep_default_na=False)  # fmt: skip
        missing = t.loc[t["species"] == "", "motif_name"].tolist()
        assert missing == ([] if taxon != "vertebrates" else ["TBP"]), taxon
