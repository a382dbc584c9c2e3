"""Motif archetypes: redundant database motifs clustered, and a family for every motif.

A real signal is often matched by many database entries of near-identical specificity
(KLF4, SP1, KLF16 ...; RSC3 and RSC30), so one element group splits into many names and
the report reads as many findings. Clustering the database once, offline, into
archetypes (as Vierstra et al. 2020 did for vertebrate motifs) lets an element be
reported by its cluster, with the best-matching member kept beside it.

Similarity of two motifs is their TOMTOM best alignment's mean column Pearson
correlation, computed in both directions (each as query) and combined by the geometric
mean: ``sim = sqrt(r_ab * r_ba)``, ``r_ab`` = complete score of the best alignment of
``a`` against ``b`` divided by ``a``'s width (columns overhanging ``b`` count at their
null median). Unlike a TOMTOM p-value it does not punish short motifs (a 5-bp CGCGC
against a 7-bp CGCGCG scores ~0.8, while its p-value can never be small).
Average-linkage clustering cut at distance ``1 - sim = cut``; at the default 0.3 the
vertebrate clusters are the familiar archetypes (KLF/SP, FOX, GATA, AP-1, CREB/ATF,
E-box, SOX, Ets), with CTCF, REST and TP53 on their own.

Families: JASPAR's ``tf_family``; where JASPAR has none, its ``tf_class``; where it has
neither, the family most members of the motif's cluster have; else the family of the most
similar motif that has one. ``family_source`` says which.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.io import SeqlanternError, read_tsv, write_tsv
from seqlantern.motifs import Motif, read_motifs
from seqlantern.tomtom import MotifIndex, compare_many

DEFAULT_CUT = 0.3


def motif_similarity(motifs: list[Motif]) -> np.ndarray:
    """(K, K) symmetric similarity in [0, 1] of every motif pair (see the module text)."""
    if not motifs:
        return np.zeros((0, 0))
    res = compare_many([m.pwm for m in motifs], MotifIndex.build(motifs), min_overlap=5,
                       n_threads=1)  # fmt: skip
    width = np.array([m.width for m in motifs], dtype=float)
    r = np.clip(res.scores / width[:, None], 0.0, 1.0)
    sim = np.sqrt(r * r.T)
    np.fill_diagonal(sim, 1.0)
    return sim


def cluster_motifs(sim: np.ndarray, *, cut: float = DEFAULT_CUT) -> np.ndarray:
    """Average-linkage clusters (labels 0..C-1, by decreasing size, ties by first member)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    k = len(sim)
    if k < 2:
        return np.zeros(k, dtype=np.int64)
    dist = 1.0 - sim
    np.fill_diagonal(dist, 0.0)
    raw = fcluster(linkage(squareform(dist, checks=False), method="average"), t=cut,
                   criterion="distance")  # fmt: skip
    sizes = Counter(raw.tolist())
    first = {c: int(np.flatnonzero(raw == c)[0]) for c in sizes}
    order = sorted(sizes, key=lambda c: (-sizes[c], first[c]))
    relabel = {c: i for i, c in enumerate(order)}
    return np.array([relabel[c] for c in raw], dtype=np.int64)


def _stem(name: str) -> str:
    """A TF name's paralog stem: upper case, no partner (``::``), no trailing digits."""
    s = name.split("::")[0].upper()
    s = re.sub(r"[-_.]?\d+[A-Z]?$", "", s)
    return s or name.upper()


def cluster_names(motifs: list[Motif], labels: np.ndarray) -> list[str]:
    """A readable, unique name per cluster: its most common name stems (up to three,
    ``/``-joined, most frequent first, ties alphabetical); a singleton keeps its name."""
    names: list[str] = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        members = [motifs[i] for i in np.flatnonzero(labels == c)]
        if len(members) == 1:
            base = members[0].name
        else:
            counts = Counter(_stem(m.name) for m in members)
            base = "/".join(sorted(counts, key=lambda s: (-counts[s], s))[:3])
        name, k = base, 2
        while name in names:
            name, k = f"{base}.{k}", k + 1
        names.append(name)
    return names


def archetype_table(
    motifs: list[Motif],
    families: pd.DataFrame | None,
    *,
    cut: float = DEFAULT_CUT,
) -> pd.DataFrame:
    """The families table with a family for every motif and its archetype cluster.

    Parameters
    ----------
    motifs
        The database (every motif gets a row, in database order).
    families
        JASPAR's table (``motif_id motif_name tf_class tf_family``) or None.
    cut
        Clustering cut (1 - similarity).

    Returns
    -------
    ``motif_id motif_name tf_class tf_family family_source cluster cluster_name
    cluster_size``, and ``species`` when ``families`` has it.
    """
    sim = motif_similarity(motifs)
    labels = cluster_motifs(sim, cut=cut)
    cnames = cluster_names(motifs, labels)
    fam = families.set_index("motif_id") if families is not None else pd.DataFrame()

    def field(mid: str, col: str) -> str:
        if col not in fam.columns or mid not in fam.index:
            return ""
        v = fam.loc[mid, col]
        v = v.iloc[0] if isinstance(v, pd.Series) else v
        return "" if pd.isna(v) else str(v)

    tf_class = [field(m.id, "tf_class") for m in motifs]
    tf_family = [field(m.id, "tf_family") for m in motifs]
    source = ["jaspar" if f else "" for f in tf_family]
    for i, f in enumerate(tf_family):
        if not f and tf_class[i]:
            tf_family[i], source[i] = tf_class[i], "jaspar_class"
    known = [f for f in tf_family]  # JASPAR's own (family or class), before inference
    for i, f in enumerate(known):
        if f:
            continue
        mates = [known[j] for j in np.flatnonzero(labels == labels[i]) if known[j]]
        if mates:
            counts = Counter(mates)
            tf_family[i] = sorted(counts, key=lambda s: (-counts[s], s))[0]
            source[i] = "cluster"
            continue
        order = np.argsort(-sim[i], kind="stable")
        j = next((int(j) for j in order if j != i and known[j]), None)
        if j is not None:
            tf_family[i], source[i] = known[j], f"nearest:{motifs[j].id}"
        else:
            tf_family[i], source[i] = _stem(motifs[i].name), "name"
    sizes = Counter(labels.tolist())
    table = pd.DataFrame({
        "motif_id": [m.id for m in motifs], "motif_name": [m.name for m in motifs],
        "tf_class": tf_class, "tf_family": tf_family, "family_source": source,
        "cluster": [f"C{int(c):03d}" for c in labels],
        "cluster_name": [cnames[int(c)] for c in labels],
        "cluster_size": [sizes[int(c)] for c in labels],
    })  # fmt: skip
    if "species" in fam.columns:  # kept for annotate.species
        table["species"] = [field(m.id, "species") for m in motifs]
    return table


def write_archetypes(
    motif_db: str | Path,
    out: str | Path,
    *,
    families: str | Path | None = None,
    cut: float = DEFAULT_CUT,
) -> pd.DataFrame:
    """Cluster ``motif_db`` and write the archetype/family table (``out``; may be the
    ``families`` file itself, replaced atomically)."""
    motifs = read_motifs(motif_db)
    fam = None
    if families is not None:
        fam = read_tsv(families, what="motif families")
        if "motif_id" not in fam.columns:
            raise SeqlanternError(f"{families}: no motif_id column; expected motif_id "
                                  "motif_name tf_class tf_family")  # fmt: skip
        fam = fam.astype(object).fillna("").astype(str)
    table = archetype_table(motifs, fam, cut=cut)
    write_tsv(table, out)
    return table


def read_clusters(path: str | Path | None) -> dict[str, str]:
    """``motif_id -> cluster_name`` from an archetype table (empty without one, or when
    the table has no ``cluster_name`` column, e.g. a plain JASPAR families table)."""
    if path is None or not Path(path).is_file():
        return {}
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    if "cluster_name" not in df.columns or "motif_id" not in df.columns:
        return {}
    return dict(zip(df["motif_id"], df["cluster_name"], strict=True))
