"""How faithful, stable and reliable is a map? Measured, per method, on the same sequences.

- **Faithfulness** (deletion / insertion curves; Samek et al. 2017, Petsiuk et al. 2018):
  bases are replaced, in the order of the map (largest attribution first), by the bases
  of a dinucleotide-shuffled copy of the sequence (deletion), or the shuffled copy gets
  the original bases back in that order (insertion); the mean prediction is recorded at
  every step. A faithful map makes the deletion curve fall fast (small area) and the
  insertion curve rise fast (large area). The same curves in a random order are the
  baseline every method must beat.
- **Stability**: correlation (over positions) of a map with the map of a slightly
  changed input, aligned back: the reverse complement, 1-5 bp shifts (overlapping part),
  and three random substitutions away from the map's top 10% positions (mutated
  positions left out). A map that changes a lot under changes the model barely notices
  says more about the method than the model.
- **Saturation**: agreement between gradient x input and ISM on each sequence's top
  positions (top-k overlap and sign disagreement). Where a model saturates, the local
  slope no longer reflects what a base change does, and the two disagree.
- **Effective receptive field**: the gradient of one central unit of each convolution
  block with respect to the input, averaged over random sequences; its spread (standard
  deviation of the |gradient| profile) against the theoretical receptive field.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqlantern.shuffle import shuffle_onehot

MapFn = Callable[[torch.Tensor], torch.Tensor]
"""A method bound to a model: one-hot batch (N, 4, L) -> observed-base map (N, 4, L)."""


def _predict(model: nn.Module, x: np.ndarray, target: int, output: str) -> np.ndarray:
    with torch.no_grad():
        y = model(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)))[:, target]
        if output == "activation":
            y = torch.sigmoid(y)
    return y.numpy()


def faithfulness_curves(
    model: nn.Module, x: np.ndarray, per_position: np.ndarray, *, target: int = 0,
    output: str = "logit", steps: int = 20, seed: int = 0,
) -> pd.DataFrame:  # fmt: skip
    """Mean deletion and insertion curves in map order and in random order.

    Parameters
    ----------
    model
        Model.
    x
        (N, 4, L) one-hot sequences.
    per_position
        (N, L) attribution per position (the observed-base map summed over bases).
    target, output
        Output explained.
    steps
        Points of each curve, evenly spaced over the fraction of positions changed.
    seed
        Seeds the shuffled backgrounds and the random order.

    Returns
    -------
    Table ``order curve fraction prediction`` (order: ``map`` or ``random``).
    """
    rng = np.random.default_rng(seed)
    n, _, length = x.shape
    bg = np.stack([shuffle_onehot(s, rng) for s in x]).astype(np.float32)
    orders = {"map": np.argsort(-per_position, axis=1, kind="stable"),
              "random": np.argsort(rng.random((n, length)), axis=1)}  # fmt: skip
    fracs = np.linspace(0, 1, steps + 1)
    rows = []
    for name, order in orders.items():
        for curve in ("deletion", "insertion"):
            for f in fracs:
                kk = round(f * length)
                cur = x.copy() if curve == "deletion" else bg.copy()
                src = bg if curve == "deletion" else x
                if kk:
                    idx = order[:, :kk]
                    ar = np.arange(n)[:, None]
                    cur[ar, :, idx] = src[ar, :, idx]
                rows.append((name, curve, float(f), float(_predict(model, cur, target,
                                                                   output).mean())))  # fmt: skip
    return pd.DataFrame(rows, columns=["order", "curve", "fraction", "prediction"])


def curve_areas(curves: pd.DataFrame) -> dict[str, float]:
    """Areas under the mean curves (trapezoid over the fraction changed)."""
    out = {}
    for (order, curve), g in curves.groupby(["order", "curve"]):
        g = g.sort_values("fraction")
        f, y = g["fraction"].to_numpy(), g["prediction"].to_numpy()
        out[f"{curve}_auc_{order}"] = float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(f)))
    return out


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel(), b.ravel()
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def stability(fn: MapFn, x: np.ndarray, *, seed: int = 0, shifts: int = 5) -> dict[str, float]:
    """Mean per-sequence correlations of per-position maps under small input changes."""
    rng = np.random.default_rng(seed)
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    base = fn(xt).sum(dim=1).numpy()  # (N, L)
    n, _, length = x.shape
    # ACGT order: the complement reverses the channels, the reverse the positions
    rc = fn(torch.from_numpy(np.ascontiguousarray(x[:, ::-1, ::-1], dtype=np.float32)))
    rc_map = rc.sum(dim=1).numpy()[:, ::-1]
    out = {"stability_rc": float(np.nanmean([_corr(base[i], rc_map[i]) for i in range(n)]))}
    cors = []
    for s in range(1, shifts + 1):
        xs = np.roll(x, s, axis=2)
        m = fn(torch.from_numpy(xs.astype(np.float32))).sum(dim=1).numpy()
        cors += [_corr(base[i, : length - s], m[i, s:]) for i in range(n)]
    out["stability_shift"] = float(np.nanmean(cors))
    xm = x.copy()
    keep = np.ones((n, length), dtype=bool)
    for i in range(n):
        top = set(np.argsort(-np.abs(base[i]))[: max(1, length // 10)].tolist())
        free = [p for p in range(length) if p not in top]
        for p in rng.choice(free, size=min(3, len(free)), replace=False):
            cur = int(xm[i, :, p].argmax())
            xm[i, :, p] = 0
            xm[i, (cur + rng.integers(1, 4)) % 4, p] = 1
            keep[i, p] = False
    mm = fn(torch.from_numpy(xm.astype(np.float32))).sum(dim=1).numpy()
    out["stability_mutation"] = float(np.nanmean([_corr(base[i][keep[i]], mm[i][keep[i]])
                                                  for i in range(n)]))  # fmt: skip
    return out


def saturation(gxi: np.ndarray, ism_map: np.ndarray, *, top_k: int = 10) -> dict[str, float]:
    """Top-k overlap and sign disagreement of two per-position maps (N, L)."""
    overlap, disagree = [], []
    for a, b in zip(gxi, ism_map, strict=True):
        ta = set(np.argsort(-np.abs(a))[:top_k].tolist())
        tb = set(np.argsort(-np.abs(b))[:top_k].tolist())
        overlap.append(len(ta & tb) / top_k)
        u = sorted(ta | tb)
        disagree.append(float(np.mean(np.sign(a[u]) != np.sign(b[u]))))
    return {"saturation_topk_overlap": float(np.mean(overlap)),
            "saturation_sign_disagreement": float(np.mean(disagree))}  # fmt: skip


def effective_receptive_field(
    model: nn.Module, length: int, *, n: int = 64, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Impulse response of a central unit of every convolution block.

    For block b (its output after the activation), the gradient of the sum over channels
    at the central position with respect to the input, |.| summed over bases, averaged
    over ``n`` random uniform sequences. The theoretical receptive field of a block is
    1 + sum of (kernel - 1) x the stride accumulated before it (pools multiply it).

    Returns
    -------
    Profiles (``block position offset gradient``) and a summary per block
    (``block theoretical_rf erf_sd erf_95``: the standard deviation of the profile and
    the width holding 95% of its mass).
    """
    body = getattr(model, "body", None)
    if not isinstance(body, nn.Sequential):
        return (
            pd.DataFrame(columns=["block", "position", "offset", "gradient"]),
            pd.DataFrame(columns=["block", "theoretical_rf", "erf_sd", "erf_95"]),
        )
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                         .transpose(0, 2, 1).copy()).requires_grad_(True)  # fmt: skip
    # block outputs: after each activation that follows a conv (before any pooling)
    from seqlantern.models import ACTIVATION_TYPES

    taps: list[int] = []  # block outputs: the activation after each convolution
    rfs: list[int] = []
    rf, jump = 1, 1
    layers = list(body)
    for i, m in enumerate(layers):
        if isinstance(m, nn.Conv1d):
            rf += (m.kernel_size[0] - 1) * jump
        elif isinstance(m, nn.MaxPool1d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            rf += (k - 1) * jump
            jump *= k
        elif isinstance(m, ACTIVATION_TYPES):
            taps.append(i)
            rfs.append(rf)
    prof_rows, summ = [], []
    for b, (li, trf) in enumerate(zip(taps, rfs, strict=True)):
        h = x
        for m in layers[: li + 1]:
            h = m(h)
        centre = h.shape[2] // 2
        (g,) = torch.autograd.grad(h[:, :, centre].sum(), x)
        p = g.abs().sum(dim=1).mean(dim=0).detach().numpy()  # (L,)
        pos_centre = round(centre * length / h.shape[2])
        offs = np.arange(length) - pos_centre
        w = p / p.sum() if p.sum() > 0 else p
        mu = float((w * offs).sum())
        sd = float(np.sqrt((w * (offs - mu) ** 2).sum()))
        order = np.argsort(-w)
        n95 = int(np.searchsorted(np.cumsum(w[order]), 0.95) + 1)
        summ.append((b + 1, trf, sd, n95))
        prof_rows += [(b + 1, i, int(offs[i]), float(p[i])) for i in range(length)]
    profile_cols = ["block", "position", "offset", "gradient"]
    summary_cols = ["block", "theoretical_rf", "erf_sd", "erf_95"]
    return pd.DataFrame(prof_rows, columns=profile_cols), pd.DataFrame(summ, columns=summary_cols)


class _Stack(nn.Module):
    """``depth`` blocks of conv (``kernel``, ``channels``) + ReLU: an ERF study subject."""

    def __init__(self, depth: int, *, kernel: int, channels: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(depth):
            layers += [nn.Conv1d(4 if i == 0 else channels, channels, kernel,
                                 padding=kernel // 2), nn.ReLU()]  # fmt: skip
        self.body = nn.Sequential(*layers)


def erf_growth(
    *,
    depth: int = 16,
    kernel: int = 9,
    channels: int = 32,
    models: int = 8,
    n: int = 32,
    seed: int = 0,
    boot: int = 1000,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """How the effective receptive field grows with depth (Luo et al. 2016).

    ``models`` randomly initialised stacks of ``depth`` conv + ReLU blocks (PyTorch's
    default initialisation, seeded) are probed with :func:`effective_receptive_field`:
    the ERF width (standard deviation of the central unit's |gradient| profile) after each
    block. The theoretical receptive field grows linearly, ``1 + d (kernel - 1)``; the
    effective one like a sum of ``d`` random kernels, i.e. like ``sqrt(d)``. The fitted
    exponent is the slope of log(ERF sd) on log(depth) over the models' mean widths, with
    a bootstrap 95% interval over models; ``exponent_deep`` fits the deeper half only
    (the first blocks grow faster: one random kernel's |weights| are not yet a sum).

    Returns
    -------
    The table (``depth model theoretical_rf erf_sd``) and ``{exponent, exponent_low,
    exponent_high, exponent_deep, exponent_deep_low, exponent_deep_high,
    theoretical_exponent}``.
    """
    length = 2 * depth * (kernel - 1) + 65
    rows = []
    for m in range(models):
        torch.manual_seed(seed + m)
        stack = _Stack(depth, kernel=kernel, channels=channels)
        _, summ = effective_receptive_field(stack, length, n=n, seed=seed + m)
        rows += [(int(r.block), m, int(r.theoretical_rf), float(r.erf_sd))
                 for r in summ.itertuples(index=False)]  # fmt: skip
    table = pd.DataFrame(rows, columns=["depth", "model", "theoretical_rf", "erf_sd"])
    sd = table.pivot(index="model", columns="depth", values="erf_sd").to_numpy()  # (M, D)
    logd = np.log(np.arange(1, depth + 1))

    deep = np.arange(depth) >= depth // 2

    def slope(widths: np.ndarray, sel: np.ndarray) -> float:
        return float(np.polyfit(logd[sel], np.log(widths.mean(axis=0)[sel]), 1)[0])

    rng = np.random.default_rng(seed)
    picks = [rng.integers(0, models, models) for _ in range(boot)]
    rf = table.groupby("depth")["theoretical_rf"].first().to_numpy(dtype=float)
    fit = {"theoretical_exponent": float(np.polyfit(logd, np.log(rf), 1)[0])}
    for name, sel in (("exponent", np.ones(depth, dtype=bool)), ("exponent_deep", deep)):
        boots = [slope(sd[pk], sel) for pk in picks]
        fit.update({name: slope(sd, sel), f"{name}_low": float(np.quantile(boots, 0.025)),
                    f"{name}_high": float(np.quantile(boots, 0.975))})  # fmt: skip
    return table, fit


def compare_methods(
    model: nn.Module, x: np.ndarray, *, methods: list[str], target: int = 0,
    output: str = "logit", steps: int = 32, references: int = 8, seed: int = 0,
    curve_steps: int = 20,
) -> tuple[pd.DataFrame, pd.DataFrame]:  # fmt: skip
    """Faithfulness, stability and agreement with ISM for each method on ``x``.

    Returns
    -------
    The comparison table (one row per method, best deletion-curve gain first) and the
    faithfulness curves (:func:`faithfulness_curves` with a ``method`` column).
    """
    import time

    from seqlantern.methods import hypothetical, observed

    model.eval()

    def bind(method: str) -> MapFn:
        def fn(xb: torch.Tensor) -> torch.Tensor:
            h = hypothetical(method, model, xb, target=target, output=output, steps=steps,
                             references=references, seed=seed)  # fmt: skip
            return observed(method, h, xb).detach()

        return fn

    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    ism_map = bind("ism")(xt).sum(dim=1).numpy()
    rows, curves = [], []
    for method in methods:
        fn = bind(method)
        t0 = time.perf_counter()
        per_pos = fn(xt).sum(dim=1).numpy()
        seconds = time.perf_counter() - t0
        c = faithfulness_curves(model, x, per_pos, target=target, output=output,
                                steps=curve_steps, seed=seed)  # fmt: skip
        areas = curve_areas(c)
        curves.append(c.assign(method=method))
        row = {"method": method, **areas,
               "deletion_gain": areas["deletion_auc_random"] - areas["deletion_auc_map"],
               "insertion_gain": areas["insertion_auc_map"] - areas["insertion_auc_random"],
               **stability(fn, x, seed=seed),
               **{k.replace("saturation", "ism"): v
                  for k, v in saturation(per_pos, ism_map).items()}}  # fmt: skip
        rows.append(row)
        # the cost goes to the log only: a table that depends on machine load would make
        # two runs of the same seed differ (benchmarks/methods.py measures speed)
        print(f"[compare] {method}: {seconds / max(len(x), 1):.4g} s per sequence "
              f"({len(x)} sequences)", flush=True)  # fmt: skip
    table = pd.DataFrame(rows).sort_values("deletion_gain", ascending=False, kind="stable")
    return table.reset_index(drop=True), pd.concat(curves, ignore_index=True)
