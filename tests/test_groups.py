from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import JASPAR, random_dna
from seqlantern.encode import reverse_complement
from seqlantern.groups import aligned_frequencies, cluster_sequences, group_elements
from seqlantern.motifs import MotifIndex, read_meme


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
