"""What limits seqlet recall: the best trade-off any cut-off on the maps could reach.

After ``heldout.py`` (or the demo), this takes the run's attributions and shuffled
controls, calls every candidate (Laplace null, p <= 0.1, the workflow's candidate step),
ranks the real candidates by the workflow's statistic |sum| / sqrt(length) and, for each
cut-off, measures with the truth table: the share of planted functional sites overlapped
by a call (recall), the share of calls on no planted site, and the false-call share the
controls estimate. It prints the best recall at each "calls on nothing" ceiling. When
even an oracle cut-off cannot reach a recall at a ceiling, no FDR level can: the maps
themselves give chance motif matches the planted sites' attribution::

    python benchmarks/frontier.py heldout_runs/default [--truth data/truth.tsv]
    python benchmarks/frontier.py . --truth results/demo/truth.tsv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.seqlets import SeqletParams, call_seqlets, fit_null


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--truth", default="data/truth.tsv")
    ap.add_argument("--shard", default="0")
    a = ap.parse_args()
    res = a.work / "results"
    attr = np.load(res / "attribute/attributions.npy", mmap_mode="r")
    ctrl = np.load(res / "attribute/shards" / a.shard / "controls.npy", mmap_mode="r")
    pred = pd.read_csv(res / "attribute/predictions.tsv", sep="\t")
    truth = pd.read_csv(a.work / a.truth, sep="\t")
    truth = truth[truth["name"].isin(set(pred["name"]))].reset_index(drop=True)
    p = SeqletParams(pvalue=0.1, null="laplace")
    null = fit_null(attr, p)
    real = call_seqlets(attr, list(pred["name"]), pred["row"].to_numpy(), p, null=null)
    k = ctrl.shape[0] // attr.shape[0]
    con = call_seqlets(ctrl, [str(i) for i in range(ctrl.shape[0])], np.arange(ctrl.shape[0]),
                       p, null=null)  # fmt: skip

    def strength(df: pd.DataFrame) -> np.ndarray:
        return (df["score"].abs() / np.sqrt((df["end"] - df["start"]).clip(lower=1))).to_numpy()

    sr, sc = strength(real), np.sort(strength(con))
    pairs = truth.assign(_t=np.arange(len(truth))).merge(
        real.assign(_e=np.arange(len(real))), on="name", suffixes=("_t", "_e"))  # fmt: skip
    ov = np.minimum(pairs["end_e"], pairs["end_t"]) - np.maximum(pairs["start_e"], pairs["start_t"])
    pairs = pairs[(ov >= np.minimum(3, pairs["end_t"] - pairs["start_t"])).to_numpy()]
    hit = np.zeros(len(real), dtype=bool)
    hit[pairs["_e"].to_numpy()] = True
    best = np.zeros(len(truth))
    np.maximum.at(best, pairs["_t"].to_numpy(), sr[pairs["_e"].to_numpy()])
    func = (truth["kind"] == "functional").to_numpy()
    rows = []
    for t in np.sort(sr)[::-1]:
        sel = sr >= t
        n = int(sel.sum())
        ctrl_n = (len(sc) - np.searchsorted(sc, t, side="left")) / k
        rows.append((n, (best[func] >= t).mean(), (~hit[sel]).mean(), ctrl_n / n))
    df = pd.DataFrame(rows, columns=["calls", "recall", "on_nothing", "control_fdr"])
    print(f"{len(real)} candidates, {len(con) / k:.0f} per control copy, "
          f"{int(func.sum())} functional sites")  # fmt: skip
    print("ceiling on calls on nothing -> best recall (calls, control-estimated FDR)")
    for ceiling in (0.05, 0.1, 0.15, 0.2, 0.3):
        ok = df[df["on_nothing"] <= ceiling]
        if len(ok):
            r = ok.loc[ok["recall"].idxmax()]
            print(f"  <= {ceiling:.2f}: recall {r['recall']:.3f} ({int(r['calls'])} calls, "
                  f"controls estimate {r['control_fdr']:.3f})")  # fmt: skip


if __name__ == "__main__":
    main()
