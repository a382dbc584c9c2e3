"""Score called elements against a truth table of planted sites (simulated data).

Only sequences that were attributed count. A planted site is *found* when an element
overlaps it by at least ``min_overlap`` bp (or the whole site when it is shorter).

Metrics (value, numerator, denominator):

- ``functional_found``: functional sites overlapped by any element.
- ``functional_right_family``: functional sites overlapped by an element labelled
  ``motif`` whose matched motif shares a TF family with the planted motif.
- ``artifact_flagged``: artifact sites overlapped by an element labelled ``artifact``.
- ``functional_as_artifact``: found functional sites whose overlapping elements are
  labelled ``artifact`` (and none ``motif``), over found functional sites.
- ``decoy_found``: decoy sites overlapped by an element (a faithful model ignores them).
- ``calls_matching_nothing``: elements that overlap no planted site of any kind.

With the shortcut tests' columns (``decision``, ``shortcut``) also:

- ``artifact_shortcut``: artifact sites overlapped by an element flagged ``shortcut``.
- ``functional_plausible`` / ``decoy_plausible``: found functional / decoy sites
  overlapped by an element decided ``plausible`` (motif match and measurable effect);
  a faithful model gives the decoys no effect.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.io import read_tsv, write_tsv
from seqlantern.motifs import read_families, read_motifs


def evaluate(
    elements_tsv: str | Path,
    truth_tsv: str | Path,
    predictions_tsv: str | Path,
    out_tsv: str | Path,
    *,
    motif_db: str | Path,
    families: str | Path | None = None,
    min_overlap: int = 3,
) -> pd.DataFrame:
    """Compute the metrics above and write them as TSV (metric, value, n, total)."""
    el = read_tsv(elements_tsv, what="elements", ints=("start", "end"))
    truth = read_tsv(truth_tsv, what="truth", ints=("start", "end"))
    attributed = set(read_tsv(predictions_tsv, what="predictions")["name"])
    truth = truth[truth["name"].isin(attributed)].reset_index(drop=True)
    fams = read_families(families, read_motifs(motif_db))
    by_name = {n: g for n, g in el.groupby("name")}
    el_hit = np.zeros(len(el), dtype=bool)
    el_pos = {idx: k for k, idx in enumerate(el.index)}
    found, right, flagged, as_art, shortcut, plausible = [], [], [], [], [], []
    has_decision = "decision" in el.columns
    for t in truth.itertuples(index=False):
        g = by_name.get(t.name)
        need = min(min_overlap, t.end - t.start)
        if g is None:
            ov = pd.DataFrame(columns=el.columns)
        else:
            overlap = np.minimum(g["end"], t.end) - np.maximum(g["start"], t.start)
            ov = g[overlap >= need]
            for idx in ov.index:
                el_hit[el_pos[idx]] = True
        labels = set(ov["label"])
        f = len(ov) > 0
        found.append(f)
        planted_fam = fams.get(t.motif, frozenset({t.motif}))
        right.append(any(
            r.label == "motif" and bool(fams.get(r.motif_id, frozenset()) & planted_fam)
            for r in ov.itertuples(index=False)
        ))  # fmt: skip
        flagged.append("artifact" in labels)
        as_art.append(f and "artifact" in labels and "motif" not in labels)
        if has_decision:
            shortcut.append(bool((ov["shortcut"].astype(str) == "True").any()))
            plausible.append(bool((ov["decision"] == "plausible").any()))
    found_a, right_a = np.array(found, bool), np.array(right, bool)
    flagged_a, as_art_a = np.array(flagged, bool), np.array(as_art, bool)
    kind = truth["kind"].to_numpy()
    func, art, decoy = kind == "functional", kind == "artifact", kind == "decoy"

    def row(metric: str, num: int, den: int) -> dict[str, object]:
        return {"metric": metric, "value": num / den if den else float("nan"), "n": num,
                "total": den}  # fmt: skip

    rows = [
        row("functional_found", int(found_a[func].sum()), int(func.sum())),
        row("functional_right_family", int(right_a[func].sum()), int(func.sum())),
        row("artifact_flagged", int(flagged_a[art].sum()), int(art.sum())),
        row("functional_as_artifact", int(as_art_a[func].sum()), int(found_a[func].sum())),
        row("decoy_found", int(found_a[decoy].sum()), int(decoy.sum())),
        row("calls_matching_nothing", int((~el_hit).sum()), len(el)),
    ]
    if has_decision:
        sc_a, pl_a = np.array(shortcut, bool), np.array(plausible, bool)
        rows += [
            row("artifact_shortcut", int(sc_a[art].sum()), int(art.sum())),
            row("functional_plausible", int(pl_a[func].sum()), int(found_a[func].sum())),
            row("decoy_plausible", int(pl_a[decoy].sum()), int(found_a[decoy].sum())),
        ]
    for motif, grp in truth[func].groupby("motif_name"):
        m = grp.index.to_numpy()
        rows.append(row(f"found:{motif}", int(found_a[m].sum()), len(m)))
        rows.append(row(f"right_family:{motif}", int(right_a[m].sum()), len(m)))
    out = pd.DataFrame(rows)
    write_tsv(out, out_tsv)
    return out
