"""Training with attributions: salient masking, attribution consistency, expert feedback.

seqlantern explains a model; these are the established ways to *act* on the explanation
during training (all off by default; `train.augment.salient_mask`, `train.consistency`,
`train.feedback`):

- **Saliency-guided masking.** CutOut aimed at the most salient span instead of a random
  one: per batch (with probability ``probability``), the gradient x input of the current
  model picks each sequence's ``span``-bp window of largest |attribution|, which is
  filled (``shuffle``: its bases permuted at random, keeping the composition; ``zeros``:
  set to N) before the step. A model that cannot see its favourite feature has to learn
  the others, so masking a few salient bases should no longer collapse its prediction.
  ``mode: random`` masks a span of the same size at a random place: the control that
  separates the effect of *aiming* from that of masking at all.
- **Attribution consistency.** ``weight`` x the mean squared difference between the map
  of x and the aligned map of a transform of x (``rc``: the reverse complement's map
  turned back; ``shift``: x moved by 1-3 bp, its map moved back, the edge columns left
  out), normalised by the maps' mean square. The maps are input gradients taken with
  ``create_graph=True``, so the penalty is differentiated twice (double backprop).
- **Expert feedback ("right for the right reasons", Ross et al. 2017).** A BED file of
  regions a biologist marked irrelevant (``M-``: a barcode, a cloning scar) or relevant
  (``M+``: a validated site). The loss gains ``weight_irrelevant`` x the mean squared
  (mean-corrected) input gradient inside M- (the debias stage's penalty is this case,
  for detected artifacts) and ``weight_relevant`` x (1 - the share of |gradient x input|
  that falls inside M+) for the sequences that have an M+ region.

The functions here are plain tensor/array functions; :mod:`seqlantern.train` calls
them inside its batch loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from seqlantern.io import SeqlanternError

FEEDBACK_NAMES = {"M-": -1, "irrelevant": -1, "M+": 1, "relevant": 1}


# --------------------------------------------------------------------------------------
# saliency-guided masking
# --------------------------------------------------------------------------------------


def salient_spans(attr: torch.Tensor, span: int) -> torch.Tensor:
    """Start of each sequence's ``span``-bp window of largest summed |attribution|.

    ``attr``: (N, L) per-position attribution (or (N, 4, L), summed over bases).
    """
    a = attr.abs() if attr.ndim == 2 else attr.sum(dim=1).abs()
    span = min(span, a.shape[1])
    windows = torch.nn.functional.avg_pool1d(a[:, None], span, stride=1)[:, 0]
    return windows.argmax(dim=1)


def random_spans(n: int, length: int, span: int, rng: np.random.Generator) -> torch.Tensor:
    """Uniform span starts: the control of :func:`salient_spans`."""
    return torch.from_numpy(rng.integers(0, max(length - span, 0) + 1, size=n))


def mask_spans(
    x: torch.Tensor, starts: torch.Tensor, span: int, *, fill: str,
    rng: np.random.Generator,
) -> torch.Tensor:  # fmt: skip
    """A copy of ``x`` (N, 4, L) with ``[start, start + span)`` of each row filled."""
    if fill not in ("shuffle", "zeros"):
        raise SeqlanternError(f"train.augment.salient_mask.fill {fill!r}: shuffle or zeros")
    out = x.clone()
    for i, s in enumerate(starts.tolist()):
        e = min(s + span, x.shape[2])
        if fill == "zeros":
            out[i, :, s:e] = 0
        else:
            perm = torch.from_numpy(rng.permutation(e - s)).to(x.device)
            out[i, :, s:e] = x[i, :, s:e][:, perm]
    return out


# --------------------------------------------------------------------------------------
# attribution consistency
# --------------------------------------------------------------------------------------


def input_gradient(f: Any, x: torch.Tensor, *, create_graph: bool) -> torch.Tensor:
    """Mean-corrected gradient of ``f(x).sum()`` w.r.t. ``x`` (the map of every target
    summed), differentiable again when ``create_graph``."""
    xg = x.detach().requires_grad_(True)
    (g,) = torch.autograd.grad(f(xg).sum(), xg, create_graph=create_graph)
    return g - g.mean(dim=1, keepdim=True)


def consistency_penalty(
    f: Any, x: torch.Tensor, transforms: list[str], *, rng: np.random.Generator
) -> torch.Tensor:
    """Mean squared difference between the map of ``x`` and the aligned maps of its
    transforms, over the maps' mean square (0 for a model whose maps follow the
    transform; about 2 for unrelated maps).

    The denominator is part of the graph, not a detached constant: with a constant
    denominator the cheapest way to lower the numerator is to shrink every gradient,
    and training collapses the model towards a constant output (on the demo the network
    stopped learning at weight 1). As a ratio the penalty is unchanged by the maps'
    scale, so only their shape is pushed towards consistency.
    """
    g = input_gradient(f, x, create_graph=True)
    total = x.new_zeros(())
    for t in transforms:
        if t == "rc":
            gt = torch.flip(input_gradient(f, torch.flip(x, dims=[1, 2]), create_graph=True),
                            dims=[1, 2])  # fmt: skip
            a, b = g, gt
        elif t == "shift":
            s = int(rng.integers(1, 4))
            gt = input_gradient(f, torch.roll(x, s, dims=2), create_graph=True)
            a = g[:, :, s : x.shape[2] - s]
            b = torch.roll(gt, -s, dims=2)[:, :, s : x.shape[2] - s]
        else:
            raise SeqlanternError(f"train.consistency.transforms: {t!r} unknown; rc or shift")
        scale = (0.5 * (a.pow(2).mean() + b.pow(2).mean())).clamp(min=1e-12)
        total = total + (a - b).pow(2).mean() / scale
    return total / max(len(transforms), 1)


# --------------------------------------------------------------------------------------
# expert feedback masks
# --------------------------------------------------------------------------------------


def feedback_penalty(
    grad: torch.Tensor,
    x: torch.Tensor,
    irrelevant: torch.Tensor,
    relevant: torch.Tensor,
    *,
    weight_irrelevant: float,
    weight_relevant: float,
) -> torch.Tensor:
    """The feedback term for a batch: (N, 4, L) map ``grad`` (mean-corrected input
    gradient), masks (N, L) of M- and M+ positions (0/1).

    Irrelevant: mean squared gradient over the M- positions. Relevant: 1 - the share of
    |gradient x input| inside M+, for rows with an M+ region. Neither term depends on
    the map outside M-/M+ except through that share's denominator, which is why a row
    without M+ contributes nothing.
    """
    total = grad.new_zeros(())
    if weight_irrelevant and irrelevant.sum() > 0:
        sq = grad.pow(2).sum(dim=1)
        total = total + weight_irrelevant * (sq * irrelevant).sum() / irrelevant.sum()
    has = relevant.sum(dim=1) > 0
    if weight_relevant and bool(has.any()):
        a = (grad * x).sum(dim=1).abs()[has]
        share = (a * relevant[has]).sum(dim=1) / a.sum(dim=1).clamp(min=1e-12)
        total = total + weight_relevant * (1 - share).mean()
    return total


@dataclass(frozen=True)
class Feedback:
    """Per-row masks from a feedback BED: row -> (L,) arrays of M- and M+ positions."""

    irrelevant: dict[int, np.ndarray]
    relevant: dict[int, np.ndarray]

    def batch(self, rows: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
        zero = np.zeros(length, np.float32)
        return (np.stack([self.irrelevant.get(int(r), zero) for r in rows]),
                np.stack([self.relevant.get(int(r), zero) for r in rows]))  # fmt: skip


def read_feedback(path: str | Path, index: pd.DataFrame, length: int) -> Feedback:
    """Read a feedback BED (documented in config/README.md, ``train.feedback``).

    Columns: chrom, start, end, name (``M-``/``irrelevant`` or ``M+``/``relevant``).
    ``chrom`` is a record name (sequence coordinates, 0-based from the record's first
    encoded base) or a genome chromosome of genomic input (then every encoded window
    overlapping the region gets the overlapping part, on the window's strand). An
    unknown name or chromosome, M+ overlapping M- in one sequence, or an empty file is
    an error naming the file and line.
    """
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: feedback BED not found (train.feedback.bed)")
    names = index["name"].astype(str).tolist()
    by_name = {n: i for i, n in enumerate(names)}
    genomic = "chrom" in index.columns and (index["chrom"].astype(str) != index["name"]
                                            .astype(str)).any()  # fmt: skip
    irr: dict[int, np.ndarray] = {}
    rel: dict[int, np.ndarray] = {}
    n_lines = 0
    for ln, line in enumerate(p.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        f = line.split("\t")
        if len(f) < 4:
            raise SeqlanternError(f"{p}: line {ln}: a feedback BED needs chrom, start, end "
                                  "and name (M- or M+)")  # fmt: skip
        try:
            start, end = int(f[1]), int(f[2])
        except ValueError:
            raise SeqlanternError(f"{p}: line {ln}: start/end are not integers") from None
        if start < 0 or end <= start:
            raise SeqlanternError(f"{p}: line {ln}: need 0 <= start < end ({start}, {end})")
        kind = FEEDBACK_NAMES.get(f[3].strip())
        if kind is None:
            raise SeqlanternError(f"{p}: line {ln}: name {f[3]!r} is neither M- (irrelevant) "
                                  "nor M+ (relevant)")  # fmt: skip
        n_lines += 1
        target = irr if kind < 0 else rel
        hits: list[tuple[int, int, int]] = []
        if f[0] in by_name:
            hits.append((by_name[f[0]], max(start, 0), min(end, length)))
        elif genomic:
            sel = index[(index["chrom"].astype(str) == f[0]) & (index["start"] < end)
                        & (index["end"] > start)]  # fmt: skip
            for r in sel.itertuples():
                a, b = max(start, int(r.start)) - int(r.start), min(end, int(r.end)) - int(r.start)
                if str(getattr(r, "strand", "+")) == "-":
                    a, b = length - b, length - a
                hits.append((int(r.Index), a, b))
        if not hits:
            raise SeqlanternError(f"{p}: line {ln}: {f[0]!r} is neither a sequence name nor "
                                  "a chromosome of the encoded windows")  # fmt: skip
        for row, a, b in hits:
            m = target.setdefault(row, np.zeros(length, np.float32))
            m[a:b] = 1.0
    if n_lines == 0:
        raise SeqlanternError(f"{p}: the feedback BED has no region")
    for row in set(irr) & set(rel):
        if (irr[row] * rel[row]).any():
            raise SeqlanternError(
                f"{p}: sequence {names[row]}: an M+ region overlaps an M- "
                "region; a base cannot be both relevant and irrelevant"
            )
    return Feedback(irr, rel)


def elements_to_feedback(
    elements_tsv: str | Path, out_bed: str | Path, *, where: dict[str, str], name: str
) -> int:
    """Write the elements matching ``where`` (column -> value) as feedback regions
    (sequence coordinates) named ``name`` (M- or M+); returns their number."""
    from seqlantern.io import read_tsv

    if name not in FEEDBACK_NAMES:
        raise SeqlanternError(f"feedback --name {name!r}: M- or M+")
    el = read_tsv(elements_tsv, what="elements", ints=("start", "end"))
    keep = pd.Series(True, index=el.index)
    for col, value in where.items():
        if col not in el.columns:
            raise SeqlanternError(f"{elements_tsv}: no column {col!r} (--where {col}={value})")
        keep &= el[col].astype(str) == value
    sel = el[keep]
    if sel.empty:
        raise SeqlanternError(f"{elements_tsv}: no element has {where}; nothing to write")
    return _write_feedback(sel["name"], sel["start"], sel["end"], name, out_bed)


def artifact_feedback(
    onehot: str | Path,
    index: str | Path,
    artifact_files: list[str | Path],
    constant_tsv: str | Path | None,
    out_bed: str | Path,
    *,
    k: int = 12,
) -> int:
    """Write every artifact span of *every* input as an M- region (sequence coordinates).

    Why not the artifact elements: elements exist only in attributed (test) sequences, so
    a penalty there never reaches training. This finds the same spans the debias stage
    does (exact ``k``-mer hits of the library's adapter/primer/vector entries, both
    strands) plus the constant regions, in every sequence.
    """
    from seqlantern.artifacts import read_artifacts
    from seqlantern.constant import read_constant
    from seqlantern.debias import find_artifact_spans
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy

    idx = read_index(index)
    x = load_npy(onehot, what="one-hot")
    constant = read_constant(constant_tsv) if constant_tsv else []
    kinds = ("adapter", "primer", "vector", "artifact", "constant")
    spans = find_artifact_spans(x, idx, read_artifacts(*artifact_files), constant, k=k,
                                kinds=kinds)  # fmt: skip
    if spans.empty:
        raise SeqlanternError("no artifact span in any input (artifact library and constant "
                              "regions): nothing to mark M-")  # fmt: skip
    names = idx["name"].astype(str).to_numpy()
    return _write_feedback(names[spans["row"].to_numpy(int)], spans["start"], spans["end"],
                           "M-", out_bed)  # fmt: skip


def _write_feedback(chrom: Any, start: Any, end: Any, name: str, out_bed: str | Path) -> int:
    """Write feedback regions as a 4-column BED (atomically); returns their number."""
    from seqlantern.io import atomic_outputs

    bed = pd.DataFrame({"chrom": chrom, "start": start, "end": end, "name": name})
    with atomic_outputs(out_bed) as (tmp,):
        bed.to_csv(tmp, sep="\t", header=False, index=False)
    return len(bed)


# --------------------------------------------------------------------------------------
# distillation
# --------------------------------------------------------------------------------------


def distill(
    teacher_json: str | Path,
    onehot: str | Path,
    index: str | Path,
    out_json: str | Path,
    metrics_tsv: str | Path,
    curve_png: str | Path,
    *,
    student_options: dict[str, Any] | None = None,
    shuffles: int = 0,
    seed: int = 0,
    **train_options: Any,
) -> pd.DataFrame:
    """Train a (smaller) student on a teacher checkpoint's outputs.

    The teacher predicts every encoded sequence (its raw outputs, every target); with
    ``shuffles`` > 0 each training sequence also gets that many dinucleotide-shuffled
    copies labelled by the teacher (extra sequences where the teacher's behaviour, not
    the measurement, is the label). The student (``student_options`` over the default
    architecture) is trained with :func:`seqlantern.train.train` on the same split, so
    its metrics are against the teacher's outputs; `compare-training` measures it
    against the measured activity. Writes the student checkpoint, metrics and curve
    (and ``<out>.distill/``: the teacher-labelled library).
    """
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy
    from seqlantern.models import load_checkpoint
    from seqlantern.shuffle import shuffle_onehot
    from seqlantern.train import predict, train

    teacher, meta = load_checkpoint(teacher_json)
    x = load_npy(onehot, what="one-hot")
    if meta.get("length") and int(meta["length"]) != x.shape[2]:
        raise SeqlanternError(f"{teacher_json}: the teacher takes {meta['length']}-bp input but "
                              f"{onehot} holds {x.shape[2]}-bp sequences")  # fmt: skip
    idx = read_index(index)
    names = list(meta.get("targets") or [])
    preds = predict(teacher, x, np.arange(x.shape[0]))
    if not names or len(names) != preds.shape[1]:
        names = [f"t{j}" for j in range(preds.shape[1])]
    work = Path(str(out_json) + ".distill")
    work.mkdir(parents=True, exist_ok=True)
    xs, extra_idx = [np.asarray(x[np.arange(x.shape[0])], dtype=np.float32)], []
    if shuffles > 0:
        rng = np.random.default_rng(seed)
        tr = np.flatnonzero(idx["split"].astype(str).to_numpy() == "train")
        for k in range(shuffles):
            copies = np.stack([shuffle_onehot(np.asarray(x[r]), rng) for r in tr])
            xs.append(copies.astype(np.float32))
            extra = idx.iloc[tr].copy()
            extra["name"] = [f"{n}~shuffle{k + 1}" for n in extra["name"]]
            extra_idx.append(extra)
        preds = np.concatenate([preds] + [predict(teacher, c, np.arange(len(c)))
                                          for c in xs[1:]])  # fmt: skip
    allx = np.concatenate(xs)
    all_idx = pd.concat([idx, *extra_idx], ignore_index=True)
    np.save(work / "onehot.npy", allx)
    all_idx.to_csv(work / "index.tsv", sep="\t", index=False)
    tt = pd.DataFrame({"name": all_idx["name"]})
    for j, n in enumerate(names):
        tt[n] = preds[:, j]
    tt.to_csv(work / "targets.tsv", sep="\t", index=False, float_format="%.7g")
    opts = {"baseline": False, "kmer_fallback": False, **train_options}
    return train(work / "onehot.npy", work / "index.tsv", work / "targets.tsv", out_json,
                 metrics_tsv, curve_png, columns=names, model_kwargs=student_options or {},
                 seed=seed, **opts)  # fmt: skip


# --------------------------------------------------------------------------------------
# comparing training variants
# --------------------------------------------------------------------------------------

TRAINING_COLUMNS = ["variant", "teacher", "test_pearson", "test_auroc", "deletion_gain",
                    "insertion_gain", "stability_rc", "stability_shift", "salient_mask_drop",
                    "random_mask_drop", "planted_site_auroc", "artifact_share", "m_minus_share",
                    "teacher_map_correlation"]  # fmt: skip


def teacher_summary(table: pd.DataFrame) -> list[str]:
    """Sentences that set each teacher's map quality beside its student's results.

    Why: the teacher whose maps look cleanest is not necessarily the one that teaches
    best, and a user choosing a teacher should see both. Map quality is the teacher's
    planted-site AUROC when the run has a truth table, else its reverse-complement map
    stability; the student is judged by its test accuracy (against the measurement, not
    the teacher) and by the correlation of its maps with its teacher's. Returns no
    sentence when fewer than two students were distilled.
    """
    t = table.set_index("variant", drop=False)
    students = t[t["teacher"].astype(object).fillna("").astype(str) != ""]
    if len(students) < 2:
        return []
    acc = "test_pearson" if students["test_pearson"].notna().any() else "test_auroc"
    has_truth = "planted_site_auroc" in t and t["planted_site_auroc"].notna().any()
    qual, qual_name = (("planted_site_auroc", "planted-site AUROC") if has_truth
                       else ("stability_rc", "RC stability"))  # fmt: skip
    out = []
    for r in students.itertuples(index=False):
        teacher = str(r.teacher)
        q = float(t.loc[teacher, qual]) if teacher in t.index else float("nan")
        out.append(f"{r.variant}: teacher {teacher} ({qual_name} {q:.3f}) -> student "
                   f"{acc.replace('_', ' ')} {getattr(r, acc):.3f}, map correlation with "
                   f"the teacher {r.teacher_map_correlation:.3f}")  # fmt: skip
    tq = {str(r.teacher): float(t.loc[str(r.teacher), qual]) for r in students.itertuples()
          if str(r.teacher) in t.index}  # fmt: skip
    cleanest = max(tq, key=lambda k: (tq[k], k))
    best = students.reset_index(drop=True).sort_values(
        [acc, "variant"], ascending=[False, True]).iloc[0]  # fmt: skip
    if str(best["teacher"]) == cleanest:
        out.append(f"The teacher with the best maps ({cleanest}) also gave the most "
                   f"accurate student.")  # fmt: skip
    else:
        out.append(
            f"The teacher with the best maps ({cleanest}) did not give the most "
            f"accurate student: {best['variant']} (teacher {best['teacher']}) did."
        )
    return out


def _maps(model: Any, x: np.ndarray, target: int) -> np.ndarray:
    """(N, L) gradient x input per position (mean-corrected gradient), in batches."""
    out = []
    for i in range(0, len(x), 128):
        xb = torch.from_numpy(np.ascontiguousarray(x[i : i + 128], dtype=np.float32))
        g = input_gradient(lambda z: model(z)[:, target : target + 1], xb, create_graph=False)
        out.append((g * xb).sum(dim=1).detach().numpy())
    return np.concatenate(out) if out else np.zeros((0, x.shape[2]))


def _auroc(score: np.ndarray, label: np.ndarray) -> float:
    from scipy.stats import rankdata

    pos, neg = label.sum(), (~label).sum()
    if pos == 0 or neg == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[label].sum() - pos * (pos + 1) / 2) / (pos * neg))


def _mask_drop(model: Any, x: np.ndarray, order: np.ndarray, k: int, target: int) -> float:
    """Mean prediction drop when the first ``k`` positions of ``order`` are set to N."""
    from seqlantern.diagnostics import _predict

    masked = x.copy()
    rows = np.arange(len(x))[:, None]
    masked[rows, :, order[:, :k]] = 0.0
    return float(np.mean(_predict(model, x, target, "logit")
                         - _predict(model, masked, target, "logit")))  # fmt: skip


def compare_training(
    variants: Mapping[str, str | Path],
    onehot: str | Path,
    index: str | Path,
    targets_tsv: str | Path,
    column: str,
    out_tsv: str | Path,
    *,
    name_column: str = "name",
    teachers: dict[str, str] | None = None,
    truth: str | Path | None = None,
    feedback_bed: str | Path | None = None,
    n: int = 200,
    top_k: int = 10,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per training variant, all measured on the same test sequences.

    Columns (:data:`TRAINING_COLUMNS`): test Pearson (regression) or AUROC (binary)
    against the measured ``column``; on a seeded sample of ``n`` test sequences and the
    gradient x input map of each model: deletion/insertion gains (faithfulness), RC and
    shift stability, the mean prediction drop when the ``top_k`` most salient positions
    are set to N (and ``top_k`` random ones, for scale), with a ``truth`` table the AUROC
    of |attribution| for positions inside planted functional sites and the share of
    |attribution| on planted artifact sites, with a ``feedback_bed`` the share inside
    its M- regions, and for a distilled variant (``teachers``: variant -> teacher
    variant) the mean per-sequence correlation of its maps with the teacher's.
    """
    from seqlantern.diagnostics import curve_areas, faithfulness_curves, stability
    from seqlantern.encode import read_index
    from seqlantern.io import atomic_outputs, load_npy, read_tsv
    from seqlantern.models import load_checkpoint
    from seqlantern.train import predict, read_targets

    x = load_npy(onehot, what="one-hot")
    idx = read_index(index)
    test = np.flatnonzero(idx["split"].astype(str).to_numpy() == "test")
    if len(test) < 2:
        raise SeqlanternError(f"{index}: fewer than 2 test sequences to compare on")
    y = read_targets(targets_tsv, idx["name"], [column], name_column=name_column)
    y = np.asarray(y, dtype=float).reshape(len(idx), -1)[:, 0]
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(test, size=min(n, len(test)), replace=False))
    xs = np.asarray(x[sample], dtype=np.float32)
    length = xs.shape[2]
    site = np.zeros((len(sample), length), dtype=bool)
    art = np.zeros((len(sample), length), dtype=bool)
    if truth:
        tt = read_tsv(truth, what="truth", ints=("start", "end"))
        pos = {nm: i for i, nm in enumerate(idx["name"].iloc[sample])}
        for r in tt.itertuples(index=False):
            i = pos.get(r.name)
            if i is not None:
                target_mask = art if str(getattr(r, "kind", "")) == "artifact" else site
                if str(getattr(r, "kind", "functional")) in ("functional", "artifact"):
                    target_mask[i, max(r.start, 0) : min(r.end, length)] = True
    minus = None
    if feedback_bed:
        fb = read_feedback(feedback_bed, idx, length)
        minus = np.stack([fb.irrelevant.get(int(r), np.zeros(length, np.float32))
                          for r in sample]).astype(bool)  # fmt: skip
    maps: dict[str, np.ndarray] = {}
    rows = []
    for name, path in variants.items():
        model, meta = load_checkpoint(path)
        model.eval()
        t = list(meta.get("targets") or []).index(column) if column in (
            meta.get("targets") or []) else 0  # fmt: skip
        pred = predict(model, x, test)[:, t]
        row: dict[str, Any] = {"variant": name, "teacher": (teachers or {}).get(name, "")}
        ok = np.isfinite(y[test])
        if meta.get("task") == "binary":
            row["test_auroc"] = _auroc(pred[ok], y[test][ok] > 0.5)
        else:
            row["test_pearson"] = float(np.corrcoef(pred[ok], y[test][ok])[0, 1])
        m = _maps(model, xs, t)
        maps[name] = m
        c = faithfulness_curves(model, xs, m, target=t, steps=10, seed=seed)
        a = curve_areas(c)
        row["deletion_gain"] = a["deletion_auc_random"] - a["deletion_auc_map"]
        row["insertion_gain"] = a["insertion_auc_map"] - a["insertion_auc_random"]

        def fn(xb: torch.Tensor, model: Any = model, t: int = t) -> torch.Tensor:
            g = input_gradient(lambda z: model(z)[:, t : t + 1], xb, create_graph=False)
            return (g * xb).detach()

        st = stability(fn, xs, seed=seed, shifts=3)
        row["stability_rc"], row["stability_shift"] = st["stability_rc"], st["stability_shift"]
        order = np.argsort(-np.abs(m), axis=1, kind="stable")
        row["salient_mask_drop"] = _mask_drop(model, xs, order, top_k, t)
        rand = np.argsort(np.random.default_rng(seed).random(m.shape), axis=1)
        row["random_mask_drop"] = _mask_drop(model, xs, rand, top_k, t)
        am = np.abs(m)
        if truth and site.any():
            row["planted_site_auroc"] = _auroc(am.ravel(), site.ravel())
        if truth and art.any():
            row["artifact_share"] = float(am[art].sum() / max(am.sum(), 1e-12))
        if minus is not None:
            row["m_minus_share"] = float(am[minus].sum() / max(am.sum(), 1e-12))
        rows.append(row)
        figures = ", ".join(f"{k} {v:.3f}" for k, v in row.items() if isinstance(v, float))
        print(f"[compare-training] {name}: {figures}", flush=True)
    for row in rows:
        teacher = row["teacher"]
        if teacher and teacher in maps:
            s, tm = maps[row["variant"]], maps[teacher]
            cors = [np.corrcoef(s[i], tm[i])[0, 1] for i in range(len(s))
                    if s[i].std() > 0 and tm[i].std() > 0]  # fmt: skip
            row["teacher_map_correlation"] = float(np.mean(cors)) if cors else float("nan")
    table = pd.DataFrame(rows).reindex(columns=TRAINING_COLUMNS)
    with atomic_outputs(out_tsv) as (tmp,):
        table.to_csv(tmp, sep="\t", index=False, na_rep="NA", float_format="%.4g")
    return table
