"""Training variants x datasets: test Pearson/Spearman and time, against the k-mer baseline.

Why: the default CNN must be at least as good as a k-mer count ridge regression on the
data users bring, not only on the demo; this table is the evidence behind the defaults
of ``config/config.yaml`` (figures in ``benchmarks/README.md``). Every dataset is encoded
with the same split the workflow makes (``encode.test_fraction 0.2`` for the real
examples, as in ``config/examples/``), every variant trained with one seed, on CPU::

    python benchmarks/training.py [--datasets deepstarr lentimpra yeast demo]
        [--variants old default ...] [--work training_runs] [--threads 2]

Prints a Markdown table (dataset, target, variant, Pearson, Spearman, epochs, seconds).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EX = ROOT / "resources" / "examples"
DATASETS = {
    "deepstarr": (EX / "deepstarr", 249, ["Dev_log2_enrichment", "Hk_log2_enrichment"]),
    "lentimpra": (EX / "lentimpra", 230, ["mean_value"]),
    "yeast": (EX / "yeast_dream", 112, ["expression"]),
    "demo": (None, 200, ["activity"]),
}
# the defaults before this table existed, and the variants tried on the way to the new ones
OLD = {"epochs": 20, "patience": 3, "learning_rate": 2e-3, "lr_schedule": "none",
       "augment_rc": False, "model_kwargs": {"first_activation": "exp", "global_pool": "max",
                                             "rc_average": False, "dropout": 0.0}}  # fmt: skip
BN = {"batch_norm": True, "first_activation": "relu", "dropout": 0.3}
VARIANTS: dict[str, dict] = {
    "old": OLD,
    "default": {},  # seqlantern.train.train's defaults (= config/config.yaml)
    "default_ens3": {"ensemble": 3},
    "bn_relu_maxavg_rca": {"model_kwargs": {**BN, "global_pool": "maxavg"}},
    "maxavg_no_rca": {"model_kwargs": {"rc_average": False}},
    "max_pool": {"model_kwargs": {"global_pool": "max"}},
}


def prepare(name: str, work: Path) -> tuple[Path, Path, Path, list[str]]:
    """Encode a dataset once (the workflow's split) and return its paths and targets."""
    from seqlantern.encode import SplitSpec, encode_fasta
    from seqlantern.simulate import write_demo

    src, length, targets = DATASETS[name]
    d = work / name
    d.mkdir(parents=True, exist_ok=True)
    onehot, index = d / "onehot.npy", d / "index.tsv"
    if src is None:
        fasta, tsv = d / "demo.fa", d / "targets.tsv"
        if not fasta.is_file():
            write_demo(ROOT / "resources/motifs/demo_motifs.meme", fasta, tsv, d / "truth.tsv")
        split = SplitSpec(0.1, 0.1)
    else:
        fasta, tsv = src / "sequences.fa", src / "targets.tsv"
        split = SplitSpec(0.1, 0.2)
    if not onehot.is_file():
        encode_fasta(fasta, onehot, index, length=length, split=split)
    return onehot, index, tsv, targets


def main() -> None:
    import torch

    from seqlantern.train import train

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS))
    ap.add_argument("--variants", nargs="+", default=["old", "default"])
    ap.add_argument("--work", type=Path, default=ROOT / "training_runs")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print("| dataset | target | variant | Pearson | Spearman | epochs | seconds |")
    print("|---|---|---|---|---|---|---|")
    for ds in a.datasets:
        onehot, index, tsv, targets = prepare(ds, a.work)
        for v in ["baseline", *a.variants]:
            if v == "baseline":
                continue
            out = a.work / ds / v
            t0 = time.process_time()
            m = train(onehot, index, tsv, out / "model.json", out / "metrics.tsv",
                      out / "curve.png", columns=targets, device="cpu", seed=a.seed,
                      baseline=v == a.variants[0], **VARIANTS[v])  # fmt: skip
            secs = time.process_time() - t0
            for r in m.itertuples(index=False):
                label = v if str(r.model).startswith("cnn") else r.model
                print(f"| {ds} | {r.target} | {label} | {r.pearson:.3f} | {r.spearman:.3f} "
                      f"| {r.epochs} | {secs:.0f} |", flush=True)  # fmt: skip
        (a.work / ds / "variants.json").write_text(json.dumps(VARIANTS, indent=1))


if __name__ == "__main__":
    main()
