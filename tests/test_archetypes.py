"""Motif archetypes: a family for every shipped motif, redundant motifs in one cluster."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import RESOURCES
from seqlantern.archetypes import archetype_table, write_archetypes
from seqlantern.groups import group_elements
from seqlantern.motifs import read_motifs

COLLECTIONS = ["vertebrates", "insects", "fungi"]


def _shipped(tax: str) -> pd.DataFrame:
    return pd.read_csv(RESOURCES / f"motifs/JASPAR2026_CORE_{tax}.families.tsv", sep="\t",
                       dtype=str, keep_default_na=False)  # fmt: skip


@pytest.mark.parametrize("tax", COLLECTIONS)
def test_every_shipped_motif_has_a_family_and_a_cluster(tax: str) -> None:
    motifs = read_motifs(RESOURCES / f"motifs/JASPAR2026_CORE_{tax}.meme")
    t = _shipped(tax)
    assert t["motif_id"].tolist() == [m.id for m in motifs]
    assert (t["tf_family"] != "").all() and (t["cluster_name"] != "").all()
    # JASPAR's own family is kept wherever it has one; inference only fills the gaps
    assert set(t["family_source"].str.split(":").str[0]) <= {
        "jaspar", "jaspar_class", "cluster", "nearest", "name"}  # fmt: skip


def test_shipped_table_is_what_the_command_computes(tmp_path: Path) -> None:
    """The shipped fungi table is reproducible with ``seqlantern cluster-motifs`` (the
    species column, from ``seqlantern motifs --add-species``, carried through)."""
    shipped = _shipped("fungi")
    jaspar = shipped[["motif_id", "motif_name", "tf_class", "species"]].assign(
        tf_family=shipped["tf_family"].where(shipped["family_source"] == "jaspar", "")
    )
    jaspar.to_csv(tmp_path / "f.tsv", sep="\t", index=False)
    out = write_archetypes(RESOURCES / "motifs/JASPAR2026_CORE_fungi.meme", tmp_path / "o.tsv",
                           families=tmp_path / "f.tsv")  # fmt: skip
    again = pd.read_csv(tmp_path / "o.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert again.equals(shipped) and len(out) == len(shipped)


def test_redundant_motifs_share_a_cluster_and_distinct_ones_do_not() -> None:
    vert = _shipped("vertebrates").drop_duplicates("motif_name").set_index("motif_name")
    fungi = _shipped("fungi").set_index("motif_name")
    c = vert["cluster"]
    assert c["KLF4"] == c["SP1"] == c["KLF16"]  # the GC box
    assert c["FOXA1"] == c["FOXA2"] and c["GATA1"] == c["GATA2"]
    assert len({c["KLF4"], c["FOXA1"], c["GATA1"], c["CTCF"], c["REST"], c["TP53"]}) == 6
    assert fungi.loc["RSC3", "cluster"] == fungi.loc["RSC30", "cluster"]
    assert fungi.loc["REB1", "cluster"] == fungi.loc["NSI1", "cluster"]


def test_gaps_are_filled_from_the_cluster_or_the_nearest_motif() -> None:
    motifs = read_motifs(RESOURCES / "motifs/JASPAR2026_CORE_vertebrates.meme")
    first = {m.name: m for m in reversed(motifs)}  # one matrix per name
    klf = [first[n] for n in ("KLF4", "SP1", "KLF16", "CTCF")]
    fam = pd.DataFrame({"motif_id": [m.id for m in klf], "motif_name": [m.name for m in klf],
                        "tf_class": "", "tf_family": ["Kruppel-like", "", "Kruppel-like",
                                                      "CTCF-like"]})  # fmt: skip
    t = archetype_table(klf, fam).set_index("motif_name")
    assert t.loc["SP1", "tf_family"] == "Kruppel-like"
    assert t.loc["SP1", "family_source"] == "cluster"
    assert t.loc["CTCF", "cluster"] != t.loc["SP1", "cluster"]


def test_elements_of_one_cluster_make_one_group_named_by_the_cluster() -> None:
    el = pd.DataFrame({
        "name": [f"s{i}" for i in range(5)], "row": range(5), "start": 0, "end": 8,
        "sign": "+", "score": 1.0, "label": "motif",
        "motif_id": ["MA1", "MA1", "MA1", "MA2", "MA3"],
        "motif_name": ["KLF4", "KLF4", "KLF4", "SP1", "CTCF"],
        "motif_cluster": ["KLF/SP", "KLF/SP", "KLF/SP", "KLF/SP", "CTCF"],
        "motif_qvalue": 0.01, "artifact_name": "NA", "sequence": "GGGCGGGG",
    })  # fmt: skip
    groups, member = group_elements(el)
    g = groups.set_index("group")
    assert member.tolist()[:4] == ["motif:KLF/SP"] * 4
    assert g.loc["motif:KLF/SP", "elements"] == 4 and g.loc["motif:KLF/SP", "name"] == "KLF/SP"
    assert g.loc["motif:KLF/SP", "match_name"] == "KLF4"  # the motif most members match


def test_elements_without_a_cluster_keep_per_motif_groups() -> None:
    """A families table without clusters (read back as missing values) groups by motif."""
    import numpy as np

    el = pd.DataFrame({
        "name": ["a", "b", "c"], "row": [0, 1, 2], "start": 0, "end": 8, "sign": "+",
        "score": 1.0, "label": "motif", "motif_id": ["MA1", "MA1", "MA2"],
        "motif_name": ["X", "X", "Y"], "motif_cluster": np.nan, "motif_qvalue": 0.01,
        "artifact_name": "NA", "sequence": "ACGTACGT",
    })  # fmt: skip
    groups, member = group_elements(el)
    assert member.tolist() == ["motif:MA1", "motif:MA1", "motif:MA2"]
    assert groups.set_index("group").loc["motif:MA1", "name"] == "X"
