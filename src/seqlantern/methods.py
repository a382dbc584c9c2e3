"""Attribution methods beside gradient x input, each returning hypothetical contributions.

Every method returns an (N, 4, L) array of *hypothetical* contributions: what each of
the four bases at each position would contribute. The observed-base map used for seqlets
is that array times the one-hot input (:func:`observed`), exactly as for gradient x input;
for path methods (integrated and expected gradients) it is the sum over the four input
channels, put on the observed base.

Why several: a gradient is a local slope. A neuron that is certain (saturated) has a
near-zero gradient whatever the sequence, ReLUs block signal from inactive units, and
the map of a single slope can miss what a whole base change does. Integrated gradients
and expected gradients integrate the slope along a path from a reference; in-silico
mutagenesis (ISM) measures the prediction change of every substitution directly.

- ``saliency``: |gradient| (Simonyan et al. 2014), unsigned, all four bases.
- ``integrated_gradients``: (x - r) x the mean gradient at ``steps`` points on the line
  from a reference r to x (midpoint rule; Sundararajan et al. 2017); r = all-zero or a
  dinucleotide shuffle of x. Completeness: the contributions sum to f(x) - f(r) as the
  steps grow.
- ``expected_gradients``: the same averaged over ``references`` dinucleotide-shuffled
  references (DeepLIFT-SHAP / expected-gradients style averaging, Lundberg & Lee 2017,
  Erion et al. 2021), so no single arbitrary reference decides the map.
- ``ism``: f(x with base b at position p) - f(x), for every p and b (0 at the observed
  base), then centred over the four bases. :func:`ism` uses an incremental fast path for
  one-convolution models with a global max pool (the default architecture): the first
  layer's output is cached, each substitution changes only the ``kernel`` positions that
  see it, and the pooled maximum is updated from prefix/suffix maxima; it is exact
  (checked against the naive loop in the tests). Any other traceable network (BPNet,
  DeepSTARR, residual or dilated CNNs, models behind ``model.output``) takes the windowed
  recomputation of :mod:`seqlantern.fastism` (fastISM-style: each layer recomputes only
  the positions a substitution can reach), checked against full forward passes on probe
  mutants; the naive loop is the fallback.
- ``ism_l2``: the L2 norm of the centred ISM effects over the four bases at each
  position (the reduction of Koo & Ploenzke 2021 and of tangermeme/kipoi comparisons):
  unsigned, how much the prediction moves when the position changes, whichever way; put
  on every base (its hypothetical contributions carry no base preference).
- ``grad_cam``: 1-D Grad-CAM on the first convolution layer (Selvaraju et al. 2017), a
  coarse region map (non-negative, one value per position, spread on the observed base).

The gradient methods take whatever module they are given; the attribution stage gives
them :func:`seqlantern.fastgrad.prepare`'s version of a foreign model (pruned to the
attributed output, faster backward kernels, cache-sized chunks; checked against plain
autograd), whose chunks :func:`seqlantern.fastgrad.chunks` hands out here.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from seqlantern.io import SeqlanternError
from seqlantern.shuffle import shuffle_onehot

METHODS = ("gradient_x_input", "saliency", "integrated_gradients", "expected_gradients", "ism",
           "ism_l2", "grad_cam")  # fmt: skip
"""Method names accepted by ``attribution.method``."""


def _output(model: nn.Module, x: torch.Tensor, target: int, output: str) -> torch.Tensor:
    y = model(x)[:, target]
    return torch.sigmoid(y) if output == "activation" else y


def _grad(model: nn.Module, x: torch.Tensor, target: int, output: str) -> torch.Tensor:
    from seqlantern.attribute import frozen
    from seqlantern.fastgrad import chunks

    grads = []
    with frozen(model):
        for s in chunks(model, len(x)):
            xi = x[s].detach().clone().requires_grad_(True)
            grads.append(torch.autograd.grad(_output(model, xi, target, output).sum(), xi)[0])
    return torch.cat(grads).detach()


PATH_METHODS = ("integrated_gradients", "expected_gradients")
"""Methods whose maps attribute every input channel along a path from a reference."""


def observed(method: str, maps: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The observed-base map of a method's (N, 4, L) output.

    Gradient-like maps (hypothetical contributions) are multiplied by the one-hot input.
    Path methods attribute the reference's bases too (x - r is -1 there); their sum over
    the four channels is the position's contribution, put on the observed base.
    """
    if method in PATH_METHODS:
        return x * maps.sum(dim=1, keepdim=True)
    return maps * x


def gradient_x_input(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    correct: bool = True,
) -> torch.Tensor:  # fmt: skip
    """Mean-corrected gradient (its product with ``x`` is gradient x input)."""
    g = _grad(model, x, target, output)
    return g - g.mean(dim=1, keepdim=True) if correct else g


def saliency(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit"
) -> torch.Tensor:
    """|gradient| at every base (captum's ``Saliency``)."""
    return _grad(model, x, target, output).abs()


def integrated_gradients(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    baseline: torch.Tensor | None = None, steps: int = 32,
) -> torch.Tensor:  # fmt: skip
    """(x - r) x mean gradient on the path r -> x (midpoint rule, ``steps`` points).

    ``baseline`` defaults to all zeros. Returned as the attribution of every base's
    input value (zero where x and r agree), like captum's ``IntegratedGradients``.
    """
    r = torch.zeros_like(x) if baseline is None else baseline
    total = torch.zeros_like(x)
    for k in range(steps):
        a = (k + 0.5) / steps
        total += _grad(model, r + a * (x - r), target, output)
    return (x - r) * total / steps


def shuffled_references(x: torch.Tensor, references: int, seed: int) -> list[torch.Tensor]:
    """The ``references`` dinucleotide-shuffled references of a batch (seeded): those of
    :func:`expected_gradients` (one per call: the shuffled integrated-gradients
    baseline)."""
    xs = x.detach().cpu().numpy()
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(np.stack([shuffle_onehot(s, rng) for s in xs]).astype(
        np.float32)).to(x.device) for _ in range(references)]  # fmt: skip


def expected_gradients(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    references: int = 8, steps: int = 8, seed: int = 0,
) -> torch.Tensor:  # fmt: skip
    """Integrated gradients averaged over dinucleotide-shuffled references (seeded)."""
    total = torch.zeros_like(x)
    for ref in shuffled_references(x, references, seed):
        total += integrated_gradients(model, x, target=target, output=output, baseline=ref,
                                      steps=steps)  # fmt: skip
    return total / references


def completeness_error(
    method: str, model: nn.Module, x: torch.Tensor, maps: torch.Tensor, *, target: int = 0,
    output: str = "logit", references: int = 8, seed: int = 0, baseline: str = "zero",
) -> np.ndarray | None:  # fmt: skip
    """Per sequence, how far a path method's maps are from adding up (completeness).

    Integrated gradients satisfy sum(maps) = f(x) - f(r) once the path integral has
    converged (expected gradients: the mean over the references). Returns
    |sum(maps) - (f(x) - f(r))| / max(|f(x) - f(r)|, median of that over the batch) per
    sequence, or ``None`` for methods without the property. A large error means too few
    ``steps``: the maps are then not what the method promises, silently (captum #1082,
    tangermeme #47).
    """
    if method not in PATH_METHODS:
        return None
    with torch.no_grad():
        fx = _output(model, x, target, output)
        if method == "integrated_gradients":
            refs = ([torch.zeros_like(x)] if baseline == "zero"
                    else shuffled_references(x, 1, seed))  # fmt: skip
        else:
            refs = shuffled_references(x, references, seed)
        delta = torch.stack([fx - _output(model, r, target, output) for r in refs]).mean(0)
    total = maps.detach().sum(dim=(1, 2))
    # relative to |delta|, but never to less than the batch's median |delta|: where f(x)
    # and f(r) happen to be nearly equal a relative error means nothing
    scale = torch.maximum(delta.abs(), delta.abs().median()).clamp_min(1e-6)
    return ((total - delta).abs() / scale).double().cpu().numpy()


def _fast_ism_layers(
    model: nn.Module,
) -> tuple[nn.Conv1d, nn.BatchNorm1d | None, nn.Module] | None:
    """(conv, batch norm or None, activation) for a :class:`SeqCNN` with one conv block
    and a global max pool (its forward is known: head(body(x)) x scale + shift)."""
    from seqlantern.models import SeqCNN

    if not isinstance(model, SeqCNN) or model.rc_average:
        return None
    body = model.body
    if not isinstance(body, nn.Sequential):
        return None
    layers = list(body)
    if len(layers) not in (3, 4) or not isinstance(layers[0], nn.Conv1d):
        return None
    if not isinstance(layers[-1], nn.AdaptiveMaxPool1d) or layers[-1].output_size not in (1, (1,)):
        return None
    bn = layers[1] if len(layers) == 4 else None
    if bn is not None and not isinstance(bn, nn.BatchNorm1d):
        return None
    conv, act = layers[0], layers[-2]
    if conv.stride != (1,) or conv.dilation != (1,) or conv.groups != 1:
        return None
    return conv, bn, act


def _ism_naive(
    model: nn.Module, x: torch.Tensor, target: int, output: str, batch_size: int
) -> torch.Tensor:
    n, _, length = x.shape
    out = torch.zeros_like(x)
    with torch.no_grad():
        ref = _output(model, x, target, output)
        for i in range(n):
            muts = x[i].repeat(4 * length, 1, 1)
            for p in range(length):
                muts[4 * p : 4 * p + 4, :, p] = torch.eye(4, device=x.device)
            preds = torch.cat([_output(model, muts[j : j + batch_size], target, output)
                               for j in range(0, len(muts), batch_size)])  # fmt: skip
            out[i] = preds.view(length, 4).T - ref[i]
    return out


def _ism_fast(
    model: nn.Module, x: torch.Tensor, target: int, output: str,
    layers: tuple[nn.Conv1d, nn.BatchNorm1d | None, nn.Module],
) -> torch.Tensor:  # fmt: skip
    conv, bn, act = layers
    head: Callable[[torch.Tensor], torch.Tensor] = model.head  # type: ignore[assignment]
    n, _, length = x.shape
    w = conv.weight  # (C, 4, k)
    k = w.shape[2]
    pad = conv.padding[0] if isinstance(conv.padding, tuple) else 0
    out = torch.zeros_like(x)
    with torch.no_grad():
        ref_out = _output(model, x, target, output)
        pre = conv(x)  # (N, C, L') before batch norm and activation
        lp = pre.shape[2]
        # Batch norm (eval) is affine per channel and the activation monotone, so the
        # pooled maximum of a channel sits at the maximum of s * z, s = the sign of the
        # batch-norm slope (1 without batch norm): work on s * z, activate the winners.
        if bn is not None:
            var: torch.Tensor = bn.running_var  # type: ignore[assignment]
            sgn = torch.sign(bn.weight / torch.sqrt(var + bn.eps))
            sgn = torch.where(sgn == 0, torch.ones_like(sgn), sgn)
        else:
            sgn = torch.ones(w.shape[0], device=x.device)
        pos = torch.arange(length, device=x.device)
        taps = torch.arange(k, device=x.device)
        jj = pos[:, None] + pad - taps[None, :]  # (L, k): output j seeing p through tap t
        valid = (jj >= 0) & (jj < lp)
        jc = jj.clamp(0, lp - 1)
        j0 = (pos + pad - k + 1).clamp(min=0)  # first / last output touched by p
        j1 = (pos + pad).clamp(max=lp - 1)
        scale: torch.Tensor = model.output_scale  # type: ignore[assignment]
        shift: torch.Tensor = model.output_shift  # type: ignore[assignment]
        wt = w.permute(1, 0, 2)  # (4, C, k)
        neg = torch.tensor(-torch.inf, device=x.device)
        for i in range(n):
            xi = x[i]
            obs = xi.argmax(dim=0)
            has = (xi.sum(dim=0) > 0).to(w.dtype)
            sz = pre[i] * sgn[:, None]  # (C, L')
            # maxima of s*z outside each window, from prefix and suffix maxima
            pref = torch.cummax(sz, dim=1).values
            suf = torch.flip(torch.cummax(torch.flip(sz, [1]), dim=1).values, [1])
            left = torch.where(j0 > 0, pref[:, (j0 - 1).clamp(min=0)], neg)  # (C, L)
            right = torch.where(j1 < lp - 1, suf[:, (j1 + 1).clamp(max=lp - 1)], neg)
            rest = torch.maximum(left, right).T  # (L, C)
            # z in each window after each substitution: z - w[obs] + w[b], per tap
            zw = pre[i][:, jc]  # (C, L, k)
            old = wt[obs][:, :, :] * has[:, None, None]  # (L, C, k)
            zz = zw.permute(1, 0, 2)[:, None] - old[:, None] + wt[None]  # (L, 4, C, k)
            szz = torch.where(valid[:, None, None, :], zz * sgn[None, None, :, None], neg)
            best = torch.maximum(szz.max(dim=3).values, rest[:, None, :])  # (L, 4, C)
            zbest = best * sgn[None, None, :]
            if bn is not None:
                zbest = bn(zbest.reshape(length * 4, -1, 1))[:, :, 0].reshape(length, 4, -1)
            pool = act(zbest).reshape(length * 4, -1, 1)
            y = head(pool)[:, target] * scale[target] + shift[target]
            if output == "activation":
                y = torch.sigmoid(y)
            out[i] = y.view(length, 4).T - ref_out[i]
    return out


def ism(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    fast: bool = True, batch_size: int = 512,
) -> torch.Tensor:  # fmt: skip
    """Centred in-silico mutagenesis: f(x with b at p) - f(x), minus its mean over b.

    With ``fast``: the incremental path (see the module docstring) when the model is one
    convolution + activation + global max pool followed by a head; otherwise
    :func:`seqlantern.fastism.ism_windowed`: the change of each layer only
    (:mod:`seqlantern.deltaism`) on stacks of stride-1 convolutions, activations and
    residual sums, else windowed values (any traceable network: only the positions a
    substitution can change are recomputed, layer by layer); the naive loop (every
    substitution predicted in full, in batches) when neither applies.
    """
    from seqlantern.fastism import ism_windowed

    model.eval()
    layers = _fast_ism_layers(model) if fast else None
    d = None
    if layers is not None:
        d = _ism_fast(model, x, target, output, layers)
    elif fast:
        d = ism_windowed(model, x, target=target, output=output, batch_size=batch_size)
    if d is None:
        d = _ism_naive(model, x, target, output, batch_size)
    return d - d.mean(dim=1, keepdim=True)


def grad_cam(
    model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    centred: bool = False,
) -> torch.Tensor:  # fmt: skip
    """1-D Grad-CAM on the first convolution block's activations, on the observed bases.

    cam(j) = ReLU(sum_c alpha_c A_c(j)) with alpha_c the mean gradient of the output over
    positions of channel c; returned as (N, 4, L) with the map on every base, so that
    :func:`observed` puts it on the observed base.

    ``centred``: ReLU(s(j) - median_j s(j)) instead. Grad-CAM's ReLU assumes activations
    at zero away from the evidence, as after a ReLU; after an exponential, softplus or
    tanh first layer every position is active and the weighted sum can be negative
    everywhere (on the demo's exp model it was, for every sequence), so the plain map
    is empty. Relative to its median the evidence stands out again; for ReLU models,
    whose median is ~0, little changes.
    """
    body = getattr(model, "body", None)
    if not isinstance(body, nn.Sequential) or not isinstance(body[0], nn.Conv1d):
        raise SeqlanternError("grad_cam needs a model whose body starts with a Conv1d")
    acts: list[torch.Tensor] = []
    # the first activation module after the conv (skipping batch norm)
    first_act = next(m for m in list(body)[1:] if not isinstance(m, nn.BatchNorm1d))
    handle = first_act.register_forward_hook(lambda _m, _i, o: acts.append(o))
    try:
        y = _output(model, x, target, output)
    finally:
        handle.remove()
    a = acts[0]
    (g,) = torch.autograd.grad(y.sum(), a)
    alpha = g.mean(dim=2, keepdim=True)
    raw = (alpha * a).sum(dim=1).detach()  # (N, L')
    if centred:
        raw = raw - raw.median(dim=1, keepdim=True).values
    cam = torch.relu(raw)
    if cam.shape[1] != x.shape[2]:
        cam = torch.nn.functional.interpolate(cam[:, None], size=x.shape[2], mode="linear",
                                              align_corners=False)[:, 0]  # fmt: skip
    return cam[:, None, :].expand(-1, 4, -1).contiguous()


def _one(
    method: str, model: nn.Module, x: torch.Tensor, *, target: int, output: str,
    correct: bool, steps: int, references: int, seed: int, baseline: str,
) -> torch.Tensor:  # fmt: skip
    if method == "gradient_x_input":
        return gradient_x_input(model, x, target=target, output=output, correct=correct)
    if method == "saliency":
        return saliency(model, x, target=target, output=output)
    if method == "integrated_gradients":
        ref = None
        if baseline == "shuffled":
            ref = shuffled_references(x, 1, seed)[0]
        elif baseline != "zero":
            raise SeqlanternError(f"attribution.baseline {baseline!r}: zero or shuffled")
        return integrated_gradients(model, x, target=target, output=output, baseline=ref,
                                    steps=steps)  # fmt: skip
    if method == "expected_gradients":
        return expected_gradients(
            model,
            x,
            target=target,
            output=output,
            references=references,
            steps=max(steps // 4, 1),
            seed=seed,
        )
    if method == "ism":
        return ism(model, x, target=target, output=output)
    if method == "ism_l2":
        d = ism(model, x, target=target, output=output)
        return d.pow(2).sum(dim=1, keepdim=True).sqrt().expand(-1, 4, -1).contiguous()
    if method == "grad_cam":
        return grad_cam(model, x, target=target, output=output)
    raise SeqlanternError(f"attribution.method {method!r} unknown; known: {list(METHODS)}")


def hypothetical(
    method: str, model: nn.Module, x: torch.Tensor, *, target: int = 0, output: str = "logit",
    correct: bool = True, steps: int = 32, references: int = 8, seed: int = 0,
    baseline: str = "zero", rc_average: bool = False,
) -> torch.Tensor:  # fmt: skip
    """Dispatch ``method`` (one of :data:`METHODS`) on a batch.

    ``baseline`` (integrated gradients): ``zero`` or ``shuffled`` (one seeded
    dinucleotide shuffle per sequence). ``rc_average``: average the map of ``x`` with the
    map of its reverse complement turned back (positions and bases flipped), which
    removes strand asymmetries the model has no reason to have (for strand-symmetric
    assays only).
    """
    opts = {"target": target, "output": output, "correct": correct, "steps": steps,
            "references": references, "seed": seed, "baseline": baseline}  # fmt: skip
    h = _one(method, model, x, **opts)  # type: ignore[arg-type]
    if rc_average:
        rc = torch.flip(x, dims=[1, 2])  # ACGT: complement = reversed channels
        h = 0.5 * (h + torch.flip(_one(method, model, rc, **opts), dims=[1, 2]))  # type: ignore[arg-type]
    return h
