"""De novo patterns: seqlantern against modisco-lite on the same arrays, and scaling.

    python benchmarks/patterns.py demo --results reruns/demo_time/results
    python benchmarks/patterns.py scaling --sizes 100000 1000000 [--workdir patterns_runs]

``demo``: both tools get the demo run's attribution and hypothetical arrays
(``attribute/attributions.npy``, ``attribute/shards/*/hypothetical.npy``) and the one-hot
rows of the attributed sequences. modisco-lite (``modiscolite.tfmodisco.TFMoDISco``,
dev extra) calls its own seqlets on them; seqlantern's ``patterns`` stage clusters the
run's significant seqlets (``shortcuts/elements.tsv``). Each runs in its own process, so
the peak RSS (``getrusage`` of the child) and wall time are each tool's alone (warm
numba caches: every tool is run once before it is timed).

A pattern *recovers* a planted source (the truth table's ``motif_name``: 8 functional
motifs, the decoy and the adapter) when at least half of its members overlap a planted
site of that source by >= 3 bp; a pattern whose members mostly overlap no planted site,
or no source in a majority, is *spurious*. Splitting = patterns per recovered source.
For seqlantern the table also says whether each recovered source's pattern has the
right family as its best database match.

``scaling``: synthetic seqlets (40-bp records, one planted site of one of 10 demo-style
motifs each, hypothetical contributions = PWM log-odds x effect + noise) at each size:
time and peak RSS of ``seqlantern patterns`` (modisco-lite is not run at these sizes:
its all-pairs stage is the cost we avoid). Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def _child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """Run a command; wall seconds, the child's peak RSS (MB), its output."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd[:3])} failed:\n{r.stdout}\n{r.stderr}")
    rss = float("nan")
    for line in (r.stderr + r.stdout).splitlines():
        if line.startswith("PEAK_RSS_MB") or "peak RSS" in line:
            rss = float(line.split("peak RSS")[-1].split()[0]) if "peak RSS" in line else float(
                line.split()[1])  # fmt: skip
    return wall, rss, r.stdout + r.stderr


_MODISCO = r"""
import json, resource, sys, time
import numpy as np
from modiscolite.tfmodisco import TFMoDISco
d = sys.argv[1]
oh = np.load(d + "/onehot.npy").transpose(0, 2, 1).astype("float32")
hyp = np.load(d + "/hyp.npy").transpose(0, 2, 1).astype("float32")
t0 = time.perf_counter()
pos, neg = TFMoDISco(one_hot=oh, hypothetical_contribs=hyp, max_seqlets_per_metacluster=20000,
                     n_leiden_runs=int(sys.argv[3]))
out = []
for sign, pats in (("pos", pos or []), ("neg", neg or [])):
    for k, p in enumerate(pats):
        sq = [[int(s.example_idx), int(s.start), int(s.end)] for s in p.seqlets]
        out.append({"pattern": f"{sign}_{k}", "seqlets": sq})
json.dump(out, open(sys.argv[2], "w"))
ru = resource.getrusage(resource.RUSAGE_SELF)
print("PEAK_RSS_MB", ru.ru_maxrss / 1024, "SECONDS", time.perf_counter() - t0)
"""


def _truth_hits(truth: pd.DataFrame, names: np.ndarray, starts: np.ndarray,
                ends: np.ndarray) -> np.ndarray:  # fmt: skip
    """The planted source each member window overlaps most (>= 3 bp), or 'none'."""
    by = {n: g for n, g in truth.groupby("name")}
    out = np.full(len(names), "none", dtype=object)
    for i, (n, s, e) in enumerate(zip(names, starts, ends, strict=True)):
        g = by.get(n)
        if g is None:
            continue
        ov = np.minimum(e, g["end"].to_numpy()) - np.maximum(s, g["start"].to_numpy())
        j = int(np.argmax(ov))
        if ov[j] >= 3:
            out[i] = g["motif_name"].iloc[j]
    return out


def _score(members: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per pattern: majority source, its share, recovered/spurious."""
    members = members.copy()
    members["source"] = _truth_hits(
        truth, members["name"].to_numpy(), members["start"].to_numpy(), members["end"].to_numpy()
    )
    rows = []
    for pat, g in members.groupby("pattern", sort=False):
        counts = g["source"].value_counts()
        top = counts.index[0]
        share = counts.iloc[0] / len(g)
        rows.append(
            {
                "pattern": pat,
                "members": len(g),
                "source": top,
                "share": share,
                "recovers": top if (top != "none" and share >= 0.5) else "",
            }
        )
    return pd.DataFrame(rows)


def _summary(tool: str, scored: pd.DataFrame, sources: list[str], decoys: list[str],
             wall: float, rss: float) -> dict:  # fmt: skip
    rec = scored[scored["recovers"] != ""]
    per = rec["recovers"].value_counts()
    found = [s for s in sources if s in per]
    return {
        "tool": tool,
        "patterns": len(scored),
        "recovered": f"{len(found)} / {len(sources)}",
        "decoy_patterns": int(rec["recovers"].isin(decoys).sum()),
        "spurious": int((scored["recovers"] == "").sum()),
        "patterns_per_recovered": f"{per.reindex(found).mean():.2f}" if found else "-",
        "wall_s": round(wall, 1),
        "peak_rss_mb": round(rss),
    }


def demo(args: argparse.Namespace) -> None:
    res = Path(args.results)
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    preds = pd.read_csv(res / "attribute/predictions.tsv", sep="\t")
    hyp_files = sorted((res / "attribute/shards").glob("*/hypothetical.npy"),
                       key=lambda p: int(p.parent.name))  # fmt: skip
    hyp = np.concatenate([np.load(f) for f in hyp_files])
    x = np.load(res / "encode/onehot.npy", mmap_mode="r")
    oh = np.asarray(x[preds["row"].to_numpy()], dtype=np.float32)
    np.save(work / "onehot.npy", oh)
    np.save(work / "hyp.npy", hyp)
    truth = pd.read_csv(res / "demo/truth.tsv", sep="\t")
    attributed = set(preds["name"])
    truth = truth[truth["name"].isin(attributed)]
    kinds = truth.drop_duplicates("motif_name").set_index("motif_name")["kind"]
    sources = sorted(kinds.index[kinds != "decoy"])  # planted functional motifs + adapter
    decoys = sorted(kinds.index[kinds == "decoy"])  # planted, but the label ignores them
    families = pd.read_csv(ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.families.tsv",
                           sep="\t", dtype=str)  # fmt: skip
    fam_of = dict(zip(families["motif_id"], families["tf_family"], strict=False))

    # seqlantern (warm-up run first: numba compiles once per machine)
    cmd = [sys.executable, "-m", "seqlantern.cli", "patterns", "--elements",
           str(res / "shortcuts/elements.tsv"), "--onehot", str(res / "encode/onehot.npy"),
           "--attributions", str(res / "attribute/attributions.npy"), "--predictions",
           str(res / "attribute/predictions.tsv"), "--hypothetical", *map(str, hyp_files),
           "--motifs", str(ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.meme"),
           "--families", str(ROOT / "resources/motifs/JASPAR2026_CORE_vertebrates.families.tsv"),
           "--out-meme", str(work / "s.meme"), "--out-patterns", str(work / "s.tsv"),
           "--out-members", str(work / "s_members.tsv"), "--out-matrices",
           str(work / "s_matrices.tsv")]  # fmt: skip
    env = dict(os.environ, SEQLANTERN_PEAK_RSS="1")
    _child(cmd, env)
    walls = [_child(cmd, env) for _ in range(args.repeats)]
    wall_s, rss_s = min(w for w, _, _ in walls), max(r for _, r, _ in walls)
    mem = pd.read_csv(work / "s_members.tsv", sep="\t")
    mem = mem[mem["pattern"] != "NA"].rename(columns={"window_start": "ws"})
    mem["start"], mem["end"] = mem["ws"], mem["window_end"]
    ours = _score(mem, truth)
    pats = pd.read_csv(work / "s.tsv", sep="\t").set_index("pattern")
    truth_family = {r.motif_name: fam_of.get(r.motif, "NA")
                    for r in truth.drop_duplicates("motif_name").itertuples()}  # fmt: skip
    ours["match"] = [pats.loc[p, "match_name"] for p in ours["pattern"]]
    ours["label"] = [pats.loc[p, "label"] for p in ours["pattern"]]
    ours["right_family"] = [
        (pats.loc[p, "label"] == "artifact") if s == "TruSeq read-through" else
        (str(pats.loc[p, "match_family"]) != "NA" and truth_family.get(s, "?") in
         str(pats.loc[p, "match_family"]).split("/"))
        for p, s in zip(ours["pattern"], ours["recovers"], strict=True)]  # fmt: skip

    # modisco-lite
    script = work / "run_modisco.py"
    script.write_text(_MODISCO)
    mcmd = [
        sys.executable,
        str(script),
        str(work),
        str(work / "modisco.json"),
        str(args.leiden_runs),
    ]
    t0 = time.perf_counter()
    r = subprocess.run(mcmd, capture_output=True, text=True)
    m_wall = time.perf_counter() - t0
    if r.returncode:
        raise SystemExit(r.stderr[-3000:])
    m_rss = float(r.stdout.split("PEAK_RSS_MB")[1].split()[0])
    names = preds["name"].to_numpy()
    rows = []
    for p in json.loads((work / "modisco.json").read_text()):
        for ex, s, e in p["seqlets"]:
            rows.append({"pattern": p["pattern"], "name": names[ex], "start": s, "end": e})
    theirs = _score(pd.DataFrame(rows, columns=["pattern", "name", "start", "end"]), truth)

    table = pd.DataFrame(
        [
            _summary("seqlantern patterns", ours, sources, decoys, wall_s, rss_s),
            _summary("modisco-lite", theirs, sources, decoys, m_wall, m_rss),
        ]
    )
    print(f"## Patterns on the demo ({len(preds):,} attributed sequences, "
          f"{len(pd.read_csv(res / 'shortcuts/elements.tsv', sep=chr(9))):,} seqlantern "
          f"seqlets)\n")  # fmt: skip
    print(table.to_markdown(index=False))
    print(f"\nTime ratio modisco-lite / seqlantern: {m_wall / wall_s:.1f}x")
    print("\n### seqlantern patterns\n")
    print(ours.to_markdown(index=False))
    print("\n### modisco-lite patterns\n")
    print(theirs.to_markdown(index=False))


def _synthetic(n: int, d: Path, seed: int = 0) -> None:
    """n 40-bp records with one planted site each (10 motifs), written as stage inputs."""
    from seqlantern.motifs import read_motifs

    rng = np.random.default_rng(seed)
    motifs = [m for m in read_motifs(ROOT / "resources/motifs/demo_motifs.meme")][:10]
    length = 40
    base = rng.integers(0, 4, size=(n, length), dtype=np.int8)
    which = rng.integers(0, len(motifs), size=n)
    strand = rng.integers(0, 2, size=n)
    starts = np.zeros(n, np.int64)
    ends = np.zeros(n, np.int64)
    x = np.lib.format.open_memmap(d / "onehot.npy", "w+", np.float32, (n, 4, length))
    hyp = np.lib.format.open_memmap(d / "hyp.npy", "w+", np.float32, (n, 4, length))
    attr = np.lib.format.open_memmap(d / "attr.npy", "w+", np.float32, (n, 4, length))
    block = 100_000
    for b0 in range(0, n, block):
        b1 = min(b0 + block, n)
        h = rng.normal(0, 0.05, size=(b1 - b0, 4, length)).astype(np.float32)
        seq = base[b0:b1].astype(np.int64)
        for m, motif in enumerate(motifs):
            for rc in (0, 1):
                rows = np.flatnonzero((which[b0:b1] == m) & (strand[b0:b1] == rc))
                pwm = motif.pwm[::-1, ::-1] if rc else motif.pwm
                w = len(pwm)
                s = rng.integers(2, length - w - 2, size=len(rows))
                starts[b0 + rows], ends[b0 + rows] = s, s + w
                lo = (np.log2(np.maximum(pwm, 0.01) / 0.25) * 0.5).astype(np.float32)
                for j, col in enumerate(pwm):
                    seq[rows, s + j] = np.searchsorted(np.cumsum(col / col.sum()),
                                                       rng.random(len(rows)))  # fmt: skip
                    h[rows, :, s + j] += lo[j][None, :]
        seq = np.minimum(seq, 3)
        oh = np.zeros((b1 - b0, 4, length), np.float32)
        np.put_along_axis(oh, seq[:, None, :], 1.0, axis=1)
        x[b0:b1], hyp[b0:b1], attr[b0:b1] = oh, h, h * oh
    x.flush(), hyp.flush(), attr.flush()
    names = [f"s{i}" for i in range(n)]
    pd.DataFrame({"row": np.arange(n), "name": names, "prediction": 0.0}).to_csv(
        d / "predictions.tsv", sep="\t", index=False)  # fmt: skip
    ids = [f"s{i}:{a}-{b}" for i, a, b in zip(range(n), starts, ends, strict=True)]
    pd.DataFrame({"seqlet_id": ids,
                  "name": names, "row": np.arange(n), "start": starts, "end": ends,
                  "strand": np.where(strand == 1, "-", "+"), "sign": "+",
                  "label": "unexplained", "artifact_name": "NA"}).to_csv(
        d / "elements.tsv", sep="\t", index=False)  # fmt: skip


def scaling(args: argparse.Namespace) -> None:
    rows = []
    for n in args.sizes:
        d = Path(args.workdir) / f"n{n}"
        d.mkdir(parents=True, exist_ok=True)
        if not (d / "elements.tsv").is_file():
            _synthetic(n, d)
        cmd = [sys.executable, "-m", "seqlantern.cli", "patterns", "--elements",
               str(d / "elements.tsv"), "--onehot", str(d / "onehot.npy"), "--attributions",
               str(d / "attr.npy"), "--predictions", str(d / "predictions.tsv"),
               "--hypothetical", str(d / "hyp.npy"), "--motifs",
               str(ROOT / "resources/motifs/demo_motifs.meme"), "--out-meme",
               str(d / "p.meme"), "--out-patterns", str(d / "p.tsv"), "--out-members",
               str(d / "m.tsv"), "--out-matrices", str(d / "x.tsv")]  # fmt: skip
        env = dict(os.environ, SEQLANTERN_PEAK_RSS="1")
        wall, rss, out = _child(cmd, env)
        p = pd.read_csv(d / "p.tsv", sep="\t")
        rows.append(
            {
                "seqlets": n,
                "wall_s": round(wall, 1),
                "peak_rss_mb": round(rss),
                "patterns": len(p),
                "assigned": int(p["members"].sum()),
            }
        )
        print(out.strip().splitlines()[-1], file=sys.stderr)
    t = pd.DataFrame(rows)
    t["time_per_seqlet_us"] = (t["wall_s"] / t["seqlets"] * 1e6).round(1)
    print(t.to_markdown(index=False))
    if len(t) > 1:
        print(
            f"\nx{t['seqlets'].iloc[-1] / t['seqlets'].iloc[0]:.0f} seqlets: time "
            f"x{t['wall_s'].iloc[-1] / t['wall_s'].iloc[0]:.1f}, peak RSS "
            f"x{t['peak_rss_mb'].iloc[-1] / t['peak_rss_mb'].iloc[0]:.1f}"
        )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="what", required=True)
    d = sub.add_parser("demo")
    d.add_argument("--results", default="results")
    d.add_argument("--workdir", default="patterns_runs/demo")
    d.add_argument("--repeats", type=int, default=3)
    d.add_argument("--leiden-runs", type=int, default=50, help="modisco-lite n_leiden_runs")
    d.set_defaults(func=demo)
    s = sub.add_parser("scaling")
    s.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    s.add_argument("--workdir", default="patterns_runs")
    s.set_defaults(func=scaling)
    a = p.parse_args()
    a.func(a)


if __name__ == "__main__":
    main()
