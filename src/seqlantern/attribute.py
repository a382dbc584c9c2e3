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

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from seqlantern.io import (
    Progress,
    RowSource,
    SeqlanternError,
    atomic_outputs,
    open_npy_writer,
)


def resolve_target(target: int | str, names: list[str] | None, n_outputs: int) -> int:
    """Turn a target given by index or name into an output column index."""
    if isinstance(target, str) and not target.lstrip("-").isdigit():
        if target == "all" and (not names or "all" not in names):
            raise SeqlanternError(
                "target all: the workflow runs one sub-run per target (attribution.target: "
                f"all); a seqlantern command takes one target, by name or index: {names}"
            )
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


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Parameters stop requiring gradients for the duration (restored afterwards).

    Attribution needs gradients with respect to the input only; with the weights frozen,
    autograd skips the weight-gradient half of every layer's backward pass (about 1.4x
    faster on the default model).
    """
    flags = [p.requires_grad for p in model.parameters()]
    try:
        for p in model.parameters():
            p.requires_grad_(False)
        yield
    finally:
        for p, f in zip(model.parameters(), flags, strict=True):
            p.requires_grad_(f)


def _bn_scale(bn: nn.BatchNorm1d) -> torch.Tensor:
    """Per-channel slope of a batch-norm layer in eval mode: weight / sqrt(var + eps)."""
    var: torch.Tensor = bn.running_var  # type: ignore[assignment]
    return bn.weight / torch.sqrt(var + bn.eps)


def _fast_input_gradient(
    model: nn.Module, x: torch.Tensor, target: int, output: str
) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Input gradient of a one-convolution :class:`SeqCNN` with a global max pool, exactly.

    Through a global max pool the gradient reaches each channel only at its maximum, so
    the input gradient is a sum of the channels' kernels placed at their maxima, scaled
    by the head's gradient and the activation's slope there. Only the forward
    convolution is computed in full; the backward convolution is replaced by a scatter of
    ``channels x kernel`` values (about 2x faster than autograd on the default model;
    checked equal to autograd in the tests). Returns ``None`` for other models.
    """
    from seqlantern.methods import _fast_ism_layers
    from seqlantern.models import Exp

    layers = _fast_ism_layers(model)
    if layers is None:
        return None
    conv, bn, act = layers
    if not isinstance(act, (Exp, nn.ReLU)):
        return None
    with torch.no_grad():
        z = conv(x)
        # The activation (exp or ReLU) is monotone and batch norm in eval mode is affine
        # per channel, so each channel's maximum sits at the maximum of z (or at its
        # minimum where the batch-norm scale is negative): no need to activate every
        # position. Ties only occur where the slope is 0, so the gradient is unchanged.
        bn_scale = _bn_scale(bn) if bn is not None else None
        if bn_scale is not None:
            sign = torch.sign(bn_scale)
            sign = torch.where(sign == 0, torch.ones_like(sign), sign)[None, :, None]
            _, idx = (z * sign).max(dim=2, keepdim=True)
        else:
            _, idx = z.max(dim=2, keepdim=True)
        zsel = torch.gather(z, 2, idx)
        zb = bn(zsel) if bn is not None else zsel
        pooled = act(zb)
    p = pooled.detach().requires_grad_(True)
    with frozen(model), torch.enable_grad():
        head: Any = model.head
        scale: torch.Tensor = model.output_scale  # type: ignore[assignment]
        shift: torch.Tensor = model.output_shift  # type: ignore[assignment]
        out = head(p) * scale + shift
        y = out[:, target]
        if output == "activation":
            y = torch.sigmoid(y)
        (g_pool,) = torch.autograd.grad(y.sum(), p)
    with torch.no_grad():
        zi = zb  # pre-activation at each channel's maximum
        if isinstance(act, Exp):
            slope = torch.where(zi <= 20.0, torch.exp(torch.clamp(zi, max=20.0)),
                                torch.zeros_like(zi))  # fmt: skip
        else:
            slope = (zi > 0).to(zi.dtype)
        coef = (g_pool * slope)[:, :, 0]  # (N, C)
        if bn_scale is not None:
            coef = coef * bn_scale[None]
        w = conv.weight  # (C, 4, k)
        n, c = coef.shape
        k = w.shape[2]
        pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
        length = x.shape[2]
        contrib = coef[:, :, None, None] * w[None]  # (N, C, 4, k)
        pos = idx[:, :, 0, None] - pad + torch.arange(k, device=x.device)  # (N, C, k)
        buf = torch.zeros(n, 4, length + 2 * k, dtype=x.dtype, device=x.device)
        index = (pos + k).clamp(0, length + 2 * k - 1)  # outside positions go to margins
        src = contrib.permute(0, 2, 1, 3).reshape(n, 4, c * k)
        buf.scatter_add_(2, index.reshape(n, 1, c * k).expand(n, 4, c * k), src)
        grad = buf[:, :, k : k + length]
    return grad, out.detach()


def gradient_x_input(
    model: nn.Module,
    x: torch.Tensor,
    *,
    target: int = 0,
    output: str = "logit",
    correct: bool = True,
    hypothetical: bool = False,
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
    hypothetical
        Return the (corrected) gradient itself, the "hypothetical contribution" of every
        base at every position, instead of its projection on the observed bases.

    Returns
    -------
    Attributions (N, 4, L) (zero except at observed bases, unless ``hypothetical``) and the
    raw predictions (N, T).
    """
    fast = _fast_input_gradient(model, x, target, output)
    if fast is not None:
        grad, out = fast
    else:
        from seqlantern.fastgrad import chunks

        outs, grads = [], []
        with frozen(model):
            for s in chunks(model, len(x)):
                xi = x[s].detach().clone().requires_grad_(True)
                out = model(xi)
                y = out[:, target]
                if output == "activation":
                    y = torch.sigmoid(y)
                grads.append(torch.autograd.grad(y.sum(), xi)[0])
                outs.append(out.detach())
        grad, out = torch.cat(grads), torch.cat(outs)
    if correct:
        grad = grad - grad.mean(dim=1, keepdim=True)
    if hypothetical:
        return grad.detach(), out.detach()
    return (grad * x).detach(), out.detach()


def attribute(
    model: nn.Module,
    onehot: RowSource,
    rows: np.ndarray,
    names: Sequence[str],
    out_npy: str | Path,
    out_predictions: str | Path,
    *,
    target: int = 0,
    target_names: list[str] | None = None,
    output: str = "logit",
    correct: bool = True,
    batch_size: int = 128,
    device: str = "cpu",
    transform: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    out_hypothetical: str | Path | None = None,
    method: str = "gradient_x_input",
    steps: int = 32,
    references: int = 8,
    seed: int = 0,
    baseline: str = "zero",
    rc_average: bool = False,
    position_offset: int = 0,
    check: bool = True,
    precision: str = "fp32",
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
    transform
        Optional ``f(batch, output_positions) -> batch`` applied before attribution (used
        for shuffled controls: :func:`attribute_controls`).
    out_hypothetical
        Optional ``.npy`` for the hypothetical contributions (the corrected gradient at all
        four bases), which describe what the model would prefer at each position and make
        better motif queries than the observed sequence alone.
    method, steps, references, seed, baseline, rc_average
        Attribution method (:data:`seqlantern.methods.METHODS`; default gradient x input)
        and its options (integration steps, shuffled references, their seed, the
        integrated-gradients baseline, reverse-complement averaging; see
        :func:`seqlantern.methods.hypothetical`).
    position_offset
        Position of ``rows[0]`` in the whole selection when this call attributes one
        shard of it: random draws (shuffled controls, references) are seeded by the
        position in the whole selection, so a shard's maps equal the unsharded run's rows.
    check
        For integrated and expected gradients (without ``rc_average``): the completeness
        error of every sequence (:func:`seqlantern.methods.completeness_error`) goes to
        the predictions table (``completeness_error``) and a summary to the log, with a
        warning when any sequence is off by more than :data:`COMPLETENESS_WARN`.
    precision
        ``fp32``, or ``bf16``: the gradient methods run under bfloat16 autocast
        (1.2-3.3x faster on a CPU with bf16 units, measured in ``benchmarks/README.md``;
        maps to about 2-3 significant digits). The first batch is also attributed in
        fp32 and the agreement (Pearson of the observed-base maps, largest difference)
        is logged, with a warning below
        :data:`BF16_WARN`; predictions are always fp32. ISM is refused: its effects are
        differences of outputs that bf16 cannot resolve.
    """
    from seqlantern.methods import PATH_METHODS, completeness_error, hypothetical, observed

    if output not in ("logit", "activation"):
        raise SeqlanternError(f"attribution.output {output!r} must be logit or activation")
    if precision not in ("fp32", "bf16"):
        raise SeqlanternError(f"attribution.precision {precision!r} must be fp32 or bf16")
    if precision == "bf16" and method in ("ism", "ism_l2"):
        raise SeqlanternError(
            f"attribution.precision bf16 with method {method}: ISM effects are differences "
            "of outputs that bf16 rounds away; use precision fp32 for ISM")  # fmt: skip
    model = model.to(device).eval()
    n, _, length = len(rows), onehot.shape[1], onehot.shape[2]
    preds: list[np.ndarray] = []
    errors: list[np.ndarray] = []
    check = check and method in PATH_METHODS and not rc_average

    fast: list[nn.Module] = []  # the gradient methods' model, prepared on the first batch

    def maps(xb: torch.Tensor, seed_i: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Hypothetical contributions (fp32) and, when they come with it, the predictions."""
        if not fast:
            fast.append(_gradient_model(model, xb, method, precision))
        m = fast[0]
        if method == "gradient_x_input" and not rc_average:
            grad, pr = gradient_x_input(m, xb, target=target, output=output,
                                        correct=correct, hypothetical=True)  # fmt: skip
            return grad.float(), pr
        grad = hypothetical(method, m, xb, target=target, output=output, correct=correct,
                            steps=steps, references=references, seed=seed_i,
                            baseline=baseline, rc_average=rc_average)  # fmt: skip
        return grad.float(), torch.empty(0)

    paths = [out_npy, out_predictions] + ([out_hypothetical] if out_hypothetical else [])
    with atomic_outputs(*paths) as tmps:
        tmp_npy, tmp_pred = tmps[0], tmps[1]
        out = open_npy_writer(tmp_npy, (n, 4, length), np.float32)
        hyp = open_npy_writer(tmps[2], (n, 4, length), np.float32) if out_hypothetical else None
        progress = Progress(f"attribute {Path(out_npy).name}", n)
        for i in range(0, n, batch_size):
            progress.update(i)
            b = rows[i : i + batch_size]
            xn = np.asarray(onehot[b], dtype=np.float32)
            if transform is not None:
                xn = transform(xn, position_offset + np.arange(i, i + len(b)))
            xb = torch.from_numpy(xn).to(device)
            if precision == "bf16":
                with torch.autocast(torch.device(device).type, dtype=torch.bfloat16):
                    grad, pr = maps(xb, seed + position_offset + i)
                if i == 0:
                    full = maps(xb, seed + position_offset)[0]
                    _report_bf16(observed(method, grad, xb), observed(method, full, xb))
                pr = torch.empty(0)  # predictions in fp32
            else:
                grad, pr = maps(xb, seed + position_offset + i)
            obs = observed(method, grad, xb)
            if pr.numel() == 0:
                with torch.no_grad():
                    pr = model(xb)
            if check:
                err = completeness_error(method, model, xb, grad, target=target, output=output,
                                         references=references, seed=seed + position_offset + i,
                                         baseline=baseline)  # fmt: skip
                errors.append(err if err is not None else np.full(len(b), np.nan))
            if not bool(torch.isfinite(pr).all()):
                k = int(torch.nonzero(~torch.isfinite(pr).all(dim=1))[0, 0])
                name = str(np.asarray(names)[i + k])
                raise SeqlanternError(
                    f"the model's output for sequence {name!r} (row {int(b[k])}) is NaN/inf: "
                    "its maps would be NaN; check the model and that sequence"
                )
            out[i : i + len(b)] = obs.float().cpu().numpy()
            if hyp is not None:
                hyp[i : i + len(b)] = grad.float().cpu().numpy()
            # a copy: a view would keep each batch's torch allocation alive (measured:
            # ~3 KB per sequence, 9 GB at 10^6 sequences)
            preds.append(pr.float().cpu().numpy().copy())
        progress.update(n)
        out.close()
        if hyp is not None:
            hyp.close()
        if preds:
            pred = np.concatenate(preds)
        else:  # an empty shard: keep the prediction columns of the others
            with torch.no_grad():
                n_out = model(torch.zeros((1, 4, length), device=device)).shape[1]
            pred = np.zeros((0, n_out), dtype=np.float32)
        tn = target_names or [str(j) for j in range(pred.shape[1])]
        if len(tn) != pred.shape[1]:
            tn = [str(j) for j in range(pred.shape[1])]
        # the table in blocks: the names of millions of controls are never all held
        with open(tmp_pred, "w") as fh:
            for a in range(0, max(n, 1), 100_000):
                df = pd.DataFrame({"name": list(names[a : a + 100_000]),
                                   "row": rows[a : a + 100_000]})  # fmt: skip
                for j, t in enumerate(tn):
                    df[f"pred_{t}"] = pred[a : a + 100_000, j]
                    if output == "activation":
                        df[f"prob_{t}"] = 1 / (1 + np.exp(-pred[a : a + 100_000, j]))
                if check:
                    df["completeness_error"] = np.concatenate(errors)[a : a + 100_000] if (
                        errors) else np.zeros(0)  # fmt: skip
                df.to_csv(fh, sep="\t", index=False, header=a == 0, float_format="%.6g")
    if check and errors:
        _report_completeness(np.concatenate(errors), method, steps)


GRADIENT_METHODS = ("gradient_x_input", "saliency", "integrated_gradients", "expected_gradients")
"""Methods computed from input gradients alone (they take :mod:`seqlantern.fastgrad`)."""


def _gradient_model(model: nn.Module, x: torch.Tensor, method: str, precision: str) -> nn.Module:
    """The model the gradient methods run on: :func:`seqlantern.fastgrad.prepare`'s
    version (checked on seeded probes of ``x``'s shape) for fp32 gradient methods on
    models users bring; ``model`` otherwise (seqlantern's own CNN, ISM and Grad-CAM,
    which read the module itself, and bf16 autocast, which runs the module's own
    layers)."""
    from seqlantern.fastgrad import GradientModel, prepare

    if method not in GRADIENT_METHODS or precision != "fp32":
        return model
    from seqlantern.models import SeqCNN

    # seqlantern's own CNN (alone, in ensembles or k-mer blends) keeps its paths:
    # measured, the traced path gains nothing there, and its maps stay byte-identical
    # to earlier runs (the demo's and the held-out validity figures)
    if any(isinstance(m, SeqCNN) for m in model.modules()):
        return model
    fast = prepare(model, x)
    if isinstance(fast, GradientModel):
        print(f"[attribute] gradient path: {fast.summary}", flush=True)
    else:
        print("[attribute] gradient path: the module as given (plain autograd)", flush=True)
    return fast


COMPLETENESS_WARN = 0.05  # relative error past which a path method's maps are not converged

BF16_WARN = 0.99
"""Pearson of bf16 against fp32 observed-base maps (first batch) below which the log warns."""


def _report_bf16(low: torch.Tensor, full: torch.Tensor) -> None:
    """Log how far the first batch's bf16 maps are from its fp32 maps, and warn when the
    two disagree (then the run's maps are not the model's to 2 digits: use fp32)."""
    a, b = low.flatten().double(), full.flatten().double()
    r = float(torch.corrcoef(torch.stack([a, b]))[0, 1]) if float(b.std()) > 0 else 1.0
    diff = float((a - b).abs().max()) / max(float(b.abs().max()), 1e-30)
    print(f"[attribute] bf16 check (first batch against fp32): Pearson {r:.4f}, largest "
          f"difference {diff:.3g} of the largest value", flush=True)  # fmt: skip
    if r < BF16_WARN:
        print(f"[attribute] WARNING: bf16 maps agree with fp32 only to Pearson {r:.3f} "
              f"(< {BF16_WARN}): set attribution.precision: fp32", flush=True)  # fmt: skip


def _report_completeness(err: np.ndarray, method: str, steps: int) -> None:
    """One summary line of the completeness check, and a warning when it fails."""
    bad = int(np.sum(err > COMPLETENESS_WARN))
    print(f"[attribute] {method} completeness: median relative error "
          f"{float(np.median(err)):.3g}, max {float(np.max(err)):.3g}", flush=True)  # fmt: skip
    if bad:
        print(f"[attribute] WARNING: {bad} of {len(err)} sequences' maps do not add up to "
              f"f(x) - f(reference) (error > {COMPLETENESS_WARN:.0%}): the path integral has "
              f"not converged with {steps} steps; raise attribution.steps "
              "(column completeness_error in the predictions)", flush=True)  # fmt: skip


class _CopyNames(Sequence[str]):
    """``<name>#shuf<j>`` for every name and copy, made only when a slice is asked for."""

    def __init__(self, names: Sequence[str], copies: int) -> None:
        self.names, self.copies = names, copies

    def __len__(self) -> int:
        return len(self.names) * self.copies

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, int):
            return f"{self.names[key // self.copies]}#shuf{key % self.copies}"
        return [self[i] for i in range(*key.indices(len(self)))]


def attribute_controls(
    model: nn.Module,
    onehot: RowSource,
    rows: np.ndarray,
    names: list[str],
    out_npy: str | Path,
    out_predictions: str | Path,
    *,
    shuffles: int = 5,
    seed: int = 0,
    position_offset: int = 0,
    **options: object,
) -> None:
    """Attribute ``shuffles`` dinucleotide-shuffled copies of each sequence in ``rows``.

    Output row ``i * shuffles + j`` is copy ``j`` of ``rows[i]``, named ``<name>#shuf<j>``;
    each copy is seeded by (seed, its output position), so controls do not depend on the
    batch size. Same model, target and method options as :func:`attribute`;
    ``position_offset`` is the position of ``rows[0]`` in the whole selection (a shard's
    copies are then those of the unsharded run).
    """
    from seqlantern.shuffle import shuffle_onehot

    if shuffles < 1:
        raise SeqlanternError("the number of shuffles must be >= 1")
    rep_rows = np.repeat(np.asarray(rows), shuffles)
    rep_names = _CopyNames(names, shuffles)

    def shuffle_batch(xb: np.ndarray, positions: np.ndarray) -> np.ndarray:
        out = np.empty_like(xb)
        for k, pos in enumerate(positions):
            rng = np.random.default_rng([seed, int(pos)])
            out[k] = shuffle_onehot(xb[k], rng)
        return out

    attribute(model, onehot, rep_rows, rep_names, out_npy, out_predictions,
              transform=shuffle_batch, position_offset=position_offset * shuffles,
              **options)  # type: ignore[arg-type]  # fmt: skip
