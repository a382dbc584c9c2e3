"""Training with a seeded split, early stopping, test metrics and a learning curve."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from scipy import stats
from torch import nn

from seqlantern.baseline import BaselineFit, fit_baseline_model, predict_baseline
from seqlantern.baseline import describe as describe_baseline
from seqlantern.encode import read_index
from seqlantern.io import RowSource, SeqlanternError, atomic_outputs, load_npy, read_tsv, write_tsv
from seqlantern.models import TRAIN_CNN_OPTIONS, Blend, KmerLinear, build_model, save_checkpoint

LR_SCHEDULES = ("plateau", "none")
REFERENCE_SEQUENCES = 16_000


def step_scale(n_train: int, batch_size: int) -> float:
    """How many epochs of ``n_train`` sequences make one epoch of the reference size.

    Why: early stopping waits ``patience`` epochs, but what it waits for is optimizer
    steps. An epoch of 2,000 sequences is 16 steps, one of 16,000 is 125: with the same
    patience in epochs, a small library is stopped after an eighth of the updates, in the
    flat stretch its loss often shows first (the DeepSTARR sample stopped at epoch 16 with
    test Pearson < 0.1). Counting ``epochs`` and ``patience`` in passes of at least
    :data:`REFERENCE_SEQUENCES` sequences gives every library the same step budget; large
    libraries (>= 16,000 training sequences) are unchanged.
    """
    steps = max(1, math.ceil(n_train / batch_size))
    reference = math.ceil(REFERENCE_SEQUENCES / batch_size)
    return max(1.0, reference / steps)


def read_targets(
    path: str | Path,
    names: pd.Series,
    columns: list[str],
    *,
    name_column: str = "name",
    task: str = "regression",
) -> np.ndarray:
    """Read target columns for the encoded sequences, in index order.

    Every encoded sequence needs a numeric value in every chosen column (binary tasks: 0
    or 1); anything else is an error naming the file and line, never a silent drop.

    Returns
    -------
    float32 array (N, len(columns)).
    """
    df = read_tsv(path, what="targets")
    with open(path) as fh:  # pandas renames repeated columns (activity.1): check the header
        header = fh.readline().rstrip("\r\n").split("\t")
    twice = sorted({c for c in header if header.count(c) > 1})
    if twice:
        raise SeqlanternError(
            f"{path}: line 1: column {twice[0]!r} appears more than once; which one is the "
            "target is ambiguous: rename or drop the copies"
        )
    if name_column not in df.columns:
        raise SeqlanternError(
            f"{path}: no {name_column!r} column (columns: {list(df.columns)}); set data.name_column"
        )
    for c in columns:
        if c not in df.columns:
            raise SeqlanternError(
                f"{path}: unknown target column {c!r}; available: "
                f"{[x for x in df.columns if x != name_column]}"
            )
    dup = df[name_column].duplicated()
    if dup.any():
        line = int(np.flatnonzero(dup.to_numpy())[0]) + 2
        raise SeqlanternError(
            f"{path}: line {line}: duplicate name {df[name_column][dup].iloc[0]!r}"
        )
    pos = pd.Series(np.arange(len(df)), index=df[name_column])
    missing = ~names.isin(pos.index)
    if missing.any():
        raise SeqlanternError(
            f"{path}: sequence {names[missing].iloc[0]!r} has no target "
            f"({int(missing.sum())} sequences missing); add rows for them or drop them from "
            "the FASTA"
        )
    rows = pos.loc[names.to_numpy()].to_numpy()
    out = np.empty((len(names), len(columns)), dtype=np.float32)
    for j, c in enumerate(columns):
        vals = pd.to_numeric(df[c], errors="coerce").to_numpy(dtype=float)
        bad = np.flatnonzero(~np.isfinite(vals[rows]))
        if bad.size:
            r = rows[bad[0]]
            raise SeqlanternError(
                f"{path}: line {r + 2}: target {c!r} is {df[c].iloc[r]!r}, not a number"
            )
        if task == "binary":
            notbin = np.flatnonzero(~np.isin(vals[rows], (0.0, 1.0)))
            if notbin.size:
                r = rows[notbin[0]]
                raise SeqlanternError(
                    f"{path}: line {r + 2}: binary target {c!r} is {df[c].iloc[r]!r}; use 0/1"
                )
        if len(rows) > 1 and np.ptp(vals[rows]) == 0:
            raise SeqlanternError(
                f"{path}: target {c!r} is {vals[rows[0]]:g} for every sequence: there is "
                "nothing to learn; check the column"
            )
        out[:, j] = vals[rows]
    return out


def auroc(y: np.ndarray, s: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties averaged)."""
    pos = y == 1
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = stats.rankdata(s)
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def auprc(y: np.ndarray, s: np.ndarray) -> float:
    """Average precision (area under the precision-recall curve, step interpolation)."""
    order = np.argsort(-s, kind="stable")
    yy = y[order]
    if yy.sum() == 0:
        return float("nan")
    tp = np.cumsum(yy)
    precision = tp / np.arange(1, len(yy) + 1)
    return float((precision * yy).sum() / yy.sum())


def metrics_table(y: np.ndarray, pred: np.ndarray, targets: list[str], task: str) -> pd.DataFrame:
    """Per-target test metrics: Pearson/Spearman (regression) or AUROC/AUPRC (binary)."""
    rows = []
    for j, t in enumerate(targets):
        if task == "binary":
            rows.append({"target": t, "n": len(y), "auroc": auroc(y[:, j], pred[:, j]),
                         "auprc": auprc(y[:, j], pred[:, j])})  # fmt: skip
        else:
            ok = len(y) > 2 and np.std(pred[:, j]) > 0
            rows.append({
                "target": t, "n": len(y),
                "pearson": float(stats.pearsonr(y[:, j], pred[:, j])[0]) if ok else float("nan"),
                "spearman": float(stats.spearmanr(y[:, j], pred[:, j])[0]) if ok else float("nan"),
                "mse": float(np.mean((y[:, j] - pred[:, j]) ** 2)),
            })  # fmt: skip
    return pd.DataFrame(rows)


def predict(
    model: nn.Module,
    x: RowSource,
    rows: np.ndarray,
    *,
    batch_size: int = 256,
    device: str = "cpu",
) -> np.ndarray:
    """Predict (raw outputs) for ``x[rows]`` in batches."""
    model.eval()
    outs = []
    with torch.no_grad():
        for i in range(0, len(rows), batch_size):
            xb = torch.from_numpy(np.asarray(x[np.sort(rows[i : i + batch_size])]))
            outs.append(model(xb.to(device)).float().cpu().numpy().copy())  # no view kept
    if not outs:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(outs)


def resolve_device(device: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; an explicit cuda without one errors."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SeqlanternError("device: cuda was requested but no CUDA device is available")
    return device


def train(
    onehot: str | Path,
    index: str | Path,
    targets_tsv: str | Path,
    out_json: str | Path,
    metrics_tsv: str | Path,
    curve_png: str | Path,
    *,
    columns: list[str],
    task: str = "regression",
    name_column: str = "name",
    architecture: str = "cnn",
    model_kwargs: dict[str, Any] | None = None,
    epochs: int = 50,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    weight_decay: float = 1e-6,
    patience: int = 8,
    seed: int = 0,
    device: str = "auto",
    max_minutes: float | None = None,
    augment_rc: bool = True,
    lr_schedule: str = "plateau",
    ensemble: int = 1,
    baseline: bool = True,
    equal_steps: bool = True,
    kmer_fallback: bool = True,
    penalty_spans: pd.DataFrame | None = None,
    penalty_weight: float = 0.0,
    penalty_onehot: str | Path | None = None,
    salient_mask: dict[str, Any] | None = None,
    consistency: dict[str, Any] | None = None,
    feedback_bed: str | Path | None = None,
    feedback_weight_irrelevant: float = 10.0,
    feedback_weight_relevant: float = 1.0,
) -> pd.DataFrame:
    """Train a model on the train split, early-stop on valid, report on test.

    Parameters
    ----------
    onehot, index
        Outputs of the encode stage.
    targets_tsv
        Targets table with a name column and one column per target.
    out_json
        Checkpoint JSON; weights go beside it as ``.safetensors``.
    metrics_tsv, curve_png
        Test metrics table and learning-curve figure.
    columns
        Target columns, by name.
    task
        ``regression`` (MSE) or ``binary`` (BCE on logits).
    name_column
        Name column of the targets table.
    architecture, model_kwargs
        Registered architecture and its options; for ``cnn`` they are added to
        :data:`seqlantern.models.TRAIN_CNN_OPTIONS`.
    epochs, batch_size, learning_rate, weight_decay, patience
        Optimisation (Adam); training stops after ``patience`` epochs without a better
        validation loss and the best weights are kept. On fewer than 16,000 training
        sequences both count passes of 16,000 sequences (:func:`step_scale`).
    seed
        Seeds weights, shuffling and dropout.
    device
        ``auto``, ``cpu`` or ``cuda``.
    max_minutes
        Optional wall-clock budget; training stops (keeping the best weights) when reached.
        Off by default: a wall-clock cap makes the model depend on machine load, so the
        same seed would give different outputs; when it stops a run, ``metrics.tsv``
        (``stopped``), the checkpoint and the report say so.
    lr_schedule
        ``plateau`` (halve the learning rate after ``patience // 2`` epochs without a
        better validation loss) or ``none``.
    ensemble
        Train this many models from seeds ``seed, seed + 1, …`` on the same split and save
        their mean (:class:`seqlantern.models.Ensemble`); predictions and attributions are
        then averaged over the members.
    equal_steps
        Count ``epochs`` and ``patience`` in passes of at least 16,000 sequences
        (:func:`step_scale`); ``False`` takes them literally.
    baseline
        Also fit the k-mer baseline (:mod:`seqlantern.baseline`) on the same split; its
        rows follow the CNN's in ``metrics.tsv`` (column ``model``).
    kmer_fallback
        Regression with ``baseline``: for every target where the k-mer baseline predicts
        the validation split better (Pearson) than the network, ship
        :class:`seqlantern.models.Blend` (``a * kmer + b * network + c``, least squares on
        the validation rows) instead of the network alone. ``metrics.tsv`` then has the
        shipped model's rows first (``cnn+kmer_ridge_1-6``), the network alone as
        ``network_only:cnn`` and the baseline (rows of blended targets only). Not when
        an attribution penalty applies to the training inputs themselves: the k-mer part
        is not held to it and would bring back what the penalty removed (with
        ``penalty_onehot`` the inputs are neutralised, so the baseline never sees the
        artifact and the blend is allowed). Why:
        a model below the baseline is not worth attributing; the blend is at least as good
        on the data it was chosen on, and its maps show both the network's evidence and
        the k-mer weights.
    augment_rc
        Show each training sequence as itself or its reverse complement at random. A site
        works on either strand, so this doubles the evidence for every motif filter and
        makes maps more strand-consistent; on a few thousand real sequences it is worth
        0.04-0.2 test Pearson (benchmarks/training.py). Turn it off (and the CNN's
        ``rc_average``) for strand-specific assays (e.g. RNA-level readouts).
    penalty_spans, penalty_weight
        "Right for the right reasons" (Ross et al. 2017): spans (``row start end``) where
        the model must not look, e.g. the artifact spans of
        :func:`seqlantern.debias.find_artifact_spans`. The training loss gets
        ``penalty_weight`` x the mean squared mean-corrected input gradient (the
        hypothetical contributions of all four bases) at those positions, so the model
        learns predictions that do not depend on them; it costs a second backward pass.
    penalty_onehot
        Inputs the penalty is computed on, when they differ from the training inputs:
        with artifact spans neutralised in ``onehot`` and the original library here, the
        prediction loss cannot learn the artifact (it is gone from the inputs) and the
        penalty teaches insensitivity to it (it is present where the gradient is taken),
        only on the rows that carry a span.

    Returns
    -------
    The test metrics.
    """
    if task not in ("regression", "binary"):
        raise SeqlanternError(f"task {task!r} must be regression or binary")
    if epochs < 1 or patience < 1 or ensemble < 1 or batch_size < 1:
        raise SeqlanternError(
            "train: epochs, patience, ensemble and batch_size must be >= 1 "
            f"(got {epochs}, {patience}, {ensemble}, {batch_size})"
        )
    if lr_schedule not in LR_SCHEDULES:
        raise SeqlanternError(f"train.lr_schedule {lr_schedule!r}: one of {LR_SCHEDULES}")
    dev = resolve_device(device)
    torch.manual_seed(seed)
    idx = read_index(index)
    x = load_npy(onehot, what="one-hot")
    y = read_targets(targets_tsv, idx["name"], columns, name_column=name_column, task=task)
    split = idx["split"].to_numpy()
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "valid", "test"))
    if len(tr) < 10 or len(va) < 2:
        raise SeqlanternError(
            f"{index}: too few sequences to train ({len(tr)} train, {len(va)} valid); "
            "provide more data or load a trained model with model.checkpoint"
        )
    length = int(x.shape[2])
    defaults = TRAIN_CNN_OPTIONS if architecture == "cnn" else {}
    kwargs = {"n_targets": len(columns), "length": length, **defaults, **(model_kwargs or {})}
    build_model(architecture, **kwargs)  # option errors before any work
    mean = y[tr].mean(axis=0) if task == "regression" else np.zeros(len(columns))
    std = y[tr].std(axis=0) + 1e-8 if task == "regression" else np.ones(len(columns))
    ytrain = (y - mean) / std
    xp = load_npy(penalty_onehot, what="penalty one-hot") if penalty_onehot else None
    if xp is not None and xp.shape != x.shape:
        raise SeqlanternError(f"{penalty_onehot}: shape {xp.shape} differs from {onehot} "
                              f"{x.shape}")  # fmt: skip
    masks: dict[int, np.ndarray] = {}
    if penalty_spans is not None and penalty_weight > 0:
        for r, g in penalty_spans.groupby("row"):
            m = np.zeros(length, dtype=np.float32)
            for a, b in zip(g["start"], g["end"], strict=True):
                m[int(a) : int(b)] = 1.0
            masks[int(r)] = m
    guide = _Guide.build(salient_mask, consistency, feedback_bed, idx, length,
                         feedback_weight_irrelevant, feedback_weight_relevant)  # fmt: skip
    fit = _Fit(x=x, y=ytrain, xp=xp, masks=masks, length=length, task=task, device=dev,
               batch_size=batch_size, augment_rc=augment_rc,
               penalty_weight=penalty_weight, guide=guide)  # fmt: skip
    scale = step_scale(len(tr), batch_size) if equal_steps else 1.0
    run_epochs, run_patience = math.ceil(epochs * scale), math.ceil(patience * scale)
    if scale > 1:
        print(f"[train] {len(tr)} training sequences: epochs and patience counted in passes "
              f"of {REFERENCE_SEQUENCES} sequences (x{scale:.2f}: at most {run_epochs} "
              f"epochs, patience {run_patience})", flush=True)  # fmt: skip
    t0 = time.time()
    members, history, stops = [], [], []
    for k in range(ensemble):
        member_seed = seed + k
        torch.manual_seed(member_seed)
        model: Any = build_model(architecture, **kwargs).to(dev)
        if not hasattr(model, "standardised"):
            raise SeqlanternError(f"architecture {architecture!r} cannot be trained here")
        tag = f"[train] member {k + 1}/{ensemble}" if ensemble > 1 else "[train]"

        def log(msg: str, tag: str = tag) -> None:
            print(f"{tag} {msg}", flush=True)

        state, hist, stop = fit.run(
            model, tr, va, epochs=run_epochs, patience=run_patience, learning_rate=learning_rate,
            weight_decay=weight_decay, lr_schedule=lr_schedule, seed=member_seed,
            deadline=None if max_minutes is None else t0 + 60 * max_minutes, log=log,
        )  # fmt: skip
        model.load_state_dict(state)
        if task == "regression":
            model.output_scale.copy_(torch.as_tensor(std, dtype=torch.float32))
            model.output_shift.copy_(torch.as_tensor(mean, dtype=torch.float32))
        members.append(model.cpu().eval())
        history += [{"member": k, **h} for h in hist]
        stops.append(stop)
    final: Any
    if ensemble > 1:
        final = build_model("ensemble", n_targets=len(columns), members=ensemble,
                            base=architecture,
                            **{k: v for k, v in kwargs.items() if k != "n_targets"})  # fmt: skip
        for slot, trained in zip(final.members, members, strict=True):
            slot.load_state_dict(trained.state_dict())
        meta_arch, meta_kwargs = (
            "ensemble",
            {**kwargs, "members": ensemble, "base": architecture},
        )
    else:
        final, meta_arch, meta_kwargs = members[0], architecture, kwargs
    final = final.cpu().eval()
    eval_rows = te if len(te) else va
    eval_split = "test" if len(te) else "valid"
    pred = predict(final, x, eval_rows)
    if task == "binary":
        pred = 1 / (1 + np.exp(-pred))
    ysel = y[np.sort(eval_rows)]
    stopped = ";".join(sorted(set(stops)))
    metrics = metrics_table(ysel, pred, columns, task)
    metrics.insert(0, "split", eval_split)
    metrics.insert(0, "model", "cnn" if ensemble == 1 else f"cnn_ensemble_{ensemble}")
    metrics["epochs"] = int(max(h["epoch"] for h in history))
    metrics["stopped"] = stopped
    blend_info: dict[str, Any] = {}
    if baseline:
        print("[train] k-mer baseline on the same split", flush=True)
        bfit = fit_baseline_model(x, y, tr, va, task=task, seed=seed)
        bpred = predict_baseline(bfit, x, eval_rows)
        bm = metrics_table(ysel, bpred, columns, task)
        bm.insert(0, "split", eval_split)
        bm.insert(0, "model", describe_baseline(task=task))
        bm["epochs"] = 0
        bm["stopped"] = ""
        # with a penalty on the training inputs themselves the baseline sees the artifact
        # and is not held to the penalty; with neutralised inputs (penalty_onehot) it is not
        penalised_originals = bool(masks) and penalty_weight > 0 and xp is None
        if kmer_fallback and task == "regression" and not penalised_originals:
            mixed = _blend_with_baseline(final, bfit, x, y, va, columns)
            if mixed is not None:
                final, blend_info = mixed
                network_row = metrics["model"].iloc[0]
                blend_name = f"{network_row}+{describe_baseline(task=task)}"
                bl = metrics_table(ysel, predict(final, x, eval_rows), columns, task)
                bl.insert(0, "split", eval_split)
                bl.insert(0, "model", network_row)
                bl["epochs"] = metrics["epochs"].iloc[0]
                bl["stopped"] = stopped
                metrics = blend_metric_rows(metrics, bl, set(blend_info), blend_name)
                meta_kwargs = {**meta_kwargs, "network": meta_arch, "ks": list(bfit.ks)}
                meta_arch = "blend"
        metrics = pd.concat([metrics, bm], ignore_index=True)
    for line in metrics.to_string(index=False).splitlines():
        print(f"[train] {line}", flush=True)
    meta = {"architecture": meta_arch, "kwargs": meta_kwargs, "targets": columns, "task": task,
            "length": length, "seed": seed, "epochs_run": len(history), "stopped": stopped,
            "best_valid_loss": min(h["valid_loss"] for h in history)}  # fmt: skip
    if blend_info:
        meta["blend"] = blend_info
    if guide is not None:  # only when asked for: plain checkpoints stay as they were
        meta["guidance"] = guide.describe()
    save_checkpoint(final, meta, out_json)
    write_tsv(metrics, metrics_tsv)
    hist_df = pd.DataFrame(history)
    if ensemble == 1:
        hist_df = hist_df.drop(columns="member")
    write_tsv(hist_df, Path(metrics_tsv).with_name("history.tsv"))
    _plot_curve(hist_df, curve_png)
    return metrics


def blend_metric_rows(
    network: pd.DataFrame, shipped: pd.DataFrame, blended: set[str], blend_name: str
) -> pd.DataFrame:
    """``metrics.tsv`` rows of a run whose model is a :class:`Blend`.

    ``shipped`` (the blend's metrics, one row per target) comes first, named
    ``blend_name`` for the blended targets; a target the blend leaves to the network
    keeps the network's name, since its predictions are the network's. Then the network
    alone (``network_only:<name>``), for the blended targets only.
    """
    shipped = shipped.copy()
    is_blend = shipped["target"].astype(str).isin(blended).to_numpy()
    shipped["model"] = np.where(is_blend, blend_name, shipped["model"].astype(str))
    alone = network[network["target"].astype(str).isin(blended)]
    alone = alone.assign(model="network_only:" + alone["model"].astype(str))
    return pd.concat([shipped, alone], ignore_index=True)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _blend_with_baseline(
    network: nn.Module,
    fit: BaselineFit,
    x: RowSource,
    y: np.ndarray,
    valid_rows: np.ndarray,
    columns: list[str],
) -> tuple[nn.Module, dict[str, Any]] | None:
    """:class:`Blend` of ``network`` and the baseline when the baseline wins on validation.

    Per target, when the baseline's validation Pearson exceeds the network's, the weights
    ``(a, b, c)`` of ``a * kmer + b * network + c`` are the least-squares fit on the
    validation rows; other targets keep the network (``0, 1, 0``). Returns None when no
    target needs the baseline.
    """
    va = np.sort(valid_rows)
    yv = y[va]
    pn = predict(network, x, va).astype(np.float64)
    pk = predict_baseline(fit, x, va).astype(np.float64)
    weights = np.tile(np.array([0.0, 1.0, 0.0]), (len(columns), 1))
    info: dict[str, Any] = {}
    for t, col in enumerate(columns):
        rn, rk = _pearson(pn[:, t], yv[:, t]), _pearson(pk[:, t], yv[:, t])
        if not (np.isfinite(rk) and (not np.isfinite(rn) or rk > rn)):
            continue
        design = np.column_stack([pk[:, t], pn[:, t], np.ones(len(va))])
        w, *_ = np.linalg.lstsq(design, yv[:, t], rcond=None)
        weights[t] = w
        info[col] = {"valid_pearson_network": round(rn, 4), "valid_pearson_kmer": round(rk, 4),
                     "kmer_weight": float(w[0]), "network_weight": float(w[1]),
                     "offset": float(w[2])}  # fmt: skip
        print(f"[train] {col}: the k-mer baseline beats the network on the validation split "
              f"(Pearson {rk:.3f} vs {rn:.3f}); the model blends them: {w[0]:.3f} x k-mer + "
              f"{w[1]:.3f} x network + {w[2]:.3f}", flush=True)  # fmt: skip
    if not info:
        return None
    blend = Blend(len(columns), network=network, ks=fit.ks)
    blend.kmer.load_state_dict(KmerLinear.from_fit(fit).state_dict())
    for name, j in (("kmer_weight", 0), ("network_weight", 1), ("offset", 2)):
        getattr(blend, name).copy_(torch.as_tensor(weights[:, j], dtype=torch.float32))
    return blend.eval(), info


@dataclass
class _Guide:
    """Training with attributions (:mod:`seqlantern.guidance`): the options in force."""

    mask_probability: float = 0.0
    mask_span: int = 10
    mask_fill: str = "shuffle"
    mask_mode: str = "salient"
    consistency_weight: float = 0.0
    transforms: tuple[str, ...] = ()
    feedback: Any = None
    weight_irrelevant: float = 0.0
    weight_relevant: float = 0.0

    @classmethod
    def build(cls, salient_mask: dict[str, Any] | None, consistency: dict[str, Any] | None,
              feedback_bed: str | Path | None, index: pd.DataFrame, length: int,
              weight_irrelevant: float, weight_relevant: float) -> _Guide | None:  # fmt: skip
        """The guide, or None when every option is off (plain training, untouched)."""
        from seqlantern.guidance import read_feedback

        g = cls()
        if salient_mask and float(salient_mask.get("probability", 0)) > 0:
            g.mask_probability = float(salient_mask["probability"])
            g.mask_span = int(salient_mask.get("span", 10))
            g.mask_fill = str(salient_mask.get("fill", "shuffle"))
            g.mask_mode = str(salient_mask.get("mode", "salient"))
            if g.mask_fill not in ("shuffle", "zeros") or g.mask_mode not in ("salient", "random"):
                raise SeqlanternError("train.augment.salient_mask: fill shuffle|zeros, mode "
                                      "salient|random")  # fmt: skip
        if consistency and float(consistency.get("weight", 0)) > 0:
            g.consistency_weight = float(consistency["weight"])
            g.transforms = tuple(consistency.get("transforms") or ("rc",))
        if feedback_bed:
            g.feedback = read_feedback(feedback_bed, index, length)
            g.weight_irrelevant, g.weight_relevant = weight_irrelevant, weight_relevant
        active = g.mask_probability > 0 or g.consistency_weight > 0 or g.feedback is not None
        return g if active else None

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.mask_probability > 0:
            out["salient_mask"] = {"probability": self.mask_probability, "span": self.mask_span,
                                   "fill": self.mask_fill, "mode": self.mask_mode}  # fmt: skip
        if self.consistency_weight > 0:
            out["consistency"] = {"weight": self.consistency_weight,
                                  "transforms": list(self.transforms)}  # fmt: skip
        if self.feedback is not None:
            out["feedback"] = {"irrelevant_sequences": len(self.feedback.irrelevant),
                               "relevant_sequences": len(self.feedback.relevant),
                               "weight_irrelevant": self.weight_irrelevant,
                               "weight_relevant": self.weight_relevant}  # fmt: skip
        return out

    def mask(self, f: Any, xb: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
        """The batch with each sequence's most salient (or a random) span filled, with
        probability ``mask_probability`` per batch."""
        from seqlantern.guidance import input_gradient, mask_spans, random_spans, salient_spans

        if self.mask_probability <= 0 or rng.random() >= self.mask_probability:
            return xb
        if self.mask_mode == "random":
            starts = random_spans(len(xb), xb.shape[2], self.mask_span, rng)
        else:
            with torch.enable_grad():
                attr = input_gradient(f, xb, create_graph=False) * xb
            starts = salient_spans(attr.detach(), self.mask_span)
        return mask_spans(xb, starts, self.mask_span, fill=self.mask_fill, rng=rng)

    def penalty(self, f: Any, xb: torch.Tensor, rows: np.ndarray, flip: np.ndarray,
                rng: np.random.Generator) -> torch.Tensor:  # fmt: skip
        """Consistency and feedback terms of one training batch."""
        from seqlantern.guidance import consistency_penalty, feedback_penalty, input_gradient

        total = xb.new_zeros(())
        if self.consistency_weight > 0:
            total = total + self.consistency_weight * consistency_penalty(
                f, xb, list(self.transforms), rng=rng)  # fmt: skip
        if self.feedback is not None:
            irr, rel = self.feedback.batch(rows, xb.shape[2])
            if irr.any() or rel.any():
                irr = np.where(flip[:, None], irr[:, ::-1], irr)
                rel = np.where(flip[:, None], rel[:, ::-1], rel)
                g = input_gradient(f, xb, create_graph=True)
                total = total + feedback_penalty(
                    g, xb, torch.from_numpy(np.ascontiguousarray(irr)).to(xb.device),
                    torch.from_numpy(np.ascontiguousarray(rel)).to(xb.device),
                    weight_irrelevant=self.weight_irrelevant,
                    weight_relevant=self.weight_relevant)  # fmt: skip
        return total


@dataclass
class _Fit:
    """Everything one member's optimisation needs besides its model and seed."""

    x: RowSource
    y: np.ndarray
    xp: RowSource | None
    masks: dict[int, np.ndarray]
    length: int
    task: str
    device: str
    batch_size: int
    augment_rc: bool
    penalty_weight: float
    guide: _Guide | None = None

    def run(
        self,
        model: Any,
        tr: np.ndarray,
        va: np.ndarray,
        *,
        epochs: int,
        patience: int,
        learning_rate: float,
        weight_decay: float,
        lr_schedule: str,
        seed: int,
        deadline: float | None,
        log: Callable[[str], None],
    ) -> tuple[dict[str, torch.Tensor], list[dict[str, Any]], str]:
        """Adam on ``tr`` with early stopping on ``va``; the best epoch's weights.

        With ``lr_schedule="plateau"`` the learning rate is halved after
        ``max(1, patience // 2)`` epochs without a better validation loss, so that the
        small, noisy validation sets of real libraries do not end training at the first
        bump; training stops after ``patience`` such epochs. Returns the best state, the
        per-epoch history and why training stopped (``patience``, ``epochs`` or
        ``max_minutes``).
        """
        rng = np.random.default_rng(seed)
        opt = torch.optim.Adam(model.parameters(), lr=learning_rate, weight_decay=weight_decay)
        loss_fn: nn.Module = nn.MSELoss() if self.task == "regression" else nn.BCEWithLogitsLoss()
        best, best_state, bad, since_cut = math.inf, None, 0, 0
        history: list[dict[str, Any]] = []
        t0 = time.time()
        stop = "epochs"
        for epoch in range(1, epochs + 1):
            train_loss = self._epoch(model, opt, loss_fn, rng.permutation(tr), rng, True)
            valid_loss = self._epoch(model, opt, loss_fn, va, rng, False)
            lr = opt.param_groups[0]["lr"]
            history.append({"epoch": epoch, "train_loss": train_loss, "valid_loss": valid_loss,
                            "learning_rate": lr})  # fmt: skip
            if valid_loss < best - 1e-5:
                best, bad, since_cut = valid_loss, 0, 0
                best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            else:
                bad += 1
                since_cut += 1
            log(f"epoch {epoch}/{epochs} train_loss {train_loss:.4f} valid_loss "
                f"{valid_loss:.4f} best {best:.4f} lr {lr:.2g} "
                f"elapsed {time.time() - t0:.0f}s")  # fmt: skip
            if bad >= patience:
                stop = "patience"
                break
            if lr_schedule == "plateau" and since_cut >= max(1, patience // 2):
                for g in opt.param_groups:
                    g["lr"] = g["lr"] * 0.5
                since_cut = 0
            if deadline is not None and time.time() > deadline:
                stop = "max_minutes"
                log("stopped early: train.max_minutes reached (the model depends on "
                    "machine load; unset max_minutes for reproducible runs)")  # fmt: skip
                break
        if best_state is None:
            raise SeqlanternError("training diverged: validation loss is not finite; lower "
                                  "train.learning_rate or check the targets")  # fmt: skip
        return best_state, history, stop

    def _epoch(
        self,
        model: Any,
        opt: torch.optim.Optimizer,
        loss_fn: nn.Module,
        rows: np.ndarray,
        rng: np.random.Generator,
        train_mode: bool,
    ) -> float:
        model.train(train_mode)
        dev, length, xp, masks = self.device, self.length, self.xp, self.masks
        total, n = 0.0, 0
        for i in range(0, len(rows), self.batch_size):
            b = rows[i : i + self.batch_size]
            xn = self.x[b]
            flip = np.zeros(len(b), dtype=bool)
            if train_mode and self.augment_rc:
                flip = rng.random(len(b)) < 0.5
                xn = np.where(flip[:, None, None], xn[:, ::-1, ::-1], xn)
            xb = torch.from_numpy(np.ascontiguousarray(xn)).to(dev)
            guide = self.guide if train_mode else None
            if guide is not None:  # saliency-guided (or random-span) masking
                xb = guide.mask(model.standardised, xb, rng)
            yb = torch.from_numpy(self.y[b].astype(np.float32)).to(dev)
            mb = None
            if train_mode and masks and any(int(r) in masks for r in b):
                mrows = np.stack([masks.get(int(r), np.zeros(length, np.float32)) for r in b])
                mrows = np.where(flip[:, None], mrows[:, ::-1], mrows)
                mb = torch.from_numpy(np.ascontiguousarray(mrows)).to(dev)
                if xp is None:
                    xg = xb.requires_grad_(True)
                else:  # the penalty on the original inputs of the rows with spans
                    keep = mrows.sum(axis=1) > 0
                    xo = xp[b][keep]
                    xo = np.where(flip[keep][:, None, None], xo[:, ::-1, ::-1], xo)
                    xg = torch.from_numpy(np.ascontiguousarray(xo)).to(dev).requires_grad_(True)
                    mb = mb[torch.from_numpy(keep).to(dev)]
            with torch.set_grad_enabled(train_mode):
                # train on the standardised scale, before the output buffers
                out = model.standardised(xb)
                loss = loss_fn(out, yb)
                if mb is not None:
                    og = out if xp is None else model.standardised(xg)
                    (g,) = torch.autograd.grad(og.sum(), xg, create_graph=True)
                    g = g - g.mean(dim=1, keepdim=True)
                    pen = ((g**2).sum(dim=1) * mb).sum() / mb.sum().clamp(min=1.0)
                    loss = loss + self.penalty_weight * pen
                if guide is not None:  # consistency and expert feedback terms
                    loss = loss + guide.penalty(model.standardised, xb, b, flip, rng)
            if train_mode:
                opt.zero_grad()
                loss.backward()
                opt.step()
            total += float(loss.detach()) * len(b)  # includes the penalty when training
            n += len(b)
        return total / max(n, 1)


def _plot_curve(history: pd.DataFrame, path: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    groups = history.groupby("member") if "member" in history else [(0, history)]
    for k, h in groups:
        tag = f" {int(k) + 1}" if "member" in history else ""
        ax.plot(h["epoch"], h["train_loss"], "o-", color="C0", ms=3, label=f"train{tag}")
        ax.plot(h["epoch"], h["valid_loss"], "o-", color="C1", ms=3, label=f"valid{tag}")
        best = h["valid_loss"].idxmin()
        ax.axvline(h["epoch"][best], color="grey", ls=":")
    handles, _ = ax.get_legend_handles_labels()
    ax.legend(handles[:2], ["train", "valid"], title="dotted: best epoch (kept)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    fig.tight_layout()
    with atomic_outputs(path) as (tmp,):
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
