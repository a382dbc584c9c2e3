"""Determinism: run an example workflow twice from scratch and compare its outputs.

Each run gets a fresh work folder (links to the Snakefile, workflow, config and
resources; no results), so nothing is reused between them. Every file under
``results/`` of the two runs is compared byte for byte; the script prints the files that
differ and exits 1 when ``elements.tsv`` or any BED file differs::

    python benchmarks/reruns.py config/examples/lentimpra.yaml [--work reruns/] [--cores 2]
        [--until RULE]

The work folders are kept (``reruns/<config stem>/{a,b}``, ignored by git).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(work: Path, config: Path, cores: int, until: str | None) -> None:
    work.mkdir(parents=True, exist_ok=True)
    for item in ("Snakefile", "workflow", "config", "resources"):
        link = work / item
        if not link.exists():
            link.symlink_to(ROOT / item)
    # results_dir=results: each rerun has its own work folder; compare its results/
    cmd = ["snakemake", "--cores", str(cores), "--configfile", str(config), "--config",
           "results_dir=results", "--quiet", "rules"]  # fmt: skip
    if until:
        cmd += ["--until", until]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    if subprocess.run(cmd, cwd=work, env=env, check=False).returncode:
        sys.exit(f"snakemake failed in {work}; logs under {work / 'logs'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("--work", type=Path, default=ROOT / "reruns")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--until", default=None)
    a = ap.parse_args()
    config = a.config.resolve()
    base = (a.work / config.stem).resolve()
    for name in ("a", "b"):
        if (base / name / "results").exists():
            sys.exit(f"{base / name / 'results'} exists; remove it for a run from scratch")
        run(base / name, config, a.cores, a.until)
    ra, rb = base / "a" / "results", base / "b" / "results"
    files = sorted(p.relative_to(ra) for p in ra.rglob("*") if p.is_file())
    differ = [
        f for f in files if not (rb / f).is_file() or not filecmp.cmp(ra / f, rb / f, shallow=False)
    ]
    print(f"{len(files)} files under results/, {len(differ)} differ")
    for f in differ:
        print(f"  differs: {f}")
    key = [f for f in differ if f.name == "elements.tsv" or f.suffix in (".bed", ".bb")]
    if key:
        sys.exit(f"elements/BED outputs differ between two runs: {[str(f) for f in key]}")
    print("elements.tsv and BED files byte-identical")


if __name__ == "__main__":
    main()
