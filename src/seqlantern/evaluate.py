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
- ``functional_motifs_recovered``: planted functional motifs (by id) of which at least
  ``MOTIF_RECOVERED_SITES`` sites are overlapped by an element labelled ``motif`` of the
  right family: whether each factor of the grammar was found at all, the question a
  user without a truth table asks of a motif report (tangermeme / TF-MoDISco style).

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

from seqlantern.io import SeqlanternError, read_tsv, write_tsv
from seqlantern.motifs import read_families, read_motifs

MOTIF_RECOVERED_SITES = 3


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
    lacking = [c for c in ("name", "start", "end", "motif", "kind") if c not in truth.columns]
    if lacking:
        raise SeqlanternError(
            f"{truth_tsv}: truth table lacks column(s) {', '.join(lacking)}; expected "
            "name start end strand motif motif_name kind (see config/README.md, data.truth)"
        )
    attributed = set(read_tsv(predictions_tsv, what="predictions")["name"])
    truth = truth[truth["name"].isin(attributed)].reset_index(drop=True)
    fams = read_families(families, read_motifs(motif_db))
    el = el.reset_index(drop=True)
    has_decision = "decision" in el.columns
    # every (planted site, call) pair on the same sequence, then the overlapping ones:
    # vectorised, so the cost is linear in the number of sites and calls
    e_cols = ["name", "start", "end", "label", "motif_id"] + (
        ["shortcut", "decision"] if has_decision else [])  # fmt: skip
    pairs = truth[["name", "start", "end", "motif"]].assign(_t=np.arange(len(truth))).merge(
        el[e_cols].assign(_e=np.arange(len(el))), on="name", suffixes=("_t", "_e"))  # fmt: skip
    need = np.minimum(min_overlap, pairs["end_t"] - pairs["start_t"])
    overlap = np.minimum(pairs["end_e"], pairs["end_t"]) - np.maximum(pairs["start_e"],
                                                                      pairs["start_t"])  # fmt: skip
    pairs = pairs[(overlap >= need).to_numpy()]
    el_hit = np.zeros(len(el), dtype=bool)
    el_hit[pairs["_e"].to_numpy()] = True
    t_idx = pairs["_t"].to_numpy()

    def any_of(mask: np.ndarray) -> np.ndarray:
        return np.bincount(t_idx[mask], minlength=len(truth)) > 0

    same_family = {
        (m, p): bool(fams.get(m, frozenset()) & fams.get(p, frozenset({p})))
        for m, p in set(zip(pairs["motif_id"], pairs["motif"], strict=True))
    }
    is_motif = (pairs["label"] == "motif").to_numpy()
    is_art = (pairs["label"] == "artifact").to_numpy()
    fam_ok = np.array([same_family[k] for k in zip(pairs["motif_id"], pairs["motif"],
                                                    strict=True)], dtype=bool)  # fmt: skip
    found_a = any_of(np.ones(len(pairs), dtype=bool))
    right_a = any_of(is_motif & fam_ok)
    flagged_a = any_of(is_art)
    as_art_a = found_a & flagged_a & ~any_of(is_motif)
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
        sc_a = any_of((pairs["shortcut"].astype(str) == "True").to_numpy())
        pl_a = any_of((pairs["decision"] == "plausible").to_numpy())
        rows += [
            row("artifact_shortcut", int(sc_a[art].sum()), int(art.sum())),
            row("functional_plausible", int(pl_a[func].sum()), int(found_a[func].sum())),
            row("decoy_plausible", int(pl_a[decoy].sum()), int(found_a[decoy].sum())),
        ]
    per_motif = [int(right_a[g.index.to_numpy()].sum()) >= MOTIF_RECOVERED_SITES
                 for _, g in truth[func].groupby("motif")]  # fmt: skip
    rows.insert(6, row("functional_motifs_recovered", int(sum(per_motif)), len(per_motif)))
    for motif, grp in truth[func].groupby("motif_name"):
        m = grp.index.to_numpy()
        rows.append(row(f"found:{motif}", int(found_a[m].sum()), len(m)))
        rows.append(row(f"right_family:{motif}", int(right_a[m].sum()), len(m)))
    out = pd.DataFrame(rows)
    write_tsv(out, out_tsv)
    return out
