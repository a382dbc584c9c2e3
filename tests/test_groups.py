from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import JASPAR, random_dna
from seqlantern.encode import reverse_complement
from seqlantern.groups import aligned_frequencies, cluster_sequences, group_elements
from seqlantern.motifs import read_meme
from seqlantern.tomtom import MotifIndex


def test_cluster_sequences_both_strands() -> None:
    rng = np.random.default_rng(0)
    a, b = "TTGCGCAATC", "GGGACTTTCC"
    seqs = [random_dna(1, rng) + a + random_dna(1, rng) for _ in range(4)]
    seqs += [reverse_complement(random_dna(1, rng) + a) for _ in range(2)]
    seqs += [b + random_dna(1, rng) for _ in range(3)] + [random_dna(12, rng)]
    labels = cluster_sequences(seqs, min_identity=0.8)
    assert len(set(labels[:6])) == 1 and len(set(labels[6:9])) == 1
    assert labels[0] != labels[6] and labels[9] not in set(labels[:9])


def test_group_elements_and_denovo_match() -> None:
    rng = np.random.default_rng(1)
    cebp = "ATTGCGCAAT"
    rows = []
    for _ in range(6):
        rows.append(("motif", "MA0139.2", "CTCF", "NA", random_dna(12, rng), 2.0, "+", 1e-4))
    for i in range(5):
        seq = random_dna(1, rng) + cebp + random_dna(1, rng)
        rows.append(("unexplained", "MAx", "x", "NA", seq if i % 2 else reverse_complement(seq),
                     1.5, "+", 0.5))  # fmt: skip
    rows.append(("unexplained", "MAx", "x", "NA", random_dna(12, rng), 1.0, "+", 0.5))
    rows.append(("artifact", "MAx", "x", "poly_a", "A" * 12, 3.0, "+", 0.9))
    el = pd.DataFrame(rows, columns=["label", "motif_id", "motif_name", "artifact_name",
                                     "sequence", "score", "sign", "motif_qvalue"])  # fmt: skip
    el["name"] = [f"s{i}" for i in range(len(el))]
    db = MotifIndex.build(read_meme(JASPAR))
    table, group = group_elements(el, db=db)
    assert group[0] == "motif:MA0139.2" and group[12] == "artifact:poly_a"
    assert set(group[6:11]) == {"denovo_1"} and group[11] == "NA"
    assert table["group"].tolist() == ["motif:MA0139.2", "artifact:poly_a", "denovo_1"]
    den = table.set_index("group").loc["denovo_1"]
    assert den["elements"] == 5 and "CEBP" in str(den["match_name"]).upper()
    assert den["match_qvalue"] < 0.05
    pfm = aligned_frequencies(el[group == "denovo_1"])
    assert np.allclose(pfm.sum(axis=1), 1) and pfm.max(axis=1).mean() > 0.6


def test_group_match_is_adopted_by_members() -> None:
    from seqlantern.annotate import AnnotateParams, _adopt_group_matches
    from seqlantern.encode import one_hot
    from seqlantern.motifs import SiteScanner, read_families

    rng = np.random.default_rng(2)
    cebp = "ATTGCGCAAT"
    seqs = [random_dna(20, rng) + cebp + random_dna(20, rng) for _ in range(4)]
    seqs[2] = ("CCTCCC" * 9)[:50]  # no CEBP site
    x = np.stack([one_hot(s) for s in seqs])
    df = pd.DataFrame({
        "name": [f"s{i}" for i in range(4)], "row": range(4), "start": [19] * 4,
        "end": [31] * 4, "label": ["unexplained"] * 4, "group": ["denovo_1"] * 3 + ["NA"],
        "motif_id": "MAx", "motif_name": "x", "motif_family": "x", "motif_pvalue": 0.5,
        "motif_qvalue": 0.5, "motif_evalue": 1.0, "strand": ".", "motif_offset": 0,
        "site_start": -1, "site_end": -1, "site_strand": ".", "site_score": 0.0,
        "site_pvalue": 1.0, "motif_evidence": "NA",
    })  # fmt: skip
    groups = pd.DataFrame({"group": ["denovo_1"], "label": ["unexplained"],
                           "match_id": ["MA0466.4"], "match_qvalue": [0.01]})  # fmt: skip
    motifs = read_meme(JASPAR)
    _adopt_group_matches(df, groups, motifs, read_families(None, motifs), x, SiteScanner(),
                         AnnotateParams())  # fmt: skip
    # the member without a site of the group's motif keeps its own label and name
    assert df["label"].tolist() == ["motif", "motif", "unexplained", "unexplained"]
    assert (df["motif_evidence"][:2] == "group").all() and groups["label"][0] == "motif"
    assert (df["motif_name"][:2] == "CEBPB").all() and (df["motif_qvalue"][:2] == 0.01).all()
    assert df["motif_name"][2] == "x"
    site = df.iloc[0]
    assert 17 <= site["site_start"] <= 23 and site["site_pvalue"] < 1e-4


def test_alternatives_list_every_significant_cluster_once() -> None:
    """``motif_alternatives``: the best member of each significant cluster, best first."""
    from seqlantern.annotate import AnnotateParams, _alternatives
    from seqlantern.tomtom import Comparison

    motifs = read_meme(JASPAR)[:4]
    cl = np.array(["A", "A", "B", "C"], dtype=object)
    p = np.array([[1e-4, 1e-5, 3e-4, 0.5]])
    res = Comparison(p, np.array([[0.01, 0.002, 0.03, 0.9]]), np.ones((1, 4)),
                     np.array([[0, 2, -1, 0]]), np.array([[0, 1, 0, 0]]), np.ones((1, 4)))  # fmt: skip
    alts = _alternatives(res, 0, cl, motifs, AnnotateParams(), shift=3).split(";")
    assert [a.split(":")[0] for a in alts] == [motifs[1].id, motifs[2].id]
    assert alts[0].endswith(":5:-") and alts[1].endswith(":2:+")
    none = Comparison(p * 0 + 0.5, np.full((1, 4), 0.9), *(np.zeros((1, 4)),) * 4)
    assert _alternatives(none, 0, cl, motifs, AnnotateParams(), shift=0) == "NA"
