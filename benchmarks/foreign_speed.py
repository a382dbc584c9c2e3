"""Attribution speed on three architectures users bring, against tangermeme and captum.

    python benchmarks/foreign_speed.py [--n 256] [--reps 5] [--ism-n 2] [--models ...]

Models (random weights, eval mode, fp32):

- ``seqcnn``: seqlantern's default ``SeqCNN`` (200 bp);
- ``bpnet``: bpnet-lite's ``BPNet`` at its published size (64 filters, 8 dilated
  layers, 2,114-bp input, trimming to 1,000 bp), counts head (``model.output:
  {select: 1}``, seqlantern's ``OutputHead``);
- ``deepstarr``: a DeepSTARR-style CNN at the paper's size (convolutions of 256/60/60/120
  filters with BatchNorm, max pooling, dense 256/256, two outputs; 249 bp).

For each: gradient x input (seqlantern ``gradient_x_input`` on the model
``seqlantern attribute`` prepares, :mod:`seqlantern.fastgrad`: pruned to the attributed
output, fast max-pool and batch-norm backward, cache-sized chunks; preparation timed
apart; no mean correction) against
``tangermeme.saliency.saliency`` (``gradient_correction=False``) and captum
``InputXGradient``, same batch size, best of ``--reps`` rounds that run the three in
turn (after one warm-up each); the maps are
checked equal to tangermeme's (rtol 1e-4, atol 1e-6 of the largest value). ISM on
``--ism-n`` sequences: seqlantern ``methods.ism`` against
``tangermeme.saturation_mutagenesis`` (output 0, as for gradient x input; by default it
averages all outputs; tangermeme >= 1.6 runs its own torch.export fastISM when the job
would take over 30 s, else its naive loop), and once against its naive loop
(``fast=False``, what tangermeme did before fastISM); maps compared on the observed
bases (tangermeme returns the centred differences there). Ours is delta mode
(``seqlantern.deltaism``) on BPNet, the windowed recomputation of ``seqlantern.fastism``
on DeepSTARR, the incremental path on ``seqcnn``; both sides get ``--batch``. The roofline: the
machine's measured fp32 matmul rate (best of 5 square matmuls), and each model's FLOPs
per gradient x input (2 x MACs of every Conv1d and Linear, forward plus the input-
gradient backward, which costs about the same again; weight gradients are not needed)
divided by the measured time (the layers the attributed output needs: BPNet's counts
without its profile head). ``--peer-batches 16 64 256`` also times the peers at those
batch sizes and prints their best (a user tuning theirs); ``--no-ism`` skips ISM.
bf16: our gradient x input under bfloat16 autocast (``attribution.precision: bf16``, on
the module as given, as the stage runs it), its time and the Pearson correlation of its
observed-base map with the fp32 one. Needs the dev extras (tangermeme, captum, bpnet-lite).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn


def DeepSTARR(length: int = 249) -> nn.Module:
    """DeepSTARR (de Almeida et al. 2022) as users write it: the class of the runnable
    example ``config/examples/models/deepstarr.py`` (4 conv blocks with BatchNorm and max
    pooling, two dense layers, Dev and Hk outputs)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "config/examples/models/deepstarr.py"
    spec = importlib.util.spec_from_file_location("example_deepstarr", path)
    mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    model: nn.Module = mod.DeepSTARR(length, 2)
    return model


def _models() -> dict[str, tuple[nn.Module, int]]:
    from seqlantern.models import OutputHead, SeqCNN

    torch.manual_seed(0)
    out: dict[str, tuple[nn.Module, int]] = {"seqcnn": (SeqCNN(1, length=200), 200)}
    try:
        from bpnetlite.bpnet import BPNet

        bp = BPNet(n_filters=64, n_layers=8, n_outputs=2, n_control_tracks=0, trimming=557,
                   verbose=False)  # fmt: skip
        out["bpnet"] = (OutputHead(bp, {"select": 1}), 2114)
    except ImportError:
        print("bpnet-lite not installed: BPNet skipped")
    ds = DeepSTARR()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as in a trained model
        for m in ds.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    out["deepstarr"] = (ds, 249)
    return {k: (m.eval(), length) for k, (m, length) in out.items()}


def _best_interleaved(fns: list[Callable[[], Any]], reps: int) -> list[float]:
    """Best time of each function over ``reps`` rounds that run them in turn, so that a
    shared machine's drifting speed hits all sides alike (ratios within a round count)."""
    for fn in fns:
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(reps):
        for i, fn in enumerate(fns):
            t = time.perf_counter()
            fn()
            times[i].append(time.perf_counter() - t)
    return [min(t) for t in times]


def _best(fn: Callable[[], Any], reps: int) -> float:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def _macs(model: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of every Conv1d and Linear in one forward pass of ``x``."""
    total = 0

    def hook(m: nn.Module, inp: Any, out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Conv1d):
            total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0]
        else:
            total += out.numel() * m.in_features  # type: ignore[operator]

    hs = [m.register_forward_hook(hook) for m in model.modules()
          if isinstance(m, (nn.Conv1d, nn.Linear))]  # fmt: skip
    with torch.no_grad():
        model(x)
    for h in hs:
        h.remove()
    return total


def _peak_gflops(reps: int = 5) -> float:
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    t = _best(lambda: a @ b, reps)
    return 2 * 2048**3 / t / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=256, help="sequences per gradient x input run")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--ism-n", type=int, default=2)
    ap.add_argument("--models", nargs="+", default=["seqcnn", "bpnet", "deepstarr"])
    ap.add_argument(
        "--peer-batches",
        type=int,
        nargs="*",
        default=[],
        help="also time the peers at these batch sizes and report their best",
    )
    ap.add_argument("--no-ism", action="store_true", help="gradient x input only")
    ap.add_argument(
        "--tune-malloc",
        action="store_true",
        help="first set glibc's allocator as the seqlantern command line does (freed "
        "buffers reused, not unmapped), for every side: no page-fault costs in the times",
    )
    a = ap.parse_args()
    if a.tune_malloc:
        from seqlantern.cli import _tune_malloc

        _tune_malloc()
    from captum.attr import InputXGradient
    from tangermeme.saliency import saliency as tm_saliency
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis

    from seqlantern.attribute import _gradient_model, gradient_x_input
    from seqlantern.methods import ism

    peak = _peak_gflops()
    print(f"CPU, {torch.get_num_threads()} threads, fp32; measured matmul peak "
          f"{peak:.1f} GFLOP/s; {a.n} sequences, batch {a.batch}, best of {a.reps}\n")  # fmt: skip
    rows = []
    for name, (model, length) in _models().items():
        if name not in a.models:
            continue
        rng = np.random.default_rng(0)
        x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (a.n, length))]
                             .transpose(0, 2, 1).copy())  # fmt: skip

        # as `seqlantern attribute` does: the gradient model is prepared (and checked) once
        t0 = time.perf_counter()
        g_model = _gradient_model(model, x[: a.batch], "gradient_x_input", "fp32")
        t_prep = time.perf_counter() - t0

        def ours(model: nn.Module = g_model, x: torch.Tensor = x) -> torch.Tensor:
            return torch.cat([gradient_x_input(model, x[i : i + a.batch], correct=False)[0]
                              for i in range(0, len(x), a.batch)])  # fmt: skip

        def tm(model: nn.Module = model, x: torch.Tensor = x, bs: int = a.batch) -> torch.Tensor:
            return tm_saliency(model, x, batch_size=bs, device="cpu",
                               gradient_correction=False, verbose=False)  # fmt: skip

        ixg = InputXGradient(model)

        def cap(x: torch.Tensor = x, ixg: InputXGradient = ixg, bs: int = a.batch) -> torch.Tensor:
            return torch.cat([ixg.attribute(x[i : i + bs].clone().requires_grad_(True),
                                            target=0).detach()
                              for i in range(0, len(x), bs)])  # fmt: skip

        m_ours, m_tm, m_cap = ours(), tm(), cap()
        scale = float(m_tm.abs().max())
        equal = bool(torch.allclose(m_ours, m_tm, rtol=1e-4, atol=1e-6 * scale)
                     and torch.allclose(m_ours, m_cap, rtol=1e-4, atol=1e-6 * scale))  # fmt: skip
        t_ours, t_tm, t_cap = _best_interleaved([ours, tm, cap], a.reps)
        # the peers at their best batch size (a user tuning theirs)
        best_tm, best_cap = (t_tm, a.batch), (t_cap, a.batch)
        for bs in a.peer_batches:
            if bs != a.batch:
                best_tm = min(best_tm, (_best(lambda bs=bs: tm(bs=bs), a.reps), bs))
                best_cap = min(best_cap, (_best(lambda bs=bs: cap(bs=bs), a.reps), bs))
        print(f"{name}: gradient path prepared in {t_prep:.2f} s: "
              f"{getattr(g_model, 'summary', 'the module as given')}; peers' best batch: "
              f"tangermeme {best_tm[1]} ({best_tm[0]:.3f} s, {best_tm[0] / t_ours:.2f}x), "
              f"captum {best_cap[1]} ({best_cap[0]:.3f} s, {best_cap[0] / t_ours:.2f}x)",
              flush=True)  # fmt: skip

        def bf16(model: nn.Module = model, x: torch.Tensor = x) -> torch.Tensor:
            with torch.autocast("cpu", dtype=torch.bfloat16):  # attribution.precision: bf16
                return torch.cat([gradient_x_input(model, x[i : i + a.batch], correct=False)[0]
                                  for i in range(0, len(x), a.batch)]).float()  # fmt: skip

        t_bf = _best(bf16, a.reps)
        r_bf = float(np.corrcoef((bf16() * x).ravel().numpy(), (m_ours * x).ravel().numpy())[0, 1])
        flops = 2 * 2 * _macs(g_model, x[:1]) * a.n  # the layers the attributed output needs
        if a.no_ism:
            rows.append((name, length, t_ours, t_tm, t_cap, equal, flops, float("nan"),
                         float("nan"), False, t_bf, r_bf, float("nan")))  # fmt: skip
            continue
        xi = x[: a.ism_n]
        i_ours = ism(model, xi, batch_size=a.batch)
        i_tm = saturation_mutagenesis(model, xi, batch_size=a.batch, device="cpu", target=0,
                                      verbose=False)  # fmt: skip
        # tangermeme returns the centred differences on the observed bases
        i_scale = float(i_tm.abs().max())
        # each effect is a difference of two float32 outputs: their rounding counts too
        with torch.no_grad():
            o_scale = float(model(xi)[:, 0].abs().max())
        i_equal = bool(
            torch.allclose(
                i_ours * xi, i_tm, rtol=1e-3, atol=1e-5 * i_scale + 1e-6 * max(o_scale, 1.0)
            )
        )
        t_ism = _best(lambda xi=xi, model=model: ism(model, xi, batch_size=a.batch),
                      max(1, a.reps // 2))  # fmt: skip
        t_ism_tm = _best(lambda xi=xi, model=model: saturation_mutagenesis(
            model, xi, batch_size=a.batch, device="cpu", target=0, verbose=False),
            max(1, a.reps // 2))  # fmt: skip
        # tangermeme's naive loop (fast=False), timed once: what ISM costs without fastISM
        t0 = time.perf_counter()
        saturation_mutagenesis(model, xi, batch_size=a.batch, device="cpu", target=0,
                               verbose=False, fast=False)  # fmt: skip
        t_naive = time.perf_counter() - t0
        rows.append((name, length, t_ours, t_tm, t_cap, equal, flops, t_ism, t_ism_tm, i_equal,
                     t_bf, r_bf, t_naive))  # fmt: skip
    print("| model | bp | grad x input (s) | tangermeme (s) | captum (s) | vs tangermeme | "
          "vs captum | maps equal | GFLOP/s | of peak | ISM (s) | tangermeme ISM (s) | "
          "ISM speed-up | ISM maps equal | tangermeme ISM fast=False (s) | speed-up vs "
          "fast=False | bf16 grad x input (s) | bf16 speed-up | bf16 vs fp32 Pearson |"
          )  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, length, t_o, t_t, t_c, eq, fl, t_i, t_it, ieq, t_b, r_b, t_n in rows:
        rate = fl / t_o / 1e9
        print(f"| {name} | {length} | {t_o:.3f} | {t_t:.3f} | {t_c:.3f} | {t_t / t_o:.2f}x | "
              f"{t_c / t_o:.2f}x | {eq} | {rate:.1f} | {rate / peak:.0%} | {t_i:.3f} | "
              f"{t_it:.3f} | {t_it / t_i:.2f}x | {ieq} | {t_n:.3f} | {t_n / t_i:.2f}x | "
              f"{t_b:.3f} | {t_o / t_b:.2f}x | "
              f"{r_b:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
