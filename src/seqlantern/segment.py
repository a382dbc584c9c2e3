"""Element boundaries from sequence-level labels: Grad-CAM seeds grown along the map.

Weak supervision: a classifier trained only on "active or not" labels has no notion of
where its elements are, but its class activation map (Grad-CAM on the first convolution
block, :func:`seqlantern.methods.grad_cam`) is high where the evidence for the class
sits (centred on its median, :func:`seqlantern.methods.grad_cam`, so that exponential or
tanh first layers, active everywhere, still give a map). The high-confidence positions
are *seeds*; each seed run is grown to both sides
while the per-base attribution (gradient x input of the observed base) stays
continuous, i.e. above ``grow_fraction`` of the peak |attribution|, so a segment
ends where the model stops caring. The result is a set of element segments from
sequence labels alone, compared with planted truth by boundary IoU
(:func:`boundary_iou`), next to seqlet calls.

Only sequences the model calls positive are segmented: a binary model's probability >=
0.5, or for a regression model a prediction >= ``threshold`` (required: a regression
output has no class to explain otherwise).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqlantern.io import Progress, RowSource, SeqlanternError, write_tsv

SEGMENT_COLUMNS = ["name", "row", "start", "end", "peak_cam", "attribution"]


def grow_segments(
    cam: np.ndarray, attr: np.ndarray, *, seed_fraction: float = 0.5, grow_fraction: float = 0.25
) -> list[tuple[int, int, float, float]]:
    """Segments ``(start, end, peak_cam, summed attribution)`` of one sequence.

    Seeds: positions with ``cam >= seed_fraction * max(cam)`` (and cam > 0); contiguous
    seeds form a run. A run grows one base at a time to each side while the base's
    |attribution| is at least ``grow_fraction`` x the sequence's peak |attribution|
    (relative to the run's own peak, a seed on flat attribution would grow over the
    whole sequence); overlapping grown runs merge.
    """
    if cam.max() <= 0:
        return []
    seed = cam >= seed_fraction * cam.max()
    mag = np.abs(attr)
    cut = grow_fraction * max(float(mag.max()), 1e-12)
    spans: list[list[int]] = []
    i, n = 0, len(cam)
    while i < n:
        if not seed[i]:
            i += 1
            continue
        j = i
        while j < n and seed[j]:
            j += 1
        s, e = i, j
        while s > 0 and mag[s - 1] >= cut:
            s -= 1
        while e < n and mag[e] >= cut:
            e += 1
        if spans and s <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
        i = j
    return [(s, e, float(cam[s:e].max()), float(attr[s:e].sum())) for s, e in spans]


def segment(
    model: nn.Module,
    x: RowSource,
    rows: np.ndarray,
    names: list[str],
    *,
    task: str,
    threshold: float | None = None,
    target: int = 0,
    seed_fraction: float = 0.5,
    grow_fraction: float = 0.25,
    batch_size: int = 128,
    device: str = "cpu",
) -> pd.DataFrame:
    """Segments of every sequence of ``rows`` the model calls positive (module text)."""
    from seqlantern.methods import grad_cam, gradient_x_input

    if task != "binary" and threshold is None:
        raise SeqlanternError(
            "segment: a regression model needs a threshold (--threshold / "
            "segment.threshold): only sequences predicted above it are segmented"
        )
    model.eval()
    out: list[tuple[object, ...]] = []
    progress = Progress("segment: sequences", len(rows))
    for b in range(0, len(rows), batch_size):
        rb = rows[b : b + batch_size]
        xb = torch.as_tensor(np.asarray(x[rb], dtype=np.float32), device=device)
        with torch.no_grad():
            y = model(xb)[:, target]
        keep = (torch.sigmoid(y) >= 0.5) if task == "binary" else (y >= float(threshold or 0))
        if not bool(keep.any()):
            progress.update(b + len(rb))
            continue
        xk = xb[keep]
        with torch.enable_grad():
            cam = grad_cam(model, xk, target=target, centred=True)[:, 0].cpu().numpy()
            gx = gradient_x_input(model, xk, target=target).detach()
        attr = (gx * xk).sum(dim=1).cpu().numpy()
        for j, i in enumerate(np.flatnonzero(keep.cpu().numpy())):
            row = int(rb[i])
            for s, e, peak, tot in grow_segments(cam[j], attr[j], seed_fraction=seed_fraction,
                                                 grow_fraction=grow_fraction):  # fmt: skip
                out.append((names[b + i], row, s, e, round(peak, 6), round(tot, 6)))
        progress.update(b + len(rb))
    return pd.DataFrame(out, columns=SEGMENT_COLUMNS)


def boundary_iou(found: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float]:
    """How well ``found`` intervals (name, start, end) delimit ``truth`` sites.

    ``recall``: share of true sites overlapped by a found interval; ``iou``: mean, over
    the overlapped sites, of the intersection over union with the best-overlapping found
    interval; ``precision``: share of found intervals that overlap a true site.
    """
    by_name: dict[str, list[tuple[int, int]]] = {}
    for r in found.itertuples(index=False):
        by_name.setdefault(str(r.name), []).append((int(r.start), int(r.end)))
    ious = []
    hit = 0
    for t in truth.itertuples(index=False):
        best = 0.0
        for s, e in by_name.get(str(t.name), []):
            inter = max(0, min(e, int(t.end)) - max(s, int(t.start)))
            if inter:
                best = max(best, inter / (max(e, int(t.end)) - min(s, int(t.start))))
        if best > 0:
            hit += 1
            ious.append(best)
    tsites: dict[str, list[tuple[int, int]]] = {}
    for t in truth.itertuples(index=False):
        tsites.setdefault(str(t.name), []).append((int(t.start), int(t.end)))
    on = sum(
        any(min(e, te) > max(s, ts) for ts, te in tsites.get(str(r.name), []))
        for r in found.itertuples(index=False)
        for s, e in [(int(r.start), int(r.end))]
    )
    return {
        "sites": float(len(truth)),
        "intervals": float(len(found)),
        "recall": hit / len(truth) if len(truth) else float("nan"),
        "iou": float(np.mean(ious)) if ious else float("nan"),
        "precision": on / len(found) if len(found) else float("nan"),
    }


def write_segments(df: pd.DataFrame, path: str | Path) -> None:
    """Write the segments TSV (atomically)."""
    write_tsv(df, path)
