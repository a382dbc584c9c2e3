"""Realised false discovery rate of the shuffled-control seqlet calls against the target.

Run after the demo workflow (``snakemake --cores 2``); it reads ``results/`` (or the
folder given by ``--results``):

    python benchmarks/fdr.py [--fdr 0.01 0.05 0.1] [--results DIR]

For each target FDR it calls seqlets on the demo's attribution maps and their shuffled
controls exactly as the ``call_seqlets`` rule does (``seqlets.call_with_control`` with
the config's seqlet settings), and scores the calls against the simulator's planted
sites: a call is a false discovery when it overlaps no planted site of any kind
(functional, decoy or artifact) by at least 3 bp (the whole site when shorter), the
``calls_matching_nothing`` metric of ``seqlantern evaluate``. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from seqlantern.io import load_npy, read_tsv
    from seqlantern.seqlets import SeqletParams, call_with_control
    from seqlantern.shards import StackedRows

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fdr", type=float, nargs="+", default=[0.01, 0.05, 0.1])
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--config", type=Path, default=ROOT / "config/config.yaml")
    a = ap.parse_args()
    res = a.results
    cfg = yaml.safe_load(a.config.read_text())["seqlets"]
    params = SeqletParams(window=cfg["window"], min_length=cfg["min_length"],
                          max_length=cfg["max_length"], flank=cfg["flank"],
                          pvalue=cfg["pvalue"], signs=cfg["signs"])  # fmt: skip
    attr = load_npy(res / "attribute/attributions.npy", what="attribution")
    shards = sorted((res / "attribute/shards").glob("*/controls.npy"),
                    key=lambda p: int(p.parent.name))  # fmt: skip
    ctrl = StackedRows.load(shards, what="controls")
    preds = read_tsv(res / "attribute/predictions.tsv", what="predictions", ints=("row",))
    names, rows = preds["name"].tolist(), preds["row"].to_numpy()
    truth = read_tsv(res / "demo/truth.tsv", what="truth", ints=("start", "end"))
    truth = truth[truth["name"].isin(set(names))]
    sites: dict[str, list[tuple[int, int]]] = {}
    for n, s, e in zip(truth["name"], truth["start"], truth["end"], strict=True):
        sites.setdefault(n, []).append((int(s), int(e)))
    functional = truth[truth["kind"] == "functional"]
    print(f"{len(names)} attributed sequences, {len(truth)} planted sites "
          f"({len(functional)} functional)\n")  # fmt: skip
    print("| target FDR | calls | realised FDR | functional sites found |\n|---|---|---|---|")
    for fdr in a.fdr:
        calls = call_with_control(attr, names, rows, ctrl, params, fdr=fdr)
        by_seq: dict[str, list[tuple[int, int]]] = {}
        nothing = 0
        for n, s, e in zip(calls["name"], calls["start"], calls["end"], strict=True):
            by_seq.setdefault(n, []).append((int(s), int(e)))
            hit = any(min(e, te) - max(s, ts) >= min(3, te - ts)
                      for ts, te in sites.get(n, []))  # fmt: skip
            nothing += not hit
        found = sum(any(min(e, te) - max(s, ts) >= min(3, te - ts)
                        for s, e in by_seq.get(n, []))
                    for n, ts, te in zip(functional["name"], functional["start"],
                                         functional["end"], strict=True))  # fmt: skip
        print(
            f"| {fdr:g} | {len(calls):,} | {nothing / max(len(calls), 1):.3f} | "
            f"{found / max(len(functional), 1):.3f} |"
        )


if __name__ == "__main__":
    main()
