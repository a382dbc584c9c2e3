"""Artifact labels and motif names on a finished run: the figures of issue #15.

Reads a run's ``results/`` and prints, for a user's check that the artifact rules
respect biology and that names do not scatter one signal:

- elements labelled artifact of kind ``low_complexity`` that lie inside the insert
  (more than ``--read-end`` bp from both record ends): should be 0;
- elements whose artifact columns hold a hit below the score threshold: should be 0;
- every constant region with the number of elements that overlap it, how many of those
  got a measured junction decision (``artifact_part_*``) and the decisions;
- the model's reliance on each constant region (``results/shortcuts/constant.tsv``);
- for a sequence pattern (``--pattern``, a regular expression on the element's bases),
  the number of distinct motif names and archetype clusters among the motif-labelled
  elements that carry it, and among those whose matched site itself carries it (a motif
  matched beside the pattern, e.g. SUT1's CGCGGGG after a GCGCG, is another signal).

Usage::

    python benchmarks/artifact_labels.py RUN_DIR [--pattern 'GCGCG|CGCGC'] [--read-end 10]
        [--min-score 12]

To see labels on many elements, rerun a finished example from ``merge_seqlets`` with
``seqlets: {fdr: 1.0}`` in an extra config file (every candidate becomes a call): the
labels and decisions are then exercised on thousands of elements, not the handful that
pass the default FDR on the small shipped samples.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np
import pandas as pd


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--pattern", default="")
    ap.add_argument("--read-end", type=int, default=10)
    ap.add_argument("--min-score", type=int, default=12)
    a = ap.parse_args()
    # a run folder (its results/) or a results_dir itself (results/examples/<name>)
    res = a.run / "results" if (a.run / "results" / "shortcuts").is_dir() else a.run
    e = pd.read_csv(res / "shortcuts/elements.tsv", sep="\t")
    # a per-target sub-run (results_dir/targets/<name>) reads the run's shared encode/
    enc = res / "encode" if (res / "encode").is_dir() else res.parent.parent / "encode"
    idx = pd.read_csv(enc / "index.tsv", sep="\t")
    const = pd.read_csv(res / "annotate/constant.tsv", sep="\t")
    print(f"{len(e)} elements; labels {e['label'].value_counts().to_dict()}; "
          f"decisions {e['decision'].value_counts().to_dict()}")  # fmt: skip
    rows = e["row"].to_numpy(dtype=np.int64)
    off = idx["start"].to_numpy(dtype=np.int64)[rows]
    rec_len = idx["source_length"].to_numpy(dtype=np.int64)[rows]
    rs, re_ = e["start"].to_numpy() + off, e["end"].to_numpy() + off
    inside = (rs >= a.read_end) & (re_ <= rec_len - a.read_end)
    lc = (e["label"] == "artifact").to_numpy() & (e["artifact_kind"] == "low_complexity").to_numpy()
    n_low = int(e["low_complexity"].astype(str).eq("True").sum()) if "low_complexity" in e else -1
    print(f"low-complexity artifacts inside the insert: {int((lc & inside).sum())} "
          f"(at read ends: {int((lc & ~inside).sum())}); elements annotated low complexity: "
          f"{n_low}")  # fmt: skip
    kind = e["artifact_kind"].astype(object).fillna("NA").astype(str)
    lib = ~kind.isin(["NA", "nan", "constant", "positional", "low_complexity"])
    sub = lib & (pd.to_numeric(e["artifact_score"], errors="coerce") < a.min_score)
    print(f"artifact columns filled by a hit below score {a.min_score}: {int(sub.sum())}")
    for r in const.itertuples(index=False):
        ra = np.full(len(e), r.start) if r.anchor == "start" else rec_len - r.end
        rb = np.full(len(e), r.end) if r.anchor == "start" else rec_len - r.start
        ov = np.clip(np.minimum(rb, re_) - np.maximum(ra, rs), 0, None) > 0
        measured = ov & e.get("artifact_part_effect", pd.Series(np.nan, index=e.index)).notna()
        dec = e.loc[measured, "decision"].value_counts().to_dict()
        print(f"constant {r.name} {r.sequence} (share {r.share}): {int(ov.sum())} elements "
              f"overlap, {int(measured.sum())} junctions measured {dec}")  # fmt: skip
    rel = res / "shortcuts/constant.tsv"
    if rel.is_file():
        print(pd.read_csv(rel, sep="\t").drop(columns=["sequence"]).to_string(index=False))
    if a.pattern:
        m = e[(e["label"] == "motif") & e["sequence"].astype(str).str.contains(a.pattern)]
        ncl = m["motif_cluster"].nunique() if "motif_cluster" in m else "NA"
        print(f"pattern {a.pattern!r}: {len(m)} motif elements, {m['motif_name'].nunique()} "
              f"names, {ncl} clusters")  # fmt: skip
        if "motif_cluster" in m:
            print("  clusters:", m["motif_cluster"].value_counts().to_dict())
        print("  names:", m["motif_name"].value_counts().to_dict())
        # the matched site's own bases: a motif whose site lies beside the pattern (SUT1's
        # CGCGGGG next to a GCGCG) names another signal, not the pattern's
        x = np.load(enc / "onehot.npy", mmap_mode="r")
        sites = []
        for r in m.itertuples(index=False):
            cols = np.asarray(x[int(r.row), :, int(r.site_start) : int(r.site_end)])
            sites.append("".join("ACGT"[i] if c.max() > 0 else "N"
                                 for i, c in zip(cols.argmax(0), cols.T, strict=True)))  # fmt: skip
        carries = pd.Series([bool(re.search(a.pattern, q)) for q in sites], index=m.index)
        on = m[carries]
        print(f"  elements whose matched site carries the pattern: {len(on)}, "
              f"{on['motif_cluster'].nunique()} clusters "
              f"{on['motif_cluster'].value_counts().to_dict()}")  # fmt: skip
        for (_, r), q in zip(m[~carries].iterrows(), np.asarray(sites)[~carries.to_numpy()],
                             strict=True):  # fmt: skip
            print(
                f"  beside the pattern: {r['motif_name']} ({r['motif_cluster']}) site {q} "
                f"in {r['sequence']}"
            )


if __name__ == "__main__":
    main()
