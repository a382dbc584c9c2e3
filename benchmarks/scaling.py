"""End-to-end scaling: throughput and peak memory of every workflow rule at growing N.

    python benchmarks/scaling.py [--sizes 10000 100000 1000000] [--shards 1]
                                 [--workdir scaling_runs] [--cores 2] [--peers]
                                 [--until RULE ...] [--reuse]

For each size N it runs the real workflow (``snakemake``, this repository's Snakefile)
on a seeded demo library of N x 250 bp, with a model trained once on the smallest
library and then loaded (``model.checkpoint``), every sequence attributed
(``attribution.sequences: all``) with 5 shuffled controls each, and the small demo motif
database (TOMTOM's cost grows with the database; the scaling in N is what is measured
here). Debiasing and the method comparison are off: they train or sample a fixed number
of sequences.

Peak memory is the kernel's high-water mark of each job's process (``getrusage``,
printed into the rule's log by ``SEQLANTERN_PEAK_RSS=1``, which this script sets): exact,
where Snakemake's ``benchmark:`` ``max_rss`` samples every 30 s and can miss a short peak.
The sharded rules report one figure per shard job (the largest is shown). Time is the
job's wall clock from Snakemake's benchmark file; CPU time (user + system) is also read.

``--until`` stops every run after the named rules (Snakemake's ``--until``), e.g. to
measure the attribution and seqlet stages alone at 10^6; ``--reuse`` reads the benchmark
files of a size already run in ``--workdir`` instead of running it again.

With ``--peers``, tangermeme (saliency, recursive_seqlets), captum (InputXGradient) and
memelite (tomtom) run on the same inputs as the smallest size (dev extras needed).
Prints Markdown tables; figures of a run are in ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
LENGTH = 250


def _train_model(work: Path, cores: int) -> Path:
    """A small CNN trained on a 10,000-sequence demo library (once)."""
    model = work / "model" / "model.json"
    if model.is_file():
        return model
    d = work / "model"
    d.mkdir(parents=True, exist_ok=True)
    motifs = ROOT / "resources/motifs/demo_motifs.meme"
    steps = [
        ["simulate", "--motifs", str(motifs), "--n", "10000", "--length", str(LENGTH),
         "--seed", "7", "--fasta", f"{d}/demo.fa", "--targets", f"{d}/t.tsv",
         "--truth", f"{d}/truth.tsv"],
        ["encode", "--fasta", f"{d}/demo.fa", "--length", str(LENGTH), "--onehot",
         f"{d}/x.npy", "--index", f"{d}/i.tsv", "--seed", "7"],
        ["train", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--targets",
         f"{d}/t.tsv", "--columns", "activity", "--epochs", "8", "--threads", str(cores),
         "--seed", "7", "--out-model", str(model), "--metrics", f"{d}/metrics.tsv",
         "--curve", f"{d}/curve.png"],
    ]  # fmt: skip
    for args in steps:
        subprocess.run(["seqlantern", *args], check=True, stdout=subprocess.DEVNULL)
    return model


def _config(work: Path, n: int, model: Path, shards: int) -> Path:
    cfg = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    cfg["shards"] = shards
    cfg["demo"].update(n=n, length=LENGTH, motifs=str(ROOT / cfg["demo"]["motifs"]))
    cfg["encode"]["length"] = LENGTH
    cfg["model"]["checkpoint"] = str(model)
    cfg["attribution"].update(sequences="all", batch_size=256)
    cfg["diagnostics"]["enabled"] = False
    cfg["debias"]["enabled"] = False
    cfg["annotate"].update(
        motifs=str(ROOT / "resources/motifs/demo_motifs.meme"),
        families=str(ROOT / cfg["annotate"]["families"]),
        artifacts=[str(ROOT / a) for a in cfg["annotate"]["artifacts"]],
    )
    path = work / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


_USAGE = re.compile(r"peak RSS (\d+) MB; CPU user ([\d.]+) s, system ([\d.]+) s")


def _usage(log: Path) -> tuple[float, float] | None:
    """(peak RSS in MB, CPU seconds) from the line ``SEQLANTERN_PEAK_RSS=1`` prints."""
    m = _USAGE.search(log.read_text(errors="replace")) if log.is_file() else None
    return (float(m[1]), float(m[2]) + float(m[3])) if m else None


def _rule_table(work: Path) -> pd.DataFrame:
    rows = []
    for f in sorted((work / "benchmarks").glob("**/*.tsv")):
        b = pd.read_csv(f, sep="\t")
        rel = f.relative_to(work / "benchmarks")
        rule = rel.parts[0]
        use = _usage(work / "logs" / rel.with_suffix(".log"))
        rows.append({"rule": rule, "seconds": float(b["s"].iloc[-1]),
                     "cpu_seconds": use[1] if use else float(b["cpu_time"].iloc[-1]),
                     "max_rss_mb": use[0] if use else float(b["max_rss"].iloc[-1])})  # fmt: skip
    df = pd.DataFrame(rows)
    # sharded rules: time summed over shards (CPU spent), memory of the largest job
    return df.groupby("rule").agg(seconds=("seconds", "sum"), jobs=("seconds", "size"),
                                  cpu_seconds=("cpu_seconds", "sum"),
                                  max_rss_mb=("max_rss_mb", "max"))  # fmt: skip


def run_size(
    root: Path, n: int, model: Path, shards: int, cores: int, until: list[str], reuse: bool
) -> pd.DataFrame:
    work = root / f"n{n}"
    work.mkdir(parents=True, exist_ok=True)
    done = work / "wall_seconds.txt"
    if reuse and done.is_file():
        wall = float(done.read_text())
    else:
        cfg = _config(work, n, model, shards)
        t0 = time.perf_counter()
        run = subprocess.run(
            ["snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(work),
             "--configfile", str(cfg), "--cores", str(cores),
             *(["--until", *until] if until else [])],
            capture_output=True, text=True, env={**os.environ, "SEQLANTERN_PEAK_RSS": "1"},
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if run.returncode != 0:
            sys.exit(f"workflow failed for N={n}:\n{run.stderr[-3000:]}")
        done.write_text(f"{wall:.1f}\n")
    df = _rule_table(work)
    df["n"] = n
    df.attrs["wall"] = wall
    print(f"N={n}: {wall:.0f} s end to end", flush=True)
    return df


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=Path("scaling_runs"))
    ap.add_argument("--peers", action="store_true", help="also time the peers on the inputs")
    ap.add_argument("--until", nargs="*", default=[], help="stop after these rules")
    ap.add_argument("--reuse", action="store_true", help="reuse sizes already run")
    a = ap.parse_args()
    root = a.workdir.resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"python {platform.python_version()}; cores {a.cores}, shards {a.shards}")  # fmt: skip
    model = _train_model(root, a.cores)
    tables = [run_size(root, n, model, a.shards, a.cores, a.until, a.reuse)
              for n in sorted(a.sizes)]  # fmt: skip
    walls = {int(t["n"].iloc[0]): t.attrs["wall"] for t in tables}
    df = pd.concat(tables).reset_index()
    sizes = sorted(walls)
    secs = df.pivot(index="rule", columns="n", values="seconds")
    rss = df.pivot(index="rule", columns="n", values="max_rss_mb")
    order = secs[sizes[-1]].sort_values(ascending=False).index
    head = " | ".join(f"N={n:,}" for n in sizes)
    print(f"\n### Seconds (sequences/s) per rule\n\n| rule | {head} |")
    print("|---" * (len(sizes) + 1) + "|")
    for r in order:
        cells = [f"{secs.loc[r, n]:.1f} ({n / max(secs.loc[r, n], 1e-9):,.0f}/s)"
                 if pd.notna(secs.loc[r, n]) else "not run" for n in sizes]  # fmt: skip
        print(f"| {r} | " + " | ".join(cells) + " |")
    print("| end to end (wall) | " + " | ".join(f"{walls[n]:.0f}" for n in sizes) + " |")
    print(f"\n### Peak RSS per job (MB)\n\n| rule | {head} |")
    print("|---" * (len(sizes) + 1) + "|")
    for r in order:
        print(f"| {r} | " + " | ".join(f"{rss.loc[r, n]:.0f}" if pd.notna(rss.loc[r, n])
                                       else "not run" for n in sizes) + " |")  # fmt: skip
    if len(sizes) >= 2:
        a0, a1 = sizes[-2], sizes[-1]
        f = a1 / a0
        both = [r for r in order if pd.notna(secs.loc[r, a0]) and pd.notna(secs.loc[r, a1])]
        cpu = df.pivot(index="rule", columns="n", values="cpu_seconds")
        ratio = (secs[a1] / (f * secs[a0])).loc[both]
        cratio = (cpu[a1] / (f * cpu[a0])).loc[both]
        print(f"\n### Time at N={a1:,} over {f:g} x time at N={a0:,} (1.0 = linear)\n")
        print("| rule | wall | CPU |\n|---|---|---|")
        for r in both:
            print(f"| {r} | {ratio[r]:.2f} | {cratio[r]:.2f} |")
        tot = secs.loc[both, a1].sum() / (f * secs.loc[both, a0].sum())
        ctot = cpu.loc[both, a1].sum() / (f * cpu.loc[both, a0].sum())
        print(f"| these rules together | {tot:.2f} | {ctot:.2f} |")
        print(f"| end to end (wall) | {walls[a1] / (f * walls[a0]):.2f} | |")
    if a.peers:  # on the inputs of the smallest size
        res = root / f"n{sizes[0]}" / "results"
        subprocess.run([sys.executable, str(ROOT / "benchmarks/peers.py"), "--results",
                        str(res), "--n-seqlet-maps", str(sizes[0])], check=True)  # fmt: skip
        subprocess.run([sys.executable, str(ROOT / "benchmarks/methods.py"), "--model",
                        str(model), "--onehot", str(res / "encode/onehot.npy"), "--n",
                        "2048"], check=True)  # fmt: skip


if __name__ == "__main__":
    main()
