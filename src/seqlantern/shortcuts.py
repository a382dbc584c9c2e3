"""Shortcut tests: how much the model's prediction depends on each element, with intervals.

A matched motif says what an element *looks like*; an ablation says whether the model
*uses* it. Both are needed to call an element plausible biology, and an artifact that the
prediction depends on is a **shortcut**: faithful to the model, useless for biology.

- **Ablation** (per element): the element's span is replaced by ``shuffles``
  dinucleotide-shuffled versions of itself (same composition, no motif), and the
  element's *effect* is the mean drop in prediction, effect = pred(original) -
  mean pred(ablated), with a 95% t-interval over the shuffles. An activating element has
  a positive effect, a repressing one a negative effect.
- **Group effect**: the members' effects averaged, 95% t-interval over members.
- **Insertion** (per group, marginalisation): up to ``insert_members`` members are
  written at their own position into ``backgrounds`` neutral sequences (dinucleotide
  shuffles of random attributed sequences); the effect is pred(with element) -
  pred(background), averaged per member, 95% t-interval over members.
- **Dataset level**: in the top decile of predictions, every artifact span is
  neutralised (shuffled) at once; the share of the predicted signal (prediction minus
  the mean prediction of the neutral backgrounds) that disappears is the model's
  reliance on artifacts.

Decision (column ``decision``): ``artifact`` for elements annotated as artifacts
(``shortcut`` = the prediction depends on it: its own or its group's interval excludes
0 and the effect is at least ``min_effect``); ``plausible`` for motif-matched elements
whose effect is present (own or group interval excludes 0 in the element's direction);
``unexplained`` otherwise. ``decision_reason`` says which evidence decided.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import t as student_t
from torch import nn

from seqlantern.io import RowSource
from seqlantern.shuffle import shuffle_onehot


@dataclass(frozen=True)
class ShortcutParams:
    """Options of the shortcut tests (see ``config/README.md``)."""

    shuffles: int = 5
    backgrounds: int = 10
    insert_members: int = 20
    min_effect: float = 0.0
    batch_size: int = 256
    seed: int = 0


def predict(
    model: nn.Module,
    x: RowSource,
    *,
    target: int,
    output: str = "logit",
    batch_size: int = 256,
    device: str = "cpu",
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """One output of ``model`` for every sequence of ``x`` (n, 4, L), in batches.

    With ``rows``, for ``x[rows]``, read one batch at a time (``x`` may be a memory map of
    the whole library: only a batch is ever in memory).
    """
    model.eval()
    n = len(x) if rows is None else len(rows)
    out = np.empty(n)
    with torch.no_grad():
        for b in range(0, n, batch_size):
            xn = x[b : b + batch_size] if rows is None else x[rows[b : b + batch_size]]
            xb = torch.as_tensor(np.asarray(xn, dtype=np.float32), device=device)
            y = model(xb)[:, target]
            if output == "activation":
                y = torch.sigmoid(y)
            out[b : b + len(xb)] = y.float().cpu().numpy()
    return out


def mean_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t-interval (NaN bounds with fewer than 2 values)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = float(student_t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half


def mean_ci_rows(values: np.ndarray, level: float = 0.95) -> np.ndarray:
    """:func:`mean_ci` of every row of a 2-D array at once: (n, 3) mean, low, high."""
    v = np.asarray(values, dtype=float)
    if v.size == 0 or not np.isfinite(v).all():
        return np.array([mean_ci(r, level) for r in v]).reshape(-1, 3)
    m = v.mean(axis=1)
    if v.shape[1] < 2:
        nan = np.full(len(v), np.nan)
        return np.column_stack([m, nan, nan])
    k = v.shape[1]
    half = student_t.ppf(0.5 + level / 2, k - 1) * v.std(axis=1, ddof=1) / np.sqrt(k)
    return np.column_stack([m, m - half, m + half])


def _excludes_zero(lo: float, hi: float, sign: float) -> bool:
    """Interval excludes 0 on the side of ``sign`` (+1: above 0, -1: below 0)."""
    return bool(lo > 0) if sign > 0 else bool(hi < 0)


def run_shortcut_tests(
    model: nn.Module,
    x: RowSource,
    elements: pd.DataFrame,
    groups: pd.DataFrame,
    attributed_rows: np.ndarray,
    *,
    target: int,
    output: str = "logit",
    params: ShortcutParams | None = None,
    device: str = "cpu",
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Ablation, insertion and dataset-level tests; adds the decision to each element.

    Parameters
    ----------
    model
        The model the attributions came from.
    x
        (N, 4, L) one-hot array of the encoded library (memory-mapped is fine).
    elements
        ``elements.tsv`` of the annotate stage.
    groups
        ``groups.tsv`` of the annotate stage.
    attributed_rows
        Rows of ``x`` that were attributed (``predictions.tsv``): the dataset-level
        test and the insertion backgrounds use these.
    target, output
        The output attributed (same meaning as for ``attribute``).
    params
        Options.
    device
        Torch device.

    Returns
    -------
    Elements and groups with effect columns, and the dataset-level figures.
    """
    p = params or ShortcutParams()
    opts: dict[str, Any] = {"target": target, "output": output, "batch_size": p.batch_size,
                            "device": device}  # fmt: skip
    el = elements.copy()
    rows = el["row"].to_numpy(dtype=np.int64)
    starts = el["start"].to_numpy(dtype=np.int64)
    ends = el["end"].to_numpy(dtype=np.int64)
    k = max(p.shuffles, 1)
    base_rows, inv = np.unique(rows, return_inverse=True)
    base = predict(model, x, rows=base_rows, **opts) if len(base_rows) else np.zeros(0)
    # ablation, streamed per chunk of elements (memory independent of the table's size)
    effect = np.full((len(el), k), np.nan)
    chunk = max(1, 4096 // k)
    for c0 in range(0, len(el), chunk):
        c1 = min(c0 + chunk, len(el))
        # one read of the chunk's rows (a memory map reads them in order)
        uniq, at = np.unique(rows[c0:c1], return_inverse=True)
        xs = np.asarray(x[uniq], dtype=np.float32)
        batch = np.repeat(xs[at], k, axis=0)
        for j, i in enumerate(range(c0, c1)):
            rng = np.random.default_rng([p.seed, i])
            s0, s1 = starts[i], ends[i]
            batch[j * k : (j + 1) * k, :, s0:s1] = shuffle_onehot(xs[at[j], :, s0:s1], rng,
                                                                  copies=k)  # fmt: skip
        pred = predict(model, batch, **opts).reshape(c1 - c0, k)
        effect[c0:c1] = base[inv[c0:c1]][:, None] - pred
    stats = mean_ci_rows(effect)
    el["effect"], el["effect_low"], el["effect_high"] = stats[:, 0], stats[:, 1], stats[:, 2]
    sign = np.where(el["sign"].to_numpy() == "+", 1.0, -1.0)

    # group effects and insertion into neutral backgrounds
    rng = np.random.default_rng(p.seed)
    pool = np.asarray(attributed_rows, dtype=np.int64)
    bg_rows = rng.choice(pool, size=min(p.backgrounds, len(pool)), replace=False)
    bgs = np.stack([shuffle_onehot(np.asarray(x[r]), rng) for r in bg_rows]) if len(
        bg_rows) else np.zeros((0, *x.shape[1:]), dtype=np.float32)  # fmt: skip
    bg_pred = predict(model, bgs, **opts) if len(bgs) else np.zeros(0)
    g = groups.copy()
    cols = {c: np.full(len(g), np.nan) for c in (
        "effect", "effect_low", "effect_high", "insertion_effect", "insertion_low",
        "insertion_high")}  # fmt: skip
    shortcut_group = np.zeros(len(g), dtype=bool)
    by_group = pd.Series(np.arange(len(el))).groupby(el["group"].to_numpy()).indices
    for gi, name in enumerate(g["group"]):
        members = by_group.get(name, np.zeros(0, dtype=np.int64))
        if len(members) == 0:
            continue
        m, lo, hi = mean_ci(el["effect"].to_numpy()[members])
        cols["effect"][gi], cols["effect_low"][gi], cols["effect_high"][gi] = m, lo, hi
        top = members[np.argsort(-np.abs(el["score"].to_numpy()[members]), kind="stable")]
        top = top[: p.insert_members]
        if len(bgs):
            ins = []
            for i in top:
                xi = np.asarray(x[rows[i]])
                inserted = bgs.copy()
                inserted[:, :, starts[i] : ends[i]] = xi[:, starts[i] : ends[i]]
                ins.append(float(np.mean(predict(model, inserted, **opts) - bg_pred)))
            im, il, ih = mean_ci(np.array(ins))
            cols["insertion_effect"][gi], cols["insertion_low"][gi] = im, il
            cols["insertion_high"][gi] = ih
        direction = 1.0 if m >= 0 else -1.0
        shortcut_group[gi] = _excludes_zero(lo, hi, direction) and abs(m) >= p.min_effect
    for c, v in cols.items():
        g[c] = v
    # decision per element (vectorised: the table has an element per seqlet)
    pos = {name: gi for gi, name in enumerate(g["group"])}
    gidx = el["group"].map(pos).fillna(-1).to_numpy(dtype=np.int64)

    def signed(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.where(sign > 0, lo > 0, hi < 0)

    lab = el["label"].to_numpy()
    eff = el["effect"].to_numpy(dtype=float)
    own = signed(el["effect_low"].to_numpy(dtype=float), el["effect_high"].to_numpy(dtype=float))
    # index -1 (no group) picks the appended NaN / False
    grp_ok = signed(np.append(cols["effect_low"], np.nan)[gidx],
                    np.append(cols["effect_high"], np.nan)[gidx])  # fmt: skip
    big = np.abs(eff) >= p.min_effect
    is_art = lab == "artifact"
    is_motif = lab == "motif"
    shortcut = is_art & ((own & big) | np.append(shortcut_group, False)[gidx])
    plausible = is_motif & (own | grp_ok)
    reason = np.where(is_motif, "motif match but no measurable effect",
                      "no motif or artifact match").astype(object)  # fmt: skip
    reason[plausible] = np.where(own[plausible], "motif match; effect present (element)",
                                 "motif match; effect present (group)")  # fmt: skip
    if is_art.any():
        kind = el["artifact_kind"].to_numpy()[is_art].astype(str).astype(object)
        reason[is_art] = kind + np.where(shortcut[is_art],
                                         " match; prediction depends on it (shortcut)",
                                         " match; no measurable effect").astype(object)  # fmt: skip
    decision = np.where(is_art, "artifact", np.where(plausible, "plausible", "unexplained"))
    el["decision"] = decision.astype(object)
    el["shortcut"], el["decision_reason"] = shortcut, reason
    g["shortcut"] = shortcut_group & (g["label"] == "artifact").to_numpy()

    # dataset level: neutralise every artifact span in the top decile of predictions
    pool_pred = predict(model, x, rows=np.sort(pool), **opts) if len(pool) else np.zeros(0)
    ds: dict[str, Any] = {"sequences": len(pool)}
    if len(pool):
        order = np.sort(pool)
        # signal = prediction above that of neutral (shuffled) backgrounds
        baseline = float(np.mean(bg_pred)) if len(bg_pred) else float(np.median(pool_pred))
        cut = np.quantile(pool_pred, 0.9)
        top_rows = order[pool_pred >= cut]
        art = el[el["decision"] == "artifact"]
        art_rows = set(art["row"].tolist())
        with_art = [r for r in top_rows if r in art_rows]
        spans_of = {r: list(zip(g_["start"], g_["end"], strict=True))
                    for r, g_ in art[art["row"].isin(with_art)].groupby("row")}  # fmt: skip
        orig = pool_pred[np.searchsorted(order, top_rows)]
        neutral = orig.copy()
        if with_art:
            rng2 = np.random.default_rng([p.seed, 1])
            neutral_art = np.empty(len(with_art))
            step = 4096  # rows per read: memory independent of the library's size
            for c0 in range(0, len(with_art), step):
                part = with_art[c0 : c0 + step]
                xb = np.array(x[np.asarray(part)], dtype=np.float32)
                for j, r in enumerate(part):
                    for a0, a1 in spans_of[r]:
                        xb[j, :, a0:a1] = shuffle_onehot(xb[j, :, a0:a1], rng2)
                neutral_art[c0 : c0 + len(part)] = predict(model, xb, **opts)
            at_top = {r: j for j, r in enumerate(top_rows)}
            for r, value in zip(with_art, neutral_art, strict=True):
                neutral[at_top[r]] = value
        signal = float(np.sum(orig - baseline))
        ds.update({
            "top_decile_sequences": len(top_rows),
            "top_decile_with_artifact": len(with_art),
            "baseline_prediction": baseline,
            "top_decile_signal": signal,
            "top_decile_signal_lost": float(np.sum(orig - neutral)),
            "share_of_top_decile_signal_on_artifacts": float(np.sum(orig - neutral) / signal)
            if signal > 0 else float("nan"),
            "artifact_elements": len(art),
            "shortcut_elements": int(el["shortcut"].sum()),
        })  # fmt: skip
    return el, g, ds
