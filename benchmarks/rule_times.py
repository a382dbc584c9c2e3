"""Summarise Snakemake's per-rule benchmark files (benchmarks/<rule>/*.tsv) as a table.

Sharded rules write one file per shard (``benchmarks/<rule>/<shard>.tsv``): one row each,
named ``rule[shard]``.

Usage: python benchmarks/rule_times.py [benchmarks]   (after a workflow run)
Columns: wall-clock seconds, peak RSS (MB) and CPU seconds as Snakemake measured them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main(root: str = "benchmarks") -> None:
    rows = []
    for f in sorted(Path(root).glob("*/*.tsv")):
        b = pd.read_csv(f, sep="\t")
        name = f.parent.name if f.stem == f.parent.name else f"{f.parent.name}[{f.stem}]"
        rows.append({"rule": name, "seconds": float(b["s"].iloc[-1]),
                     "max_rss_mb": float(b["max_rss"].iloc[-1]),
                     "cpu_seconds": float(b["cpu_time"].iloc[-1])})  # fmt: skip
    if not rows:
        sys.exit(f"no benchmark files under {root}/: run the workflow first")
    df = pd.DataFrame(rows)
    total = {"rule": "total", "seconds": df["seconds"].sum(), "max_rss_mb": df["max_rss_mb"].max(),
             "cpu_seconds": df["cpu_seconds"].sum()}  # fmt: skip
    df = pd.concat([df, pd.DataFrame([total])])
    print(df.to_markdown(index=False, floatfmt=".1f") if _has_tabulate() else df.to_string())


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main(*sys.argv[1:])
