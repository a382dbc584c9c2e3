"""Seqlet calling and motif matching vs tangermeme and memelite, on the same inputs.

Run after the demo workflow (``snakemake --cores 2``); it reads ``results/`` (or the
``results`` folder given by ``--results``, e.g. of a ``scaling.py`` run):

    python benchmarks/peers.py [--n-seqlet-maps 2006] [--n-queries 600] [--results DIR]

Needs the dev extras (tangermeme, memelite). numba JIT is excluded on both sides: every
timed function is called once on a small input first. Prints one Markdown table.

Seqlets: ``seqlets.call_with_control`` (our default: shuffled-control null, FDR 0.05) vs
``tangermeme.seqlet.recursive_seqlets`` with the same control maps, both on the summed
(observed-base) gradient x input maps of the demo's attributed sequences.

Matching: the demo's seqlet queries (seqlet +/- flank, trimmed, the matrices
``annotate`` builds) against JASPAR 2026 vertebrates. memelite's ``tomtom`` uses
Euclidean column scores without weights, so agreement is measured with ours set the same
way (``score="euclidean"``, no weights); timings are given for that setting and for our
pipeline default (Pearson, attribution-weighted columns).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
RES = ROOT / "results"


def _shards(res: Path, name: str) -> list[Path]:
    """A per-shard attribute output of every shard, in shard order."""
    paths = sorted((res / "attribute/shards").glob(f"*/{name}"), key=lambda p: int(p.parent.name))
    if not paths:
        raise SystemExit(f"no {res}/attribute/shards/*/{name}: run the workflow first")
    return paths


JASPAR = ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.meme"
FAMILIES = ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.families.tsv"


def _best(fn, reps: int = 5) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def bench_seqlets(n_maps: int, res: Path = RES) -> list[tuple[str, float, float, str]]:
    import torch
    from tangermeme.seqlet import recursive_seqlets

    from seqlantern.io import load_npy, read_tsv
    from seqlantern.seqlets import SeqletParams, call_with_control
    from seqlantern.shards import StackedRows

    attr = load_npy(res / "attribute/attributions.npy", what="attribution")[:n_maps]
    ctrl_all = StackedRows.load(_shards(res, "controls.npy"), what="controls")
    preds = read_tsv(res / "attribute/predictions.tsv", what="predictions", ints=("row",))
    rows = preds["row"].to_numpy()[:n_maps]
    k = ctrl_all.shape[0] // len(preds)
    ctrl = ctrl_all[: min(n_maps, len(preds)) * k]
    names = [f"s{r}" for r in rows]
    attr = np.asarray(attr)
    params = SeqletParams(pvalue=0.1)  # the demo config's candidate threshold
    # the same (n, L) per-position maps for both (attributions are gradient x input, so
    # the sum over bases is the observed base's contribution)
    pa = attr.sum(axis=1).astype(np.float32)
    pc = ctrl.sum(axis=1).astype(np.float32)
    xa, xc = torch.from_numpy(pa), torch.from_numpy(pc)
    attr, ctrl = pa, pc
    # warm-up (numba JIT) on a few maps
    call_with_control(attr[:20], names[:20], rows[:20], ctrl[: 20 * k], params, fdr=0.05)
    recursive_seqlets(xa[:20], X_control=xc[: 20 * k], target_fdr=0.05)
    ours_n = len(call_with_control(attr, names, rows, ctrl, params, fdr=0.05))
    t_ours = _best(lambda: call_with_control(attr, names, rows, ctrl, params, fdr=0.05))
    theirs_n = len(recursive_seqlets(xa, X_control=xc, target_fdr=0.05))
    t_theirs = _best(lambda: recursive_seqlets(xa, X_control=xc, target_fdr=0.05))
    return [(f"seqlets: {n_maps} maps x {attr.shape[1]} bp, {k} controls each",
             t_ours, t_theirs, f"calls: ours {ours_n}, recursive_seqlets {theirs_n}")]  # fmt: skip


def bench_matching(
    n_queries: int, res: Path = RES
) -> tuple[list[tuple[str, float, float, str]], dict]:
    from memelite import tomtom as ml_tomtom

    from seqlantern.annotate import AnnotateParams, motif_queries
    from seqlantern.io import load_npy, read_tsv
    from seqlantern.motifs import read_families, read_meme
    from seqlantern.shards import StackedRows
    from seqlantern.tomtom import MotifIndex, compare_many

    seqlets = read_tsv(res / "seqlets/seqlets.tsv", what="seqlets", ints=("start", "end", "row"))
    seqlets = seqlets.iloc[:n_queries]
    x = load_npy(res / "encode/onehot.npy", what="one-hot")
    attr = load_npy(res / "attribute/attributions.npy", what="attribution")
    hyp = StackedRows.load(_shards(res, "hypothetical.npy"), what="hypothetical")
    preds = read_tsv(res / "attribute/predictions.tsv", what="predictions", ints=("row",))
    attr_row = {int(r): i for i, r in enumerate(preds["row"])}
    rows = list(seqlets.itertuples(index=False))
    queries, weights, _ = motif_queries(rows, x, attr, hyp, attr_row, AnnotateParams())
    motifs = read_meme(JASPAR)
    fams = read_families(FAMILIES, motifs)
    db = MotifIndex.build(motifs)
    targets = [m.pwm.T.astype(np.float64) for m in motifs]
    # memelite takes (4, m) matrices; it compares them as given (Euclidean), so it gets
    # the same probability-normalised columns ours uses for Euclidean scores
    from seqlantern.tomtom import _as_probabilities

    ml_queries = [_as_probabilities(q).T.copy() for q in queries]
    ml_tomtom(ml_queries[:4], targets)
    compare_many(queries[:4], db, score="euclidean")
    compare_many(queries[:4], db, weights=weights[:4])
    res_ml = ml_tomtom(ml_queries, targets)
    res_eu = compare_many(queries, db, score="euclidean")
    res_pw = compare_many(queries, db, weights=weights)
    t_ml = _best(lambda: ml_tomtom(ml_queries, targets))
    # memelite's default merges similar target columns (n_target_bins=100, approximate);
    # None compares every column exactly, as seqlantern does
    ml_tomtom(ml_queries[:4], targets, n_target_bins=None)
    t_mlx = _best(lambda: ml_tomtom(ml_queries, targets, n_target_bins=None))
    t_eu = _best(lambda: compare_many(queries, db, score="euclidean"))
    t_pw = _best(lambda: compare_many(queries, db, weights=weights))
    p_ml = res_ml[0]
    top_ml = p_ml.argmin(axis=1)
    sig = p_ml[np.arange(len(queries)), top_ml] < 1e-4
    top_eu = np.array([res_eu.hit(i).index for i in range(len(queries))])
    top_pw = np.array([res_pw.hit(i).index for i in range(len(queries))])
    same = top_eu == top_ml
    fam_same = np.array([bool(fams[motifs[a].id] & fams[motifs[b].id])
                         for a, b in zip(top_eu, top_ml, strict=True)])  # fmt: skip
    # where the top hits differ: is memelite's top hit near the top of our list?
    rank_of_ml = np.array([int((res_eu.pvalues[i] < res_eu.pvalues[i, top_ml[i]]).sum())
                           for i in range(len(queries))])  # fmt: skip
    stats = {
        "queries": len(queries),
        "memelite_p_lt_1e-4": int(sig.sum()),
        "top_hit_agreement": float(same[sig].mean()) if sig.any() else float("nan"),
        "family_agreement": float(fam_same[sig].mean()) if sig.any() else float("nan"),
        "disagreements_ml_hit_in_our_top3": float((rank_of_ml[sig & ~same] < 3).mean())
        if (sig & ~same).any()
        else float("nan"),
        "p_log10_spearman": float(pd.Series(np.log10(p_ml[sig, top_ml[sig]])).corr(
            pd.Series(np.log10(res_eu.pvalues[sig, top_ml[sig]])), method="spearman")),
        "pipeline_vs_memelite_family": float(np.mean([bool(fams[motifs[a].id] &
            fams[motifs[b].id]) for a, b in zip(top_pw[sig], top_ml[sig], strict=True)])),
    }  # fmt: skip
    widths = np.array([len(q) for q in queries])
    desc = f"{len(queries)} queries (width {widths.mean():.1f} mean) x {len(motifs)} motifs"
    return [
        (f"matching, same settings (Euclidean, unweighted): {desc}", t_eu, t_ml,
         "memelite default (hashed target columns)"),
        (f"matching, same settings (Euclidean, unweighted): {desc}", t_eu, t_mlx,
         "memelite exact (n_target_bins=None)"),
        (f"matching, pipeline default (Pearson, weighted): {desc}", t_pw, t_ml,
         "memelite default (hashed target columns)"),
        (f"matching, pipeline default (Pearson, weighted): {desc}", t_pw, t_mlx,
         "memelite exact (n_target_bins=None)"),
    ], stats  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n-seqlet-maps", type=int, default=2006)
    ap.add_argument("--n-queries", type=int, default=600)
    ap.add_argument("--results", type=Path, default=RES, help="a workflow run's results/")
    a = ap.parse_args()
    import numba

    print(f"threads: numba {numba.get_num_threads()}")
    rows = bench_seqlets(a.n_seqlet_maps, a.results)
    mrows, stats = bench_matching(a.n_queries, a.results)
    print("\n| task | seqlantern (s) | peer (s) | speed-up | note |\n|---|---|---|---|---|")
    for name, ours, theirs, note in rows + mrows:
        print(f"| {name} | {ours:.3f} | {theirs:.3f} | {theirs / ours:.2f}x | {note} |")
    print("\nAgreement with memelite tomtom (where its best p < 1e-4):")
    for k, v in stats.items():
        print(f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}")


if __name__ == "__main__":
    main()
