"""Element groups: known-motif groups and de novo clusters of unexplained seqlets.

A biologist reads groups before elements: "CTCF, 495 elements in 470 sequences, mean
contribution 2.7" says more than 495 rows. Elements labelled ``motif`` are grouped by
their matched motif's archetype cluster (``motif_cluster``, :mod:`seqlantern.archetypes`;
by the motif itself without a cluster table), so KLF4, SP1 and KLF16 matches of one
GC-box signal make one group; the group's ``match_id``/``match_name`` is the motif most
of its members match; elements labelled ``artifact`` by artifact; ``unexplained`` elements
are clustered de novo: two seqlets are similar when their best ungapped alignment (either
strand, overlap >= ``min_overlap``) matches at least ``min_identity`` of the overlapping
bases, and average-linkage clusters with at least ``min_size`` members become groups
(``denovo_1``, ``denovo_2`` ... by size). Each group gets an aggregate contribution
matrix (mean attribution of its members, aligned) for the report's logos.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from seqlantern.encode import reverse_complement
from seqlantern.io import RowSource
from seqlantern.tomtom import MotifIndex, compare

GROUP_COLUMNS = ["group", "label", "name", "elements", "sequences", "mean_score",
                 "median_qvalue", "positive", "negative", "match_id", "match_name",
                 "match_qvalue"]  # fmt: skip


def _identity(a: str, b: str, min_overlap: int) -> tuple[float, int, bool]:
    """Best ungapped identity of b against a: (identity, offset of b in a, b reversed)."""
    best = (0.0, 0, False)
    for rev, s in ((False, b), (True, reverse_complement(b))):
        for off in range(-(len(s) - min_overlap), len(a) - min_overlap + 1):
            lo, hi = max(0, off), min(len(a), off + len(s))
            if hi - lo < min_overlap:
                continue
            seg_a, seg_b = a[lo:hi], s[lo - off : hi - off]
            ident = sum(x == y for x, y in zip(seg_a, seg_b, strict=True)) / (hi - lo)
            if ident > best[0]:
                best = (ident, off, rev)
    return best


def cluster_sequences(
    seqs: list[str], *, min_identity: float = 0.8, min_overlap: int = 6
) -> np.ndarray:
    """Average-linkage clusters of short sequences by best ungapped identity (labels 0..)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    n = len(seqs)
    if n < 2:
        return np.zeros(n, dtype=int)
    dist = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            dist[i, j] = dist[j, i] = 1 - _identity(seqs[i], seqs[j], min_overlap)[0]
    tree = linkage(squareform(dist, checks=False), method="average")
    return fcluster(tree, t=1 - min_identity, criterion="distance") - 1


def group_elements(
    elements: pd.DataFrame,
    *,
    min_identity: float = 0.8,
    min_overlap: int = 6,
    min_size: int = 3,
    max_denovo: int = 1000,
    db: MotifIndex | None = None,
) -> tuple[pd.DataFrame, pd.Series]:
    """Group elements; returns the groups table and each element's group (or ``NA``).

    Only the ``max_denovo`` unexplained elements with the largest |score| are clustered
    (pairwise alignment is quadratic); the others keep group ``NA``. With a motif
    database, each de novo group's aligned base frequencies are compared with it
    (``match_*`` columns): a group of individually weak matches can still be a known
    motif as a whole.
    """
    group = pd.Series("NA", index=elements.index, dtype=object)
    is_motif = elements["label"] == "motif"
    key = elements["motif_id"].astype(str)
    if "motif_cluster" in elements.columns:  # archetype clusters: one group per cluster
        cl = elements["motif_cluster"].astype(object).fillna("NA").astype(str)
        has = ~cl.isin(["NA", "", "nan"])
        key = key.where(~has, cl)
    group[is_motif] = "motif:" + key[is_motif]
    is_art = elements["label"] == "artifact"
    group[is_art] = "artifact:" + elements.loc[is_art, "artifact_name"].astype(str)
    un = elements[elements["label"] == "unexplained"]
    if len(un) >= min_size:
        un = un.loc[un["score"].abs().sort_values(ascending=False).index[:max_denovo]]
        labels = cluster_sequences(un["sequence"].tolist(), min_identity=min_identity,
                                   min_overlap=min_overlap)  # fmt: skip
        sizes = pd.Series(labels).value_counts()
        keep = sizes[sizes >= min_size].index
        rank = {lab: k + 1 for k, lab in enumerate(keep)}
        for idx, lab in zip(un.index, labels, strict=True):
            if lab in rank:
                group[idx] = f"denovo_{rank[lab]}"
    rows = []
    for g, members in elements.groupby(group):
        if g == "NA":
            continue
        first = members.iloc[0]
        if first["label"] == "motif":
            # the group is named by the motif most of its members match (the best member
            # of an archetype cluster), and by the cluster when there is one
            counts = members["motif_id"].value_counts(sort=False)
            top = sorted(counts.index, key=lambda m: (-counts[m], str(m)))[0]
            first = members[members["motif_id"] == top].iloc[0]
        name = (str(g)[len("motif:"):] if first["label"] == "motif" and
                "motif_cluster" in members.columns and str(first["motif_cluster"]) not in
                ("NA", "", "nan") else
                first["motif_name"] if first["label"] == "motif" else
                first["artifact_name"] if first["label"] == "artifact" else g)  # fmt: skip
        rows.append({
            "group": g, "label": first["label"], "name": name, "elements": len(members),
            "sequences": members["name"].nunique(), "mean_score": members["score"].mean(),
            "median_qvalue": members["motif_qvalue"].median() if first["label"] == "motif"
            else float("nan"),
            "positive": int((members["sign"] == "+").sum()),
            "negative": int((members["sign"] == "-").sum()),
            "match_id": first["motif_id"] if first["label"] == "motif" else "NA",
            "match_name": first["motif_name"] if first["label"] == "motif" else "NA",
            "match_qvalue": float("nan"),
        })  # fmt: skip
    table = pd.DataFrame(rows, columns=GROUP_COLUMNS)
    if db is not None:
        for k, g in enumerate(table["group"]):
            if str(g).startswith("denovo_"):
                pfm = aligned_frequencies(elements[group == g], min_overlap=min_overlap)
                _, hit = compare(pfm, db)
                table.loc[k, ["match_id", "match_name", "match_qvalue"]] = [
                    db.motifs[hit.index].id,
                    db.motifs[hit.index].name,
                    hit.qvalue,
                ]
    order = {"motif": 0, "artifact": 1, "unexplained": 2}
    table = table.sort_values(["label", "elements"], key=lambda c: c.map(order) if c.name ==
                              "label" else -c, kind="stable").reset_index(drop=True)  # fmt: skip
    return table, group


def aligned_frequencies(members: pd.DataFrame, *, min_overlap: int = 6) -> np.ndarray:
    """Base frequencies (W, 4) of a group's sequences aligned to its strongest member."""
    ref = members.iloc[int(np.argmax(members["score"].abs().to_numpy()))]
    w = len(ref["sequence"])
    counts = np.full((w, 4), 0.25)  # a pseudocount per base keeps columns defined
    for seq in members["sequence"]:
        _, off, rev = _identity(ref["sequence"], seq, min_overlap)
        s = reverse_complement(seq) if rev else seq
        for k, base in enumerate(s):
            c = off + k
            if 0 <= c < w and base in "ACGT":
                counts[c, "ACGT".index(base)] += 1
    return counts / counts.sum(axis=1, keepdims=True)


def aligned_denovo_matrix(
    members: pd.DataFrame, attr: RowSource, attr_row: dict[int, int], *, min_overlap: int = 6
) -> np.ndarray:
    """Mean attribution (W, 4) of a de novo group's members aligned to its strongest one."""
    ref = members.iloc[int(np.argmax(members["score"].abs().to_numpy()))]
    w = int(ref["end"] - ref["start"])
    total, count = np.zeros((w, 4)), np.zeros(w)
    for r in members.itertuples(index=False):
        _, off, rev = _identity(ref["sequence"], r.sequence, min_overlap)
        a = np.asarray(attr[attr_row[int(r.row)]])[:, int(r.start) : int(r.end)]
        if rev:
            a = a[::-1, ::-1]
        for k in range(a.shape[1]):
            c = off + k
            if 0 <= c < w:
                total[c] += a[:, k]
                count[c] += 1
    return total / np.maximum(count, 1)[:, None]
