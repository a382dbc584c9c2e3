"""Genome tiling + attribution + tracks at genome scale, against a per-window script.

    python benchmarks/tracks.py [--sizes 10 50] [--window 1000] [--stride 500]
                                [--workdir tracks_runs] [--skip-attribute]

For each size (Mb) it writes a seeded synthetic genome (5 chromosomes, uniform bases,
a few N runs; generated, not committed), then runs, each as its own process timed with
``/usr/bin/time`` (wall, CPU, peak RSS):

1. ``seqlantern encode --tile-window W --tile-stride S`` (the tiles);
2. ``seqlantern attribute`` with a small untrained default CNN of input length W (the
   cost of attribution, not of learning; ``--skip-attribute`` writes seeded random
   maps instead, for a quick run);
3. ``seqlantern tracks`` (``attribution.bw``);
4. the straightforward script a user would write for the same track (:func:`naive`):
   whole-chromosome sum and count arrays filled window by window, then written with
   pybigtools: its memory grows with the largest chromosome.

It checks that both bigWigs hold the same values (a sample of bases) and prints a
Markdown table: seconds and peak RSS per stage, and track-writing seconds per Mb.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def genome(path: Path, mb: int, seed: int = 0) -> None:
    """``mb`` Mb over 5 chromosomes, with a 50-kb N run in each (skipped tiles)."""
    rng = np.random.default_rng(seed)
    size = mb * 1_000_000 // 5
    with open(path, "w") as fh:
        for c in range(5):
            fh.write(f">chr{c + 1}\n")
            seq = np.frombuffer(b"ACGT", dtype=np.uint8)[rng.integers(0, 4, size)].copy()
            seq[size // 2 : size // 2 + 50_000] = ord("N")
            text = seq.tobytes()
            for i in range(0, size, 1_000_000):
                chunk = text[i : i + 1_000_000]
                fh.write("\n".join(chunk[j : j + 80].decode() for j in range(0, len(chunk), 80)))
                fh.write("\n")


def timed(cmd: list[str], log: Path) -> dict[str, float]:
    """Run ``cmd`` under /usr/bin/time; wall and CPU seconds, peak RSS (MB)."""
    fmt = "%e %U %S %M"
    with open(log, "w") as fh:
        r = subprocess.run(["/usr/bin/time", "-f", fmt, *cmd], stdout=fh, stderr=subprocess.PIPE,
                           text=True, check=False)  # fmt: skip
    last = r.stderr.strip().splitlines()[-1]
    if r.returncode:
        sys.exit(f"{' '.join(cmd[:3])} failed: {r.stderr[-2000:]}")
    wall, user, sys_, rss = (float(v) for v in last.split())
    return {"wall": wall, "cpu": user + sys_, "rss_mb": rss / 1024}


def naive(attr_npy: str, index_tsv: str, onehot_npy: str, fai: str, out: str) -> None:
    """What a user would script: per chromosome, full-length sum/count arrays."""
    import pandas as pd
    import pybigtools

    idx = pd.read_csv(index_tsv, sep="\t")
    a = np.load(attr_npy, mmap_mode="r")
    x = np.load(onehot_npy, mmap_mode="r")
    sizes = {ln.split("\t")[0]: int(ln.split("\t")[1]) for ln in open(fai)}
    chroms = sorted(set(idx["chrom"]))

    def values():
        for c in chroms:
            total = np.zeros(sizes[c])
            count = np.zeros(sizes[c], dtype=np.int32)
            for i in np.flatnonzero(idx["chrom"].to_numpy() == c):
                s = int(idx["start"].iat[i])
                v = (a[i] * x[i]).sum(axis=0)
                seen = x[i].sum(axis=0) > 0
                total[s : s + len(v)] += np.where(seen, v, 0)
                count[s : s + len(v)] += seen
            for p in np.flatnonzero(count):
                yield c, int(p), int(p) + 1, float(total[p] / count[p])

    pybigtools.open(out, "w").write({c: sizes[c] for c in chroms}, values())


def checkpoint(path: Path, length: int) -> None:
    import torch

    from seqlantern.models import build_model, save_checkpoint

    torch.manual_seed(0)
    kwargs = {"length": length, "n_targets": 1, "filters": [32], "dense": 16}
    model = build_model("cnn", **kwargs)
    save_checkpoint(model, {"architecture": "cnn", "kwargs": kwargs, "targets": ["y"],
                            "task": "regression", "length": length}, path)  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10, 50], help="genome Mb")
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--stride", type=int, default=500)
    ap.add_argument("--workdir", type=Path, default=ROOT / "tracks_runs")
    ap.add_argument("--skip-attribute", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    rows = []
    for mb in a.sizes:
        w = a.workdir / f"g{mb}"
        w.mkdir(parents=True, exist_ok=True)
        g = w / "genome.fa"
        if not g.is_file():
            genome(g, mb)
        st = {}
        st["encode"] = timed(["seqlantern", "encode", "--genome", str(g), "--tile-window",
                              str(a.window), "--tile-stride", str(a.stride), "--onehot",
                              str(w / "x.npy"), "--index", str(w / "i.tsv")],
                             w / "encode.log")  # fmt: skip
        n = sum(1 for _ in open(w / "i.tsv")) - 1
        if a.skip_attribute:
            t0 = time.perf_counter()
            x = np.load(w / "x.npy", mmap_mode="r")
            out = np.lib.format.open_memmap(w / "a.npy", "w+", np.float32, x.shape)
            rng = np.random.default_rng(1)
            for i in range(0, n, 4096):
                out[i : i + 4096] = rng.normal(size=x[i : i + 4096].shape) * x[i : i + 4096]
            out.flush()
            with open(w / "p.tsv", "w") as fh:
                fh.write("name\trow\n")
                names = [ln.split("\t")[0] for ln in open(w / "i.tsv")][1:]
                fh.writelines(f"{nm}\t{i}\n" for i, nm in enumerate(names))
            st["attribute"] = {"wall": time.perf_counter() - t0, "cpu": float("nan"),
                               "rss_mb": float("nan")}  # fmt: skip
        else:
            checkpoint(w / "model.json", a.window)
            st["attribute"] = timed(["seqlantern", "attribute", "--onehot", str(w / "x.npy"),
                                     "--index", str(w / "i.tsv"), "--model",
                                     str(w / "model.json"), "--which", "all", "--threads",
                                     str(a.threads), "--out", str(w / "a.npy"),
                                     "--predictions", str(w / "p.tsv")],
                                    w / "attribute.log")  # fmt: skip
        st["tracks"] = timed(["seqlantern", "tracks", "--attributions", str(w / "a.npy"),
                              "--predictions", str(w / "p.tsv"), "--onehot", str(w / "x.npy"),
                              "--index", str(w / "i.tsv"), "--genome", str(g),
                              "--out-bigwig", str(w / "attribution.bw")],
                             w / "tracks.log")  # fmt: skip
        code = (f"import sys; sys.path.insert(0, {str(ROOT / 'benchmarks')!r}); "
                f"from tracks import naive; naive({str(w / 'a.npy')!r}, {str(w / 'i.tsv')!r}, "
                f"{str(w / 'x.npy')!r}, {str(g) + '.fai'!r}, {str(w / 'naive.bw')!r})")  # fmt: skip
        st["naive script"] = timed([sys.executable, "-c", code], w / "naive.log")
        # same values at a sample of bases
        import pybigtools

        ours, theirs = pybigtools.open(str(w / "attribution.bw")), pybigtools.open(
            str(w / "naive.bw"))  # fmt: skip
        for c in ("chr1", "chr5"):
            size = dict(ours.chroms())[c]
            for s in (0, size // 3, size - 5000):
                va = np.asarray(ours.values(c, s, s + 5000, fillna=0.0))
                vb = np.asarray(theirs.values(c, s, s + 5000, fillna=0.0))
                assert np.allclose(va, vb, atol=1e-6), (c, s)
        rows.append((mb, n, st))
        (w / "figures.json").write_text(json.dumps({"mb": mb, "windows": n, "stages": st}))
    print("| genome | windows | stage | wall s | CPU s | peak RSS MB | s per Mb |")
    print("|---|---|---|---|---|---|---|")
    for mb, n, st in rows:
        for k, v in st.items():
            print(f"| {mb} Mb | {n:,} | {k} | {v['wall']:.1f} | {v['cpu']:.1f} | "
                  f"{v['rss_mb']:.0f} | {v['wall'] / mb:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
