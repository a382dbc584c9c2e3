"""Held-out validity: the default workflow on a simulation it was not tuned on.

The demo is what the defaults were developed on; this benchmark asks whether they hold on
a library that differs from it the way a user's data would:

- other transcription factors (JASPAR 2026 vertebrate matrices not in the demo: GATA1,
  FOXA2, SOX2, YY1, MEF2C, TEAD1 as activators, ZNF143 cooperating with NRF1, KLF4 as a
  repressor, STAT3 as a decoy planted without effect);
- another shortcut: a Nextera (Tn5) read-through at the 3' end instead of TruSeq;
- another length (250 bp) and background (a GC-richer first-order chain);
- a weaker signal (smaller effects, more measurement noise), so the model is weaker.

``--like-issue`` keeps the demo's effect sizes, noise, site rates and background and
changes only what the issue's held-out simulation changed (the factors, the adapter and
the length): the library the issue describes, next to the harsher default one.

It generates the library (seeded, nothing committed), writes a config that changes only
the data paths, the length and the truth table, runs ``snakemake`` in a work folder of
its own, and prints the recall figures of ``results/evaluate/evaluation.tsv`` with the
model's metrics and the seqlet calibration table::

    python benchmarks/heldout.py [--work heldout_runs/default] [--n 20000] [--cores 2]
        [--set train.ensemble=3 ...]

``--set`` overrides config keys (dotted path = YAML value) for experiments.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
NEXTERA = "CTGTCTCTTATACACATCTCCGAGCCCACGAGAC"
GC_RICH = (
    (0.25, 0.25, 0.28, 0.22),
    (0.27, 0.30, 0.13, 0.30),
    (0.23, 0.27, 0.28, 0.22),
    (0.17, 0.28, 0.30, 0.25),
)


# (factor, JASPAR 2026 id, effect in the default library, effect with --like-issue)
FACTORS = (
    ("GATA1", "MA0035.5", 0.7, 1.0),
    ("FOXA2", "MA0047.4", 0.6, 0.8),
    ("SOX2", "MA0143.5", 0.6, 0.9),
    ("YY1", "MA0095.4", 0.7, 0.8),
    ("MEF2C", "MA0497.2", 0.6, 0.8),
    ("TEAD1", "MA0090.4", 0.6, 0.8),
    ("ZNF143", "MA0088.3", 0.5, 0.7),  # cooperative with NRF1
    ("NRF1", "MA0506.3", 0.5, 0.7),
    ("KLF4", "MA0039.5", -0.8, -1.0),  # repressor
    ("STAT3", "MA0144.3", 0.0, 0.0),  # decoy: planted without effect
)


def grammar(*, like_issue: bool = False):  # type: ignore[no-untyped-def]
    """The held-out grammar (JASPAR 2026 ids from the shipped vertebrate file)."""
    from seqlantern.simulate import Grammar

    effects = {mid: (issue if like_issue else harsh) for _, mid, harsh, issue in FACTORS}
    shared = {"decoys": ("MA0144.3",), "adapter": NEXTERA,
              "adapter_name": "nextera_3prime_readthrough",
              "adapter_label": "Nextera read-through"}  # fmt: skip
    if like_issue:  # the demo's strengths, noise, site rates and background
        return Grammar(effects=effects, cooperative=("MA0088.3", "MA0506.3", 0.8), **shared)
    return Grammar(effects=effects, cooperative=("MA0088.3", "MA0506.3", 0.6),
                   site_probability=0.22, adapter_probability=0.12, adapter_min=16,
                   adapter_max=30, adapter_effect=1.2, noise_sd=0.45, transitions=GC_RICH,
                   **shared)  # fmt: skip


def _set(cfg: dict, dotted: str) -> None:
    key, value = dotted.split("=", 1)
    *path, last = key.split(".")
    node = cfg
    for p in path:
        node = node.setdefault(p, {})
    node[last] = yaml.safe_load(value)


def main() -> None:
    from seqlantern.motifs import read_motifs, write_meme
    from seqlantern.simulate import write_demo

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", type=Path, default=ROOT / "heldout_runs" / "default")
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--length", type=int, default=250)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument(
        "--like-issue",
        action="store_true",
        help="the demo's strengths and background (see the docstring)",
    )
    ap.add_argument("--set", action="append", default=[], help="config override key=value")
    a = ap.parse_args()
    work = a.work.resolve()
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    g = grammar(like_issue=a.like_issue)
    motifs = [m for m in read_motifs(ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.meme")
              if m.id in g.effects]  # fmt: skip
    write_meme(motifs, data / "motifs.meme")
    fasta, targets, truth = data / "sequences.fa", data / "targets.tsv", data / "truth.tsv"
    if not fasta.is_file():
        write_demo(data / "motifs.meme", fasta, targets, truth, n=a.n, length=a.length,
                   seed=a.seed, grammar=g)  # fmt: skip
    for item in ("Snakefile", "workflow", "config", "resources", "src"):
        link = work / item
        if not link.exists():
            link.symlink_to(ROOT / item)
    cfg: dict = {
        "demo": {"enabled": False},
        "data": {"fasta": str(fasta), "targets": str(targets), "truth": str(truth)},
        "encode": {"length": a.length},
    }
    for s in a.set:
        _set(cfg, s)
    (work / "heldout.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    cmd = ["snakemake", "--cores", str(a.cores), "--configfile", "heldout.yaml", "-q",
           "--rerun-triggers", "mtime", "params", "input"]  # fmt: skip
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    r = subprocess.run(cmd, cwd=work, env=env, check=False)
    if r.returncode:
        sys.exit(f"snakemake failed (exit {r.returncode}); logs under {work / 'logs'}")
    res = work / "results"
    tables = (
        ("model", "train/metrics.tsv"),
        ("seqlet calibration", "seqlets/calibration.tsv"),
        ("evaluation", "evaluate/evaluation.tsv"),
    )
    for title, path in tables:
        p = res / path
        if p.is_file():
            print(f"\n## {title} ({p.relative_to(work)})\n")
            print(p.read_text())


if __name__ == "__main__":
    main()
