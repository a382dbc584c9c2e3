"""Shortcut tests: how much the model's prediction depends on each element, with intervals.

A matched motif says what an element *looks like*; an ablation says whether the model
*uses* it. Both are needed to call an element plausible biology, and an artifact that the
prediction depends on is a **shortcut**: faithful to the model, useless for biology.

- **Ablation** (per element): the element's span is replaced by ``shuffles``
  dinucleotide-shuffled versions of itself (same composition, no motif), and the
  element's *effect* is the mean drop in prediction, effect = pred(original) -
  mean pred(ablated), with a t-interval over the shuffles (``level``, 95% by default).
  An activating element has a positive effect, a repressing one a negative effect.
- **Group effect**: the members' effects averaged, t-interval over members.
- **Insertion** (per group, marginalisation): up to ``insert_members`` members are
  written at their own position into ``backgrounds`` neutral sequences (dinucleotide
  shuffles of random attributed sequences); the effect is pred(with element) -
  pred(background), averaged per member, t-interval over members.
- **Dataset level**: in the top decile of predictions, every artifact span is
  neutralised (shuffled) at once; the share of the predicted signal (prediction minus
  the mean prediction of the neutral backgrounds) that disappears is the model's
  reliance on artifacts.

- **Junctions** (per element that overlaps an artifact span only in part, e.g. a motif
  match that borrows the constant flank's last bases): the artifact part and the insert
  part are neutralised separately (uniform random bases, ``shuffles`` draws each;
  columns ``artifact_part_*`` and ``insert_part_*``), so no fixed overlap fraction
  decides what the element is.

Locality (columns ``local_estimate``, ``local_effect_ratio``, ``local_mismatch``): a
gradient map is a local slope, so what it predicts for removing an element and the
measured effect can disagree (saturation, interactions, convex activations: two models
can share a gradient here and differ beyond). ``local_estimate`` is the first-order
(gradient) prediction of the same ablation, sum over the span of gradient x (original -
shuffled) averaged over the same shuffles: exact for a linear model and on the same
reference as the effect (summed gradient x input is taken against a uniform-base
reference, a shuffle keeps the span's composition, so the two differ even for a linear
model). ``local_effect_ratio`` = effect / local estimate. Its median over the elements,
``local_effect_scale`` in ``dataset.tsv``, says how the map's magnitudes relate to the
effects overall (1: faithful; below 1: the map overstates effects, as an exponential
first layer does; above 1: it understates them, as saturation does). ``local_mismatch``
flags the elements for which the map misleads beyond that: the effect's interval
excludes scale x local estimate *and* ratio / scale is below 1/:data:`NONLOCAL_FOLD`,
above :data:`NONLOCAL_FOLD` or negative; the decision reason then says so. Groups get
the rank agreement of their members' summed attribution (``score``) and effects
(``local_effect_spearman``); ``dataset.tsv`` the overall one and the share flagged
(``local_mismatch_share``).

Decision (column ``decision``): ``artifact`` for elements annotated as artifacts
(``shortcut`` = the prediction depends on it: its own or its group's interval excludes
0 and the effect is at least ``min_effect``); ``plausible`` for motif-matched elements
whose effect is present (own or group interval excludes 0 in the element's direction);
``unexplained`` otherwise. For junctions the measured split overrides these: only the
artifact part's interval excludes 0 → ``artifact`` (a shortcut); only the insert part's
→ ``plausible`` (insert matches a motif) or ``unexplained``; both → ``junction`` (both
effects shown, ``shortcut`` True); neither → the rules above. ``decision_reason`` says
which evidence decided.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy.stats import t as student_t
from torch import nn

from seqlantern.encode import one_hot
from seqlantern.io import Progress, RowSource, SeqlanternError, iter_tsv
from seqlantern.options import DEFAULTS
from seqlantern.shuffle import shuffle_onehot

NONLOCAL_FOLD = 2.0  # effect / local estimate outside [1/2, 2]: the map misleads here


@dataclass(frozen=True)
class ShortcutParams:
    """Options of the shortcut tests (defined in :mod:`seqlantern.options`, section
    ``shortcuts``; ``batch_size`` is the command line's)."""

    shuffles: int = DEFAULTS.shortcuts.shuffles
    backgrounds: int = DEFAULTS.shortcuts.backgrounds
    insert_members: int = DEFAULTS.shortcuts.insert_members
    min_effect: float = DEFAULTS.shortcuts.min_effect
    level: float = DEFAULTS.shortcuts.level
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


def input_gradients(
    model: nn.Module,
    x: np.ndarray,
    *,
    target: int,
    output: str = "logit",
    batch_size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """Gradient (n, 4, L) of the output :func:`predict` returns, at each sequence."""
    model.eval()
    out = np.empty(x.shape, dtype=np.float64)
    for b in range(0, len(x), batch_size):
        xb = torch.as_tensor(np.asarray(x[b : b + batch_size], dtype=np.float32),
                             device=device).requires_grad_(True)  # fmt: skip
        with torch.enable_grad():
            y = model(xb)[:, target]
            if output == "activation":
                y = torch.sigmoid(y)
            (g,) = torch.autograd.grad(y.sum(), xb)
        out[b : b + len(xb)] = g.double().cpu().numpy()
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
    parts: list[pd.DataFrame] = []
    g, ds, _ = _shortcut_passes(
        model, x, lambda: iter([elements]), elements["row"].to_numpy(dtype=np.int64), groups,
        attributed_rows, emit=parts.append, target=target, output=output,
        params=params or ShortcutParams(), device=device,
    )  # fmt: skip
    return parts[0], g, ds


def shortcut_tests_file(
    model: nn.Module,
    x: RowSource,
    elements: str | Path,
    groups: pd.DataFrame,
    attributed_rows: np.ndarray,
    out_elements: str | Path,
    *,
    target: int,
    output: str = "logit",
    params: ShortcutParams | None = None,
    device: str = "cpu",
    chunk: int = 200_000,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, int]]:
    """:func:`run_shortcut_tests` from an elements TSV to ``out_elements``, ``chunk`` rows
    at a time: memory does not grow with the table (only a few numbers per element are
    kept between the two passes over it). The output is the same as writing the table of
    :func:`run_shortcut_tests`.

    Returns
    -------
    Groups with effect columns, the dataset-level figures, and the number of elements
    per decision (and of shortcuts, key ``shortcut``).
    """
    ints, floats = ("start", "end", "row"), ("score",)
    rows = [b["row"].to_numpy(dtype=np.int64) for b in iter_tsv(
        elements, what="elements", ints=("row",), chunk=chunk, columns=("row",))]  # fmt: skip
    all_rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    if len(all_rows) and (all_rows.min() < 0 or all_rows.max() >= x.shape[0]):
        raise SeqlanternError(
            f"{elements}: row {int(all_rows.max())} is beyond the one-hot array "
            f"({x.shape[0]} sequences); use the outputs of one workflow run"
        )
    with open(out_elements, "w", newline="") as fh:
        first = [True]

        def write(block: pd.DataFrame) -> None:
            block.to_csv(fh, sep="\t", index=False, na_rep="NA", float_format="%.6g",
                         header=first[0])  # fmt: skip
            first[0] = False

        return _shortcut_passes(
            model, x,
            lambda: iter_tsv(elements, what="elements", ints=ints, floats=floats, chunk=chunk),
            all_rows, groups, attributed_rows, emit=write, target=target, output=output,
            params=params or ShortcutParams(), device=device,
        )  # fmt: skip


def _ablation_stats(
    model: nn.Module,
    x: RowSource,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    base: np.ndarray,
    *,
    first: int,
    p: ShortcutParams,
    opts: dict[str, Any],
    progress: Progress | None = None,
) -> np.ndarray:
    """(n, 4) mean effect and interval of ablating each element (index ``first`` + i in
    the table: its shuffles are seeded by that index, so blocks do not change them), and
    the gradient's first-order prediction of that effect (``local_estimate``)."""
    k = max(p.shuffles, 1)
    effect = np.full((len(rows), k), np.nan)
    local = np.full(len(rows), np.nan)
    step = max(1, 4096 // k)
    for c0 in range(0, len(rows), step):
        c1 = min(c0 + step, len(rows))
        # one read of the step's rows (a memory map reads them in order)
        uniq, at = np.unique(rows[c0:c1], return_inverse=True)
        xs = np.asarray(x[uniq], dtype=np.float32)
        batch = np.repeat(xs[at], k, axis=0)
        for j, i in enumerate(range(c0, c1)):
            rng = np.random.default_rng([p.seed, first + i])
            s0, s1 = starts[i], ends[i]
            batch[j * k : (j + 1) * k, :, s0:s1] = shuffle_onehot(xs[at[j], :, s0:s1], rng,
                                                                  copies=k)  # fmt: skip
        pred = predict(model, batch, **opts).reshape(c1 - c0, k)
        effect[c0:c1] = base[c0:c1, None] - pred
        grad = input_gradients(model, xs, **opts)
        for j, i in enumerate(range(c0, c1)):
            s0, s1 = starts[i], ends[i]
            diff = xs[at[j], None, :, s0:s1] - batch[j * k : (j + 1) * k, :, s0:s1]
            local[i] = float((grad[at[j], None, :, s0:s1] * diff).sum(axis=(1, 2)).mean())
        if progress is not None:
            progress.update(first + c1)
    return np.column_stack([mean_ci_rows(effect, p.level), local])


def _random_bases(width: int, copies: int, rng: np.random.Generator) -> np.ndarray:
    """(copies, 4, width) one-hot of uniformly drawn bases."""
    eye = np.eye(4, dtype=np.float32)
    return eye[rng.integers(0, 4, size=(copies, width))].transpose(0, 2, 1)


def junction_parts(
    starts: np.ndarray, ends: np.ndarray, art_starts: np.ndarray, art_ends: np.ndarray
) -> np.ndarray:
    """Elements that overlap an artifact span only in part (both parts non-empty)."""
    ov = np.minimum(ends, art_ends) - np.maximum(starts, art_starts)
    inside = (starts >= art_starts) & (ends <= art_ends)
    return (art_starts >= 0) & (ov > 0) & ~inside


def _part_stats(
    model: nn.Module,
    x: RowSource,
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    art_starts: np.ndarray,
    art_ends: np.ndarray,
    base: np.ndarray,
    *,
    first: int,
    p: ShortcutParams,
    opts: dict[str, Any],
) -> np.ndarray:
    """(n, 6) effect and interval of neutralising the artifact part, then the insert part,
    of every junction element (:func:`junction_parts`); NaN for the others.

    The two parts are replaced by uniformly drawn bases, ``shuffles`` times each: a
    shuffle of a 2-bp part is mostly the part itself, so it would read as "no effect"
    for the shorter part whatever the model does.
    """
    out = np.full((len(rows), 6), np.nan)
    cand = np.flatnonzero(junction_parts(starts, ends, art_starts, art_ends))
    k = max(p.shuffles, 1)
    step = max(1, 2048 // k)
    for c0 in range(0, len(cand), step):
        sel = cand[c0 : c0 + step]
        uniq, at = np.unique(rows[sel], return_inverse=True)
        xs = np.asarray(x[uniq], dtype=np.float32)
        batch = np.repeat(xs[at], 2 * k, axis=0)
        for j, i in enumerate(sel):
            rng = np.random.default_rng([p.seed, first + int(i), 7])
            s0, s1 = int(starts[i]), int(ends[i])
            a0, a1 = max(s0, int(art_starts[i])), min(s1, int(art_ends[i]))
            b = batch[j * 2 * k : (j + 1) * 2 * k]
            b[:k, :, a0:a1] = _random_bases(a1 - a0, k, rng)
            for u0, u1 in ((s0, a0), (a1, s1)):
                if u1 > u0:
                    b[k:, :, u0:u1] = _random_bases(u1 - u0, k, rng)
        pred = predict(model, batch, **opts).reshape(len(sel), 2, k)
        eff = base[sel, None, None] - pred
        out[sel, 0:3] = mean_ci_rows(eff[:, 0], p.level)
        out[sel, 3:6] = mean_ci_rows(eff[:, 1], p.level)
    return out


def _shortcut_passes(
    model: nn.Module,
    x: RowSource,
    blocks: Callable[[], Iterator[pd.DataFrame]],
    all_rows: np.ndarray,
    groups: pd.DataFrame,
    attributed_rows: np.ndarray,
    *,
    emit: Callable[[pd.DataFrame], None],
    target: int,
    output: str,
    params: ShortcutParams,
    device: str,
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, int]]:
    """The tests over the element table given as ``blocks()`` (called twice): pass 1
    ablates and keeps, per element, only what the group and dataset tests need; pass 2
    adds the decision columns and hands each block to ``emit``."""
    p = params
    opts: dict[str, Any] = {"target": target, "output": output, "batch_size": p.batch_size,
                            "device": device}  # fmt: skip
    n_el = len(all_rows)
    base_rows, inv = np.unique(all_rows, return_inverse=True)
    base = predict(model, x, rows=base_rows, **opts) if len(base_rows) else np.zeros(0)
    g = groups.copy()
    uid = {name: j for j, name in enumerate(dict.fromkeys(g["group"]))}
    stats = np.empty((n_el, 4))  # effect, low, high, local estimate
    gcode = np.full(n_el, -1, dtype=np.int64)
    abs_score = np.empty(n_el)
    score_all = np.empty(n_el)
    starts_all = np.empty(n_el, dtype=np.int64)
    ends_all = np.empty(n_el, dtype=np.int64)
    is_art = np.zeros(n_el, dtype=bool)
    parts = np.full((n_el, 6), np.nan)
    progress = Progress("shortcuts: element ablations", n_el)
    off = 0
    for block in blocks():  # pass 1: ablation
        nb = len(block)
        rows = block["row"].to_numpy(dtype=np.int64)
        if off + nb > n_el or not np.array_equal(rows, all_rows[off : off + nb]):
            raise SeqlanternError("shortcuts: the elements table changed while being read")
        starts = block["start"].to_numpy(dtype=np.int64)
        ends = block["end"].to_numpy(dtype=np.int64)
        stats[off : off + nb] = _ablation_stats(model, x, rows, starts, ends,
                                               base[inv[off : off + nb]], first=off, p=p,
                                               opts=opts, progress=progress)  # fmt: skip
        if "artifact_start" in block.columns:
            parts[off : off + nb] = _part_stats(
                model, x, rows, starts, ends,
                block["artifact_start"].to_numpy(dtype=np.int64),
                block["artifact_end"].to_numpy(dtype=np.int64),
                base[inv[off : off + nb]], first=off, p=p, opts=opts,
            )  # fmt: skip
        gcode[off : off + nb] = block["group"].map(uid).fillna(-1).to_numpy(dtype=np.int64)
        score_all[off : off + nb] = block["score"].to_numpy(dtype=float)
        abs_score[off : off + nb] = np.abs(score_all[off : off + nb])
        starts_all[off : off + nb], ends_all[off : off + nb] = starts, ends
        is_art[off : off + nb] = block["label"].to_numpy() == "artifact"
        off += nb
    if off != n_el:
        raise SeqlanternError("shortcuts: the elements table changed while being read")

    # group effects and insertion into neutral backgrounds
    rng = np.random.default_rng(p.seed)
    pool = np.asarray(attributed_rows, dtype=np.int64)
    bg_rows = rng.choice(pool, size=min(p.backgrounds, len(pool)), replace=False)
    bgs = np.stack([shuffle_onehot(np.asarray(x[r]), rng) for r in bg_rows]) if len(
        bg_rows) else np.zeros((0, *x.shape[1:]), dtype=np.float32)  # fmt: skip
    bg_pred = predict(model, bgs, **opts) if len(bgs) else np.zeros(0)
    cols = {c: np.full(len(g), np.nan) for c in (
        "effect", "effect_low", "effect_high", "insertion_effect", "insertion_low",
        "insertion_high")}  # fmt: skip
    shortcut_group = np.zeros(len(g), dtype=bool)
    order = np.argsort(gcode, kind="stable")  # members of each group in table order
    bounds = np.searchsorted(gcode[order], np.arange(len(uid) + 1))
    for gi, name in enumerate(g["group"]):
        members = order[bounds[uid[name]] : bounds[uid[name] + 1]]
        if len(members) == 0:
            continue
        m, lo, hi = mean_ci(stats[members, 0], p.level)
        cols["effect"][gi], cols["effect_low"][gi], cols["effect_high"][gi] = m, lo, hi
        top = members[np.argsort(-abs_score[members], kind="stable")]
        top = top[: p.insert_members]
        if len(bgs):
            ins = []
            for i in top:
                xi = np.asarray(x[all_rows[i]])
                inserted = bgs.copy()
                inserted[:, :, starts_all[i] : ends_all[i]] = xi[:, starts_all[i] : ends_all[i]]
                ins.append(float(np.mean(predict(model, inserted, **opts) - bg_pred)))
            im, il, ih = mean_ci(np.array(ins), p.level)
            cols["insertion_effect"][gi], cols["insertion_low"][gi] = im, il
            cols["insertion_high"][gi] = ih
        direction = 1.0 if m >= 0 else -1.0
        shortcut_group[gi] = _excludes_zero(lo, hi, direction) and abs(m) >= p.min_effect
    for c, v in cols.items():
        g[c] = v
    g["shortcut"] = shortcut_group & (g["label"] == "artifact").to_numpy()
    g["local_effect_spearman"] = [
        _spearman(score_all[m], stats[m, 0])
        for m in (order[bounds[uid[name]] : bounds[uid[name] + 1]] for name in g["group"])
    ]

    scale = local_effect_scale(stats[:, 3], stats[:, 0])
    # pass 2: decision per element (vectorised per block)
    pos = {name: gi for gi, name in enumerate(g["group"])}  # duplicate names: the last
    g_lo = np.append(cols["effect_low"], np.nan)  # index -1 (no group): NaN / False
    g_hi = np.append(cols["effect_high"], np.nan)
    g_short = np.append(shortcut_group, False)
    counts: dict[str, int] = {}
    off = 0
    for block in blocks():
        nb = len(block)
        el = block.copy()
        st = stats[off : off + nb]
        el["effect"], el["effect_low"], el["effect_high"] = st[:, 0], st[:, 1], st[:, 2]
        el["local_estimate"] = st[:, 3]
        for j, c in enumerate(PART_COLUMNS):
            el[c] = parts[off : off + nb, j]
        _decide(el, g_lo, g_hi, g_short, el["group"].map(pos).fillna(-1).to_numpy(
            dtype=np.int64), p.min_effect)  # fmt: skip
        _locality(el, scale)
        counts["local_mismatch"] = counts.get("local_mismatch", 0) + int(el["local_mismatch"].sum())
        for d, c in el["decision"].value_counts(sort=False).items():
            counts[str(d)] = counts.get(str(d), 0) + int(c)
        counts["shortcut"] = counts.get("shortcut", 0) + int(el["shortcut"].sum())
        emit(el)
        off += nb

    # dataset level: neutralise every artifact span in the top decile of predictions
    pool_pred = predict(model, x, rows=np.sort(pool), **opts) if len(pool) else np.zeros(0)
    ds: dict[str, Any] = {"sequences": len(pool)}
    if len(pool):
        order = np.sort(pool)
        # signal = prediction above that of neutral (shuffled) backgrounds
        baseline = float(np.mean(bg_pred)) if len(bg_pred) else float(np.median(pool_pred))
        cut = np.quantile(pool_pred, 0.9)
        top_rows = order[pool_pred >= cut]
        art = np.flatnonzero(is_art)
        art_rows = set(all_rows[art].tolist())
        with_art = [r for r in top_rows if r in art_rows]
        wanted = set(with_art)
        spans_of: dict[int, list[tuple[int, int]]] = {}
        for i in art:  # in table order
            r = int(all_rows[i])
            if r in wanted:
                spans_of.setdefault(r, []).append((int(starts_all[i]), int(ends_all[i])))
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
                    for a0, a1 in spans_of[int(r)]:
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
            "artifact_elements": int(is_art.sum()),
            # decided by measurement: artifact label or split, and junctions
            "artifact_decisions": counts.get("artifact", 0) + counts.get("junction", 0),
            "shortcut_elements": counts.get("shortcut", 0),
        })  # fmt: skip
    ds["local_effect_spearman"] = _spearman(score_all, stats[:, 0])
    ds["local_effect_scale"] = scale
    ds["local_mismatch_share"] = counts.get("local_mismatch", 0) / n_el if n_el else float("nan")
    return g, ds, counts


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Rank correlation of two vectors (NaN pairs dropped; NaN with fewer than 3 pairs
    or no spread)."""
    from scipy.stats import spearmanr

    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.ptp(a[ok]) == 0 or np.ptp(b[ok]) == 0:
        return float("nan")
    return float(spearmanr(a[ok], b[ok]).statistic)


def local_effect(
    local: np.ndarray,
    effect: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    scale: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(ratio, mismatch)`` of first-order estimates against measured effects (module).

    An element is flagged only when both hold: its effect's interval excludes ``scale``
    x its local estimate (evidence) and effect / estimate is, relative to ``scale``,
    outside [1/f, f] with f = :data:`NONLOCAL_FOLD` or negative (size). Elements without
    an interval are not flagged.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(local != 0, effect / local, np.nan)
    s = scale if np.isfinite(scale) and scale > 0 else 1.0
    expect = s * local
    outside = (expect < low) | (expect > high)
    rel = ratio / s
    far = (rel < 1.0 / NONLOCAL_FOLD) | (rel > NONLOCAL_FOLD) | (np.sign(effect) !=
                                                                 np.sign(local))  # fmt: skip
    # float32 predictions: differences below 1e-4 of the values are rounding, not a finding
    real = np.abs(effect - expect) > 1e-4 * np.maximum(1.0, np.maximum(np.abs(effect),
                                                                       np.abs(expect)))  # fmt: skip
    flag = outside & far & real & np.isfinite(low) & np.isfinite(high)
    return ratio, flag


def local_effect_scale(local: np.ndarray, effect: np.ndarray) -> float:
    """Median effect / local estimate over the elements with a non-zero estimate."""
    ok = np.isfinite(local) & np.isfinite(effect) & (np.abs(local) > 1e-12)
    return float(np.median(effect[ok] / local[ok])) if ok.any() else float("nan")


def _locality(el: pd.DataFrame, scale: float) -> None:
    """Add ``local_effect_ratio`` and ``local_mismatch`` to a block; say so in the reason."""
    ratio, flag = local_effect(el["local_estimate"].to_numpy(dtype=float),
                               el["effect"].to_numpy(dtype=float),
                               el["effect_low"].to_numpy(dtype=float),
                               el["effect_high"].to_numpy(dtype=float), scale)  # fmt: skip
    el["local_effect_ratio"] = ratio
    el["local_mismatch"] = flag
    if flag.any():
        reason = el["decision_reason"].to_numpy().astype(object)
        reason[flag] = reason[flag] + np.array(
            [f"; the map misleads here (effect {e:.3g}, gradient predicts {v:.3g}, "
             f"{scale:.2g} x that expected)"
             for e, v in zip(el["effect"].to_numpy()[flag],
                             el["local_estimate"].to_numpy()[flag], strict=True)],
            dtype=object)  # fmt: skip
        el["decision_reason"] = reason


PART_COLUMNS = ["artifact_part_effect", "artifact_part_low", "artifact_part_high",
                "insert_part_effect", "insert_part_low", "insert_part_high"]  # fmt: skip


def _decide(
    el: pd.DataFrame,
    g_lo: np.ndarray,
    g_hi: np.ndarray,
    g_short: np.ndarray,
    gidx: np.ndarray,
    min_effect: float,
) -> None:
    """Add ``decision``, ``shortcut`` and ``decision_reason`` to a block of elements with
    effect columns (``gidx``: each element's group in the ``g_*`` arrays, -1 for none)."""
    sign = np.where(el["sign"].to_numpy() == "+", 1.0, -1.0)

    def signed(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        return np.where(sign > 0, lo > 0, hi < 0)

    lab = el["label"].to_numpy()
    own = signed(el["effect_low"].to_numpy(dtype=float), el["effect_high"].to_numpy(dtype=float))
    grp_ok = signed(g_lo[gidx], g_hi[gidx])
    big = np.abs(el["effect"].to_numpy(dtype=float)) >= min_effect
    is_art = lab == "artifact"
    is_motif = lab == "motif"
    shortcut = is_art & ((own & big) | g_short[gidx])
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
    decision = decision.astype(object)
    # junctions (the element overlaps an artifact span in part): the measured split decides
    if "artifact_part_effect" in el.columns:
        a_ok = signed(el["artifact_part_low"].to_numpy(dtype=float),
                      el["artifact_part_high"].to_numpy(dtype=float))  # fmt: skip
        i_ok = signed(el["insert_part_low"].to_numpy(dtype=float),
                      el["insert_part_high"].to_numpy(dtype=float))  # fmt: skip
        a_big = np.abs(el["artifact_part_effect"].to_numpy(dtype=float)) >= min_effect
        ins_lab = (el["insert_label"].to_numpy() if "insert_label" in el.columns
                   else np.where(is_art, "unexplained", lab))  # fmt: skip
        kind = el["artifact_kind"].astype(object).fillna("NA").astype(str).to_numpy().astype(object)
        both = a_ok & i_ok
        only_a = a_ok & ~i_ok
        only_i = i_ok & ~a_ok
        decision[both] = "junction"
        reason[both] = "junction: " + kind[both] + " part and insert part both carry the effect"
        decision[only_a] = "artifact"
        reason[only_a] = kind[only_a] + " part carries the effect; insert part none (shortcut)"
        ins_motif = only_i & (ins_lab == "motif")
        decision[ins_motif] = "plausible"
        reason[ins_motif] = "motif match; insert part carries the effect, " + kind[
            ins_motif] + " part none"  # fmt: skip
        ins_other = only_i & (ins_lab != "motif")
        decision[ins_other] = "unexplained"
        reason[ins_other] = "insert part carries the effect, " + kind[ins_other] + " part none"
        split = a_ok | i_ok
        shortcut = np.where(split, a_ok & a_big, shortcut)
    el["decision"] = decision
    el["shortcut"], el["decision_reason"] = shortcut, reason


SOURCE_COLUMNS = ["name", "anchor", "start", "end", "length", "sequence", "share", "coverage",
                  "sequences", "ablation_effect", "ablation_low", "ablation_high",
                  "insertion_effect", "insertion_low", "insertion_high",
                  "ablation_in_sd", "relied_on"]  # fmt: skip


def constant_reliance(
    model: nn.Module,
    x: RowSource,
    index: pd.DataFrame,
    regions: list,
    attributed_rows: np.ndarray,
    *,
    target: int,
    output: str = "logit",
    params: ShortcutParams | None = None,
    device: str = "cpu",
    max_sequences: int = 200,
) -> pd.DataFrame:
    """Does the model rely on each constant region of the library, element or not?

    A constant flank is in every input, so seqlets on it are rare (the calls are
    calibrated against shuffles that keep it at the same place only by chance) and the
    elements table alone can hide it. Two measurements per region:

    - **ablation**: in up to ``max_sequences`` attributed sequences (seeded choice), the
      region is replaced by uniform random bases (``shuffles`` draws); effect =
      prediction drop, 95% t-interval over sequences;
    - **insertion**: the region's sequence written at its own place into ``backgrounds``
      neutral sequences (dinucleotide shuffles of attributed sequences, which scatter the
      flank); effect = prediction gain, 95% t-interval over backgrounds.

    ``ablation_in_sd`` is the ablation effect in standard deviations of the attributed
    sequences' predictions (its size next to what the model spreads its predictions
    over); ``relied_on`` is True when either interval excludes 0. A region every input
    carries cannot rank one input above another, but a model that relies on it spends
    attribution on it, and its effect on inputs built without it is untested.

    Parameters
    ----------
    index
        ``index.tsv`` of the encoded library (record offsets and lengths).
    regions
        :class:`seqlantern.constant.ConstantRegion` list (``find-constant``).
    attributed_rows
        Rows of ``x`` that were attributed.
    """
    p = params or ShortcutParams()
    opts: dict[str, Any] = {"target": target, "output": output, "batch_size": p.batch_size,
                            "device": device}  # fmt: skip
    length = x.shape[2]
    from seqlantern.annotate import record_positions

    offs, lens = record_positions(index, length)  # genome windows: window coordinates
    rng = np.random.default_rng([p.seed, 3])
    pool = np.unique(np.asarray(attributed_rows, dtype=np.int64))
    rows = np.sort(rng.choice(pool, size=min(max_sequences, len(pool)), replace=False))
    bg_rows = rng.choice(pool, size=min(p.backgrounds, len(pool)), replace=False)
    xs = np.asarray(x[rows], dtype=np.float32) if len(rows) else np.zeros((0, 4, length))
    bgs = (np.stack([shuffle_onehot(np.asarray(x[r]), rng) for r in bg_rows]).astype(
        np.float32) if len(bg_rows) else np.zeros((0, 4, length), dtype=np.float32))  # fmt: skip
    base = predict(model, xs, **opts) if len(xs) else np.zeros(0)
    bg_pred = predict(model, bgs, **opts) if len(bgs) else np.zeros(0)
    k = max(p.shuffles, 1)
    sd = float(np.std(base)) if len(base) > 1 else 0.0

    def span(reg: Any, row: int) -> tuple[int, int]:
        ra, rb = reg.record_span(int(lens[row]))
        return max(ra - int(offs[row]), 0), min(rb - int(offs[row]), length)

    out = []
    for reg in regions:
        consensus = one_hot(reg.sequence).astype(np.float32)  # (4, region length)
        abl = np.full(len(rows), np.nan)
        for j, r in enumerate(rows):
            a0, a1 = span(reg, int(r))
            if a1 <= a0:
                continue
            batch = np.repeat(xs[j : j + 1], k, axis=0)
            batch[:, :, a0:a1] = _random_bases(a1 - a0, k, rng)
            abl[j] = base[j] - float(np.mean(predict(model, batch, **opts)))
        ins = np.full(len(bgs), np.nan)
        for j, r in enumerate(bg_rows):
            a0, a1 = span(reg, int(r))
            if a1 <= a0:
                continue
            ra, _ = reg.record_span(int(lens[int(r)]))
            skip = max(int(offs[int(r)]) - ra, 0)  # region bases before the window
            xi = bgs[j].copy()
            xi[:, a0:a1] = consensus[:, skip : skip + a1 - a0]
            ins[j] = float(predict(model, xi[None], **opts)[0]) - bg_pred[j]
        am, al, ah = mean_ci(abl, p.level)
        im, il, ih = mean_ci(ins, p.level)
        relied = bool((al > 0 or ah < 0) or (il > 0 or ih < 0))
        out.append([reg.name, reg.anchor, reg.start, reg.end, reg.end - reg.start,
                    reg.sequence, reg.share, reg.coverage, int(np.isfinite(abl).sum()),
                    am, al, ah, im, il, ih, am / sd if sd > 0 else float("nan"),
                    relied])  # fmt: skip
    return pd.DataFrame(out, columns=SOURCE_COLUMNS)
