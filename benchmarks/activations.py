"""Activation study and weak supervision on the demo as a binary task (issue: microscope).

    python benchmarks/activations.py [--n 10000] [--epochs 15] [--workdir activation_runs]
                                     [--activations relu exp ...] [--sequences 1000]

Simulates a seeded demo library (``seqlantern simulate``, the demo grammar), labels a
sequence active when its activity is at or above the median, and trains the default
CNN (``seqlantern.train.train``, task binary, same split and seed) once per
first-layer activation. On the test sequences (the first ``--sequences``) it reports:

- test AUROC of the classifier;
- attribution AUROC against the planted truth: every position of every test sequence,
  |gradient x input| of the observed base as the score, "inside a planted functional
  site" as the label, for maps of the logit and of the probability (sigmoid);
- deletion gain (random-order AUC minus map-order AUC of the deletion curve,
  :func:`seqlantern.diagnostics.faithfulness_curves`) for both;
- for each model, element boundaries from labels alone (``seqlantern.segment``: Grad-CAM
  seeds grown along the map) against planted sites (boundary IoU, recall, precision),
  next to seqlets called on the same maps (Laplace null, default options).

Prints Markdown tables; the figures of a run are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
ACTS = ["relu", "leaky_relu", "exp", "softplus", "sigmoid", "tanh", "elu"]


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10000)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--workdir", type=Path, default=ROOT / "activation_runs")
    ap.add_argument("--activations", nargs="+", default=ACTS)
    ap.add_argument("--sequences", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from seqlantern.diagnostics import curve_areas, faithfulness_curves
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy
    from seqlantern.methods import hypothetical, observed
    from seqlantern.models import load_checkpoint
    from seqlantern.segment import boundary_iou, segment
    from seqlantern.seqlets import SeqletParams, call_seqlets
    from seqlantern.train import train

    w = a.workdir
    w.mkdir(parents=True, exist_ok=True)
    if not (w / "x.npy").is_file():
        subprocess.run(["seqlantern", "simulate", "--motifs",
                        str(ROOT / "resources/motifs/demo_motifs.meme"), "--n", str(a.n),
                        "--seed", "0", "--fasta", str(w / "s.fa"), "--targets",
                        str(w / "t.tsv"), "--truth", str(w / "truth.tsv")], check=True)  # fmt: skip
        t = pd.read_csv(w / "t.tsv", sep="\t")
        t["active"] = (t["activity"] >= t["activity"].median()).astype(int)
        t.to_csv(w / "binary.tsv", sep="\t", index=False)
        subprocess.run(["seqlantern", "encode", "--fasta", str(w / "s.fa"), "--onehot",
                        str(w / "x.npy"), "--index", str(w / "i.tsv")], check=True)  # fmt: skip
    idx = read_index(w / "i.tsv")
    x = load_npy(w / "x.npy")
    test = np.flatnonzero(idx["split"].to_numpy() == "test")[: a.sequences]
    names = idx["name"].iloc[test].tolist()
    xt = torch.from_numpy(np.asarray(x[test], dtype=np.float32))
    truth = pd.read_csv(w / "truth.tsv", sep="\t")
    truth = truth[(truth["kind"] == "functional") & truth["name"].isin(set(names))]
    label = np.zeros((len(test), x.shape[2]), dtype=bool)
    pos = {n: i for i, n in enumerate(names)}
    for r in truth.itertuples(index=False):
        label[pos[r.name], r.start : r.end] = True
    rows = []
    for act in a.activations:
        ck = w / act / "model.json"
        if not ck.is_file():
            train(w / "x.npy", w / "i.tsv", w / "binary.tsv", ck, w / act / "metrics.tsv",
                  w / act / "curve.png", columns=["active"], task="binary",
                  model_kwargs={"first_activation": act}, epochs=a.epochs, patience=4,
                  equal_steps=False, kmer_fallback=False, seed=0)  # fmt: skip
        model, _ = load_checkpoint(ck)
        met = pd.read_csv(w / act / "metrics.tsv", sep="\t")
        row: dict[str, object] = {"activation": act,
                                  "test_auroc": float(met.loc[0, "auroc"])}  # fmt: skip
        maps = {}
        for output in ("logit", "activation"):
            h = torch.cat([hypothetical("gradient_x_input", model, xt[b : b + 256],
                                        output=output).detach()
                           for b in range(0, len(xt), 256)])  # fmt: skip
            per_pos = observed("gradient_x_input", h, xt).sum(dim=1).numpy()
            maps[output] = per_pos
            key = "logit" if output == "logit" else "probability"
            row[f"attribution_auroc_{key}"] = auroc(label.ravel(), np.abs(per_pos).ravel())
            sub = min(200, len(test))
            c = faithfulness_curves(model, xt[:sub].numpy(), per_pos[:sub], output=output)
            ar = curve_areas(c)
            row[f"deletion_gain_{key}"] = ar["deletion_auc_random"] - ar["deletion_auc_map"]
        seg = segment(model, x, test, names, task="binary")
        ev = boundary_iou(seg, truth)
        row.update({"cam_recall": ev["recall"], "cam_iou": ev["iou"],
                    "cam_precision": ev["precision"]})  # fmt: skip
        calls = call_seqlets(maps["logit"], names, np.arange(len(test)), SeqletParams(pvalue=0.02))
        ev = boundary_iou(calls, truth)
        row.update({"seqlet_recall": ev["recall"], "seqlet_iou": ev["iou"],
                    "seqlet_precision": ev["precision"]})  # fmt: skip
        rows.append(row)
        print(row, flush=True)
    df = pd.DataFrame(rows)
    df.to_csv(w / "activations.tsv", sep="\t", index=False, float_format="%.4g")
    print(df.to_markdown(index=False, floatfmt=".3f"))


if __name__ == "__main__":
    main()
