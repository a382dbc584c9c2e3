"""Attribution speed vs peers on one model and batch (issue #5's benchmark).

    python benchmarks/methods.py [--n 512] [--length 200] [--device cpu]
                                 [--model model.json --onehot onehot.npy]

gradient x input (seqlantern) vs ``tangermeme.saliency`` and captum ``InputXGradient``
on the same model (the default SeqCNN architecture, random weights, or a trained
checkpoint with ``--model``) and batch (random sequences, or the first ``--n`` rows of an
encoded library with ``--onehot``, e.g. of a ``scaling.py`` run); fast ISM
vs naive ISM on 200-bp inputs (checked equal). Best of 3 after one warm-up call. Needs
the dev extras (tangermeme, captum).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch


def _best(fn, reps: int = 3) -> float:  # type: ignore[no-untyped-def]
    fn()
    out = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--length", type=int, default=200)
    ap.add_argument("--ism-n", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--model", help="a seqlantern checkpoint (default: random SeqCNN)")
    ap.add_argument("--onehot", help="an encoded library (default: random sequences)")
    a = ap.parse_args()
    from captum.attr import InputXGradient
    from tangermeme.saliency import saliency as tm_saliency

    from seqlantern.attribute import gradient_x_input
    from seqlantern.methods import ism
    from seqlantern.models import SeqCNN

    torch.manual_seed(0)
    if a.model:
        from seqlantern.models import load_checkpoint

        model = load_checkpoint(a.model)[0].to(a.device).eval()
    else:
        model = SeqCNN(1, length=a.length).to(a.device).eval()
    rng = np.random.default_rng(0)
    if a.onehot:
        x = torch.from_numpy(np.load(a.onehot, mmap_mode="r")[: a.n].astype(np.float32))
        x = x.to(a.device)
        a.n, a.length = x.shape[0], x.shape[2]
    else:
        x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (a.n, a.length))]
                             .transpose(0, 2, 1).copy()).to(a.device)  # fmt: skip
    batch = 128

    def ours() -> None:
        for i in range(0, a.n, batch):
            gradient_x_input(model, x[i : i + batch], correct=False)

    def tangermeme() -> None:
        tm_saliency(model, x, batch_size=batch, device=a.device, verbose=False)

    ixg = InputXGradient(model)

    def captum() -> None:
        for i in range(0, a.n, batch):
            ixg.attribute(x[i : i + batch].clone().requires_grad_(True), target=0)

    t_ours, t_tm, t_cap = _best(ours), _best(tangermeme), _best(captum)
    xi = x[: a.ism_n]
    fast, naive = ism(model, xi, fast=True), ism(model, xi, fast=False)
    t_fast = _best(lambda: ism(model, xi, fast=True))
    t_naive = _best(lambda: ism(model, xi, fast=False), reps=1)
    print(
        f"device {a.device}, threads {torch.get_num_threads()}, "
        f"{'model ' + a.model if a.model else 'SeqCNN default (random weights)'} "
        f"(128 filters x 15 bp, global max pool), {a.n} x {a.length} bp, batch {batch}\n"
    )
    print("| task | seqlantern (s) | peer (s) | speed-up |\n|---|---|---|---|")
    print(
        f"| gradient x input vs tangermeme.saliency | {t_ours:.3f} | {t_tm:.3f} | "
        f"{t_tm / t_ours:.2f}x |"
    )
    print(
        f"| gradient x input vs captum InputXGradient | {t_ours:.3f} | {t_cap:.3f} | "
        f"{t_cap / t_ours:.2f}x |"
    )
    print(
        f"| fast ISM vs naive ISM ({a.ism_n} x {a.length} bp; max |diff| "
        f"{float((fast - naive).abs().max()):.1e}) | {t_fast:.3f} | {t_naive:.3f} | "
        f"{t_naive / t_fast:.2f}x |"
    )


if __name__ == "__main__":
    main()
