"""Per-base gradient x input attribution, streamed to a ``.npy`` file.

Why the gradient is mean-corrected (Majdandzic et al., Genome Biology 2023): a one-hot
input lies on a simplex (exactly one base per position), but the gradient is taken in the
full 4-D space around it. Its component along (1, 1, 1, 1) - "add a bit of every base at
once" - is a direction no sequence can move in, which training never constrains, and it
leaks into input x gradient as noise. Subtracting the per-position mean over the four
bases removes exactly that component; the correction is on by default.

Why a choice of output: for a binary model the logit is additive in evidence, while the
probability saturates (a confident prediction has a near-zero gradient whatever the
sequence), so maps on the probability scale shrink exactly where the model is surest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqlantern.io import SeqlanternError, atomic_outputs, open_npy_writer


def resolve_target(target: int | str, names: list[str] | None, n_outputs: int) -> int:
    """Turn a target given by index or name into an output column index."""
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if not names or target not in names:
            raise SeqlanternError(
                f"attribution target {target!r} is not a model target; known: {names}"
            )
        return names.index(target)
    t = int(target)
    if not -n_outputs <= t < n_outputs:
        raise SeqlanternError(
            f"attribution target {t} is out of range (model has {n_outputs} outputs)"
        )
    return t % n_outputs


def gradient_x_input(
    model: nn.Module,
    x: torch.Tensor,
    *,
    target: int = 0,
    output: str = "logit",
    correct: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradient x input of one output for a batch.

    Parameters
    ----------
    model
        Model taking (N, 4, L) and returning (N, T).
    x
        One-hot batch (N, 4, L).
    target
        Output column.
    output
        ``logit`` (raw output) or ``activation`` (sigmoid of it, for binary models).
    correct
        Subtract the mean gradient over the four bases at each position.

    Returns
    -------
    Attributions (N, 4, L) (zero except at observed bases) and the raw predictions (N, T).
    """
    x = x.detach().clone().requires_grad_(True)
    out = model(x)
    y = out[:, target]
    if output == "activation":
        y = torch.sigmoid(y)
    (grad,) = torch.autograd.grad(y.sum(), x)
    if correct:
        grad = grad - grad.mean(dim=1, keepdim=True)
    return (grad * x).detach(), out.detach()


def attribute(
    model: nn.Module,
    onehot: np.ndarray,
    rows: np.ndarray,
    names: list[str],
    out_npy: str | Path,
    out_predictions: str | Path,
    *,
    target: int = 0,
    target_names: list[str] | None = None,
    output: str = "logit",
    correct: bool = True,
    batch_size: int = 128,
    device: str = "cpu",
) -> None:
    """Attribute ``onehot[rows]`` and stream the maps to ``out_npy`` chunk by chunk.

    Parameters
    ----------
    model
        Model in eval mode.
    onehot
        (N, 4, L) array (a memory map is fine: only one batch is read at a time).
    rows
        Row numbers to attribute, in output order.
    names
        Sequence names of ``rows`` (same order), for the predictions table.
    out_npy
        (len(rows), 4, L) float32 output.
    out_predictions
        TSV: name, row (row in the encoded index) and one ``pred_<target>`` column per model
        output (raw output; plus ``prob_<target>`` after a sigmoid when ``output`` is
        ``activation``).
    target, target_names, output, correct
        See :func:`gradient_x_input`.
    batch_size, device
        Batching and device (``cpu`` or ``cuda``).
    """
    if output not in ("logit", "activation"):
        raise SeqlanternError(f"attribution.output {output!r} must be logit or activation")
    model = model.to(device).eval()
    n, _, length = len(rows), onehot.shape[1], onehot.shape[2]
    preds: list[np.ndarray] = []
    with atomic_outputs(out_npy, out_predictions) as (tmp_npy, tmp_pred):
        out = open_npy_writer(tmp_npy, (n, 4, length), np.float32)
        for i in range(0, n, batch_size):
            b = rows[i : i + batch_size]
            xb = torch.from_numpy(np.asarray(onehot[b], dtype=np.float32)).to(device)
            attr, pr = gradient_x_input(model, xb, target=target, output=output, correct=correct)
            out[i : i + len(b)] = attr.float().cpu().numpy()
            preds.append(pr.float().cpu().numpy())
        out.flush()
        del out
        pred = np.concatenate(preds) if preds else np.zeros((0, 1), dtype=np.float32)
        tn = target_names or [str(j) for j in range(pred.shape[1])]
        if len(tn) != pred.shape[1]:
            tn = [str(j) for j in range(pred.shape[1])]
        df = pd.DataFrame({"name": names, "row": rows})
        for j, t in enumerate(tn):
            df[f"pred_{t}"] = pred[:, j]
            if output == "activation":
                df[f"prob_{t}"] = 1 / (1 + np.exp(-pred[:, j]))
        df.to_csv(tmp_pred, sep="\t", index=False, float_format="%.6g")
