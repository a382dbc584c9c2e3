"""Model architectures, the model registry, and safe checkpoint loading.

Input layout for every model, built in or foreign: a float tensor ``(N, 4, L)``, one-hot
in alphabet order ``A, C, G, T`` (all-zero columns for N / padding); output ``(N, T)``,
one column per target, *before* any final activation (a logit for binary tasks).

Checkpoints are a weights file plus a JSON of hyper-parameters. Weights are read with
safetensors or with ``torch.load(weights_only=True)``: never by unpickling arbitrary
objects, so a checkpoint downloaded from elsewhere cannot run code on load.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from seqlantern.io import SeqlanternError, atomic_outputs


class Exp(nn.Module):
    """Exponential activation (Koo & Ploenzke, Nat. Mach. Intell. 2021).

    In the first layer it makes filters respond only to strong motif matches: a partial
    match gives exp(negative) ~ 0 and, because d exp(z)/dz = exp(z), almost no gradient,
    so background bases get little attribution and maps are cleaner than with ReLU.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Element-wise exp, clamped to avoid overflow early in training."""
        return torch.exp(torch.clamp(x, max=20.0))


GLOBAL_POOLS = ("max", "avg", "maxavg", "none")

# Activations of the convolution blocks. Their gradients differ in what attribution
# sees: ReLU passes none through an "off" unit, leaky ReLU and ELU a little, softplus a
# smooth share; sigmoid and tanh saturate (no gradient far from 0); the exponential
# makes first-layer filters answer only strong matches (cleanest maps, Koo & Ploenzke
# 2021). ``seqlantern compare-activations`` measures this on a user's data.
ACTIVATIONS: dict[str, Any] = {
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.01),
    "exp": Exp,
    "softplus": nn.Softplus,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
}
ACTIVATION_TYPES = (nn.ReLU, nn.LeakyReLU, Exp, nn.Softplus, nn.Sigmoid, nn.Tanh, nn.ELU)


def make_activation(name: str, *, key: str = "activation") -> nn.Module:
    """A fresh activation module by name (:data:`ACTIVATIONS`); a typo is one line."""
    if name not in ACTIVATIONS:
        import difflib

        near = difflib.get_close_matches(name, list(ACTIVATIONS), n=1)
        raise SeqlanternError(
            f"model {key} {name!r}: one of {', '.join(ACTIVATIONS)}"
            + (f" (did you mean {near[0]}?)" if near else "")
        )
    return ACTIVATIONS[name]()


# What ``seqlantern train`` builds for ``architecture: cnn`` unless ``train.options`` says
# otherwise (the constructor's own defaults are the small single-strand model the fast
# attribution paths are exact for). Measured on the shipped real libraries and the demo
# (benchmarks/training.py, figures in benchmarks/README.md): averaging over pooling
# (``maxavg``) and strands (``rc_average``) with dropout is what brings the CNN to the
# k-mer baseline on a few thousand sequences, and the exponential first layer keeps the
# maps sparse (Koo & Ploenzke 2021); batch norm made the small libraries worse.
TRAIN_CNN_OPTIONS: dict[str, object] = {
    "first_activation": "exp",
    "global_pool": "maxavg",
    "rc_average": True,
    "dropout": 0.3,
}


class MaxAvgPool(nn.Module):
    """Global max and mean over positions, side by side: ``(N, C, L) -> (N, C, 2)``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stack the per-channel maximum and mean."""
        return torch.stack((x.amax(dim=2), x.mean(dim=2)), dim=2)


class SeqCNN(nn.Module):
    """A small convolutional regressor/classifier (Basset/DeepSTARR family).

    Convolution blocks (conv -> [batch norm] -> ReLU -> [max pool]) learn motif detectors;
    a global max pool then keeps each detector's best match anywhere in the sequence
    (``global_pool="max"``), which suits libraries where a site's effect does not depend on
    its exact position, or a flatten keeps positions (``global_pool="none"``). A dense
    head combines detectors, so cooperative pairs can be learned. The first layer is wide
    (15 bp by default) so that whole TF sites fit in one filter, which keeps gradient maps
    motif-shaped. ``output_scale``/``output_shift`` buffers map standardised training
    targets back to the user's units, so predictions are in the units of the targets TSV.

    Parameters
    ----------
    n_targets
        Number of outputs.
    length
        Input length (needed by the flatten head).
    filters
        Channels of each convolution block.
    kernel_sizes
        Kernel width of each block.
    pool
        Max-pool width after each block (1: none).
    global_pool
        ``max`` (best match anywhere), ``avg`` (mean over positions: how much of each
        detector's pattern the sequence holds, like a soft k-mer count), ``maxavg`` (both,
        concatenated) or ``none`` (flatten). Activity often grows with the number of
        sites and with composition, which a max alone cannot see: on the shipped real
        libraries ``maxavg`` is what lifts the CNN above a k-mer count baseline.
    batch_norm
        Batch normalisation in each block.
    first_activation
        Activation of the first block (:data:`ACTIVATIONS`: ``relu``, ``leaky_relu``,
        ``exp`` (exponential, see :class:`Exp`), ``softplus``, ``sigmoid``, ``tanh``,
        ``elu``).
    activation
        Activation of the later blocks (same choices; ``relu`` by default).
    dense
        Width of the hidden dense layer.
    dropout
        Dropout before the output layer.
    rc_average
        Predict the mean of the outputs for the sequence and its reverse complement. A
        strand-symmetric assay (enhancer activity, accessibility) then gets a
        strand-symmetric model by construction, predictions average two views (less
        variance), and the input gradient is the mean of both strands' maps. It doubles
        the cost of every pass. Training with it (not only predicting) matters on small
        libraries: applied at prediction time only, after reverse-complement augmentation,
        the DeepSTARR sample's model stopped at epoch 8 with test Pearson ~0 (against
        0.33/0.41 trained with it). Do not use it for strand-specific readouts.
    """

    output_scale: torch.Tensor
    output_shift: torch.Tensor

    def __init__(
        self,
        n_targets: int = 1,
        *,
        length: int = 200,
        filters: tuple[int, ...] | list[int] = (128,),
        kernel_sizes: tuple[int, ...] | list[int] = (15,),
        pool: tuple[int, ...] | list[int] = (1,),
        global_pool: str = "max",
        batch_norm: bool = False,
        first_activation: str = "exp",
        activation: str = "relu",
        dense: int = 64,
        dropout: float = 0.0,
        rc_average: bool = False,
    ) -> None:
        super().__init__()
        if not (len(filters) == len(kernel_sizes) == len(pool)) or not filters:
            raise SeqlanternError("model filters, kernel_sizes and pool need the same length")
        if global_pool not in GLOBAL_POOLS:
            raise SeqlanternError(
                f"model global_pool {global_pool!r} must be one of {', '.join(GLOBAL_POOLS)}"
            )
        self.rc_average = bool(rc_average)
        layers: list[nn.Module] = []
        acts = [make_activation(first_activation, key="first_activation")]
        acts += [make_activation(activation) for _ in filters[1:]]
        c_in, cur = 4, length
        for i, (f, k, p) in enumerate(zip(filters, kernel_sizes, pool, strict=True)):
            layers.append(nn.Conv1d(c_in, f, k, padding=k // 2))
            if batch_norm:
                layers.append(nn.BatchNorm1d(f))
            layers.append(acts[i])
            if p > 1:
                layers.append(nn.MaxPool1d(p))
            cur = (cur + 2 * (k // 2) - k + 1) // max(p, 1)
            c_in = f
        if global_pool == "max":
            layers.append(nn.AdaptiveMaxPool1d(1))
            cur = 1
        elif global_pool == "avg":
            layers.append(nn.AdaptiveAvgPool1d(1))
            cur = 1
        elif global_pool == "maxavg":
            layers.append(MaxAvgPool())
            cur = 2
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * cur, dense),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(dense, n_targets),
        )
        self.register_buffer("output_scale", torch.ones(n_targets))
        self.register_buffer("output_shift", torch.zeros(n_targets))

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        """Outputs on the standardised training scale (before ``output_scale/shift``)."""
        out = self.head(self.body(x))
        if self.rc_average:
            out = 0.5 * (out + self.head(self.body(x.flip(1, 2))))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Predict ``(N, n_targets)`` from one-hot ``(N, 4, L)``."""
        return self.standardised(x) * self.output_scale + self.output_shift


class Ensemble(nn.Module):
    """The mean of ``members`` models of one architecture, trained from different seeds.

    Why: on a few thousand sequences one network's predictions and maps depend on its
    random start; averaging k of them (as CREsted and ChromBPNet users do with folds)
    lowers that variance. The ensemble is one module, so its input gradient is the mean
    of the members' gradients and every attribution method sees the averaged model.

    Parameters
    ----------
    n_targets
        Number of outputs.
    members
        Number of member models.
    base
        Registered architecture of the members (not ``ensemble``).
    **kwargs
        The members' options.
    """

    def __init__(
        self, n_targets: int = 1, *, members: int = 3, base: str = "cnn", **kwargs: Any
    ) -> None:
        super().__init__()
        if base == "ensemble" or members < 1:
            raise SeqlanternError("ensemble: members >= 1 of a non-ensemble architecture")
        self.members = nn.ModuleList(
            build_model(base, n_targets=n_targets, **kwargs) for _ in range(members)
        )

    def standardised(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the members' standardised outputs."""
        outs = [m.standardised(x) for m in self.members]  # type: ignore[operator]
        return torch.stack(outs).mean(dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of the members' predictions."""
        return torch.stack([m(x) for m in self.members]).mean(dim=0)


def _indicators(x: torch.Tensor, m: int) -> torch.Tensor:
    """Products of one-hot entries: ``(N, 4**m, L - m + 1)``, 1 where the m-mer of that
    code (first base most significant) starts. Differentiable: a multilinear function
    of ``x``, so gradients and non-one-hot inputs (path methods) are exact."""
    ind = x
    for j in range(1, m):
        w = x.shape[2] - j
        ind = (ind[:, :, None, :w] * x[:, None, :, j : j + w]).reshape(x.shape[0], -1, w)
    return ind


class KmerLinear(nn.Module):
    """A linear model on k-mer frequencies as a differentiable module.

    Why: the k-mer baseline (:mod:`seqlantern.baseline`) is a strong predictor on small
    libraries; as a module it can be added to a network (:class:`Blend`) and attributed
    like any model: a base's gradient is the sum of the weights of the k-mers that cover
    it, so its maps show which words the linear model counts.

    ``forward(x)[:, t] = intercept[t] + sum_k sum_p w_k[t, code of the k-mer at p] / n_k``
    with ``n_k`` the number of windows of length k with no N (all-zero column), as in
    :func:`seqlantern.baseline.kmer_features`. A k-mer is split into a left and a right
    part of at most 3 bases, so memory is ``N x 64 x L`` per target, not ``4**k``.

    Parameters
    ----------
    n_targets
        Number of outputs.
    ks
        k-mer lengths (each <= 6).
    """

    def __init__(
        self, n_targets: int = 1, *, ks: tuple[int, ...] | list[int] = (1, 2, 3, 4, 5, 6)
    ) -> None:
        super().__init__()
        self.ks = tuple(int(k) for k in ks)
        if not self.ks or min(self.ks) < 1 or max(self.ks) > 6:
            raise SeqlanternError("k-mer model: ks must be between 1 and 6")
        for k in self.ks:
            self.register_buffer(f"w{k}", torch.zeros(n_targets, 4**k))
        self.register_buffer("intercept", torch.zeros(n_targets))

    @classmethod
    def from_fit(cls, fit: Any) -> KmerLinear:
        """The module of a :class:`seqlantern.baseline.BaselineFit` (same predictions;
        for a logistic fit, the log-odds)."""
        from seqlantern.baseline import canonical_columns

        module = cls(fit.coef.shape[0], ks=fit.ks)
        eff = fit.coef / fit.scale[None, :]  # weight per unit frequency
        off = 0
        for k in fit.ks:
            col = canonical_columns(k)
            width = int(col.max()) + 1
            getattr(module, f"w{k}").copy_(torch.as_tensor(eff[:, off + col], dtype=torch.float32))
            off += width
        icpt = fit.intercept - (fit.coef * (fit.mean / fit.scale)[None, :]).sum(axis=1)
        target: torch.Tensor = module.intercept  # type: ignore[assignment]
        target.copy_(torch.as_tensor(icpt, dtype=torch.float32))
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 4, L)`` -> ``(N, T)``."""
        ind = {m: _indicators(x, m) for m in range(1, min(max(self.ks), 3) + 1)}
        valid = x.detach().sum(dim=1)  # 1 at a base, 0 at N or padding
        icpt: torch.Tensor = self.intercept  # type: ignore[assignment]
        out = icpt[None, :]  # (1, T): broadcast by the first sum (traceable by torch.fx)
        for k in self.ks:
            a = k // 2 if k > 1 else 1
            b = k - a
            w = x.shape[2] - k + 1
            weight = getattr(self, f"w{k}")
            if b == 0:  # k == 1
                s = torch.einsum("tc,ncp->nt", weight, ind[1])
            else:
                wk = weight.reshape(weight.shape[0], 4**a, 4**b)
                right = torch.einsum("tij,njp->ntip", wk, ind[b][:, :, a : a + w])
                s = (right * ind[a][:, None, :, :w]).sum(dim=(2, 3))
            n_ok = valid.unfold(1, k, 1).prod(dim=2).sum(dim=1).clamp(min=1)
            out = out + s / n_ok[:, None]
        return out


class Blend(nn.Module):
    """A network plus the k-mer baseline, mixed per target with weights fitted on
    validation data.

    Why: on a few thousand sequences a CNN can predict worse than counting k-mers; the
    maps of such a model are not worth reading. When the baseline beats the network on
    the validation split, training ships ``a * kmer(x) + b * network(x) + c`` instead
    (least squares on the validation rows; ``a = 0, b = 1, c = 0`` for targets where the
    network alone is better), so the model is at least as good as the baseline there
    and still one differentiable module: its maps are the network's plus the k-mer
    weights covering each base. The report says when a run uses it.

    Parameters
    ----------
    n_targets
        Number of outputs.
    network
        Registered architecture of the network part (``cnn`` or ``ensemble``), or an
        already trained module (then ``kwargs`` are not used).
    ks
        k-mer lengths of the linear part.
    **kwargs
        The network's options.
    """

    def __init__(
        self,
        n_targets: int = 1,
        *,
        network: str | nn.Module = "cnn",
        ks: tuple[int, ...] | list[int] = (1, 2, 3, 4, 5, 6),
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if isinstance(network, nn.Module):
            self.network = network
        elif network == "blend":
            raise SeqlanternError("blend: the network part cannot itself be a blend")
        else:
            self.network = build_model(network, n_targets=n_targets, **kwargs)
        self.kmer = KmerLinear(n_targets, ks=ks)
        self.register_buffer("kmer_weight", torch.zeros(n_targets))
        self.register_buffer("network_weight", torch.ones(n_targets))
        self.register_buffer("offset", torch.zeros(n_targets))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The mixed prediction."""
        kw: torch.Tensor = self.kmer_weight  # type: ignore[assignment]
        net = self.network(x) * self.network_weight + self.offset
        if not bool(torch.any(kw != 0)):
            return net
        return net + self.kmer(x) * kw


# The registry is an explicit dict: architectures are added here, not by import side effects.
MODELS: dict[str, Callable[..., nn.Module]] = {"cnn": SeqCNN, "ensemble": Ensemble,
                                               "blend": Blend}  # fmt: skip


def build_model(architecture: str, **kwargs: Any) -> nn.Module:
    """Instantiate a registered architecture."""
    if architecture not in MODELS:
        raise SeqlanternError(
            f"unknown model architecture {architecture!r}; known: {sorted(MODELS)}"
        )
    try:
        return MODELS[architecture](**kwargs)
    except TypeError as exc:
        raise SeqlanternError(f"model {architecture!r}: bad model options ({exc})") from None


def save_checkpoint(model: nn.Module, meta: dict[str, Any], json_path: str | Path) -> None:
    """Write ``<stem>.safetensors`` and the JSON ``json_path`` (both atomically)."""
    from safetensors.torch import save_file

    json_path = Path(json_path)
    weights = json_path.with_suffix(".safetensors")
    meta = {**meta, "weights": weights.name}
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_outputs(weights, json_path) as (tw, tj):
        save_file(state, str(tw))
        tj.write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read weights from safetensors or a ``torch.save``-d state dict, safely."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: weights file not found; check model.checkpoint/model.weights")
    try:
        if p.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(p))
        obj = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise SeqlanternError(
            f"{p}: cannot read model weights ({msg}); the file is corrupt or not a "
            "safetensors/state-dict file: re-export it with save_file or torch.save(state_dict)"
        ) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise SeqlanternError(
            f"{p}: not a state dict (a mapping of names to tensors); save model.state_dict()"
        )
    return obj


def _load_state(model: nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:

        def few(keys: list[str]) -> str:
            return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")

        raise SeqlanternError(
            f"{where}: weights do not fit the model: "
            + "; ".join(([f"missing {few(missing)}"] if missing else [])
                        + ([f"unexpected {few(unexpected)}"] if unexpected else []))
            + "; check the architecture and model.kwargs"
        )  # fmt: skip
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).split())[:300]
        raise SeqlanternError(
            f"{where}: weights do not fit the model ({first}); check architecture and kwargs"
        ) from None


def load_checkpoint(json_path: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """Load a seqlantern checkpoint (JSON + weights beside it)."""
    p = Path(json_path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: checkpoint not found; check model.checkpoint in the config")
    try:
        meta = json.loads(p.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SeqlanternError(f"{p}: checkpoint JSON is corrupt ({exc})") from None
    for key in ("architecture", "kwargs", "targets", "weights"):
        if key not in meta:
            raise SeqlanternError(
                f"{p}: checkpoint JSON lacks {key!r}; is this a seqlantern model?"
            )
    model = build_model(meta["architecture"], **meta["kwargs"])
    _load_state(model, read_state_dict(p.parent / meta["weights"]), str(p))
    model.eval()
    return model, meta


def _import_file(path: str) -> Any:
    """Import a Python file by path (module name: its stem, registered in sys.modules so
    that dataclasses and pickling-free references inside it resolve)."""
    import importlib.util
    import sys

    file = Path(path)
    if not file.is_file():
        raise SeqlanternError(f"model.import_path: {path}: file not found (give the path of "
                              "the .py file that defines the class)")  # fmt: skip
    name = f"_seqlantern_user_{file.stem}"
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise SeqlanternError(f"model.import_path: {path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_foreign(
    import_path: str,
    weights: str | Path,
    *,
    kwargs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
    task: str = "regression",
    length: int | None = None,
    output: dict[str, Any] | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a user's PyTorch model class and its weights.

    ``import_path`` is ``package.module:Class`` (importable, e.g. on ``PYTHONPATH``) or
    ``path/to/file.py:Class`` (a user's file, imported from its path: a model defined
    next to a notebook needs no package). The class is built with ``kwargs`` and filled
    from a safetensors or state-dict file read with ``weights_only=True``. It must take
    ``(N, 4, L)`` one-hot input (ACGT); its output is turned into ``(N, T)`` by
    ``model.output`` (:class:`OutputHead`) when that is given.
    """
    if ":" not in import_path:
        raise SeqlanternError(
            f"model.import_path {import_path!r} must look like 'package.module:Class' or "
            "'path/to/file.py:Class'"
        )
    mod_name, cls_name = import_path.rsplit(":", 1)
    try:
        if mod_name.endswith(".py"):
            module = _import_file(mod_name)
        else:
            module = importlib.import_module(mod_name)
    except SeqlanternError:
        raise
    except ImportError as exc:
        raise SeqlanternError(
            f"model.import_path {import_path!r}: cannot import ({exc}); is it on PYTHONPATH?"
        ) from None
    except Exception as exc:  # the user's module itself fails (syntax error, raises)
        where = getattr(exc, "filename", None) or mod_name
        lineno = getattr(exc, "lineno", None)
        line = f" line {lineno}" if lineno else ""
        raise SeqlanternError(
            f"model.import_path {import_path!r}: importing {where}{line} failed "
            f"({type(exc).__name__}: {' '.join(str(exc).split())}); fix the module"
        ) from None
    try:
        cls = getattr(module, cls_name)
    except AttributeError:
        raise SeqlanternError(
            f"model.import_path {import_path!r}: module {mod_name} has no {cls_name!r}"
        ) from None
    try:
        model = cls(**(kwargs or {}))
    except TypeError as exc:
        raise SeqlanternError(
            f"model.import_path {import_path!r}: bad model.kwargs ({exc})"
        ) from None
    _load_state(model, read_state_dict(weights), str(weights))
    model.eval()
    if output:
        model = OutputHead(model, output)
    meta = {"architecture": import_path, "kwargs": kwargs or {}, "task": task,
            "targets": targets, "length": length, "output": output or {}}  # fmt: skip
    return model, meta


def load_model(spec: dict[str, Any]) -> tuple[nn.Module, dict[str, Any]]:
    """Load from a config ``model`` section: ``checkpoint`` or ``import_path`` + ``weights``."""
    if spec.get("import_path"):
        if not spec.get("weights"):
            raise SeqlanternError("model.import_path needs model.weights (a weights file)")
        model, meta = load_foreign(
            spec["import_path"], spec["weights"], kwargs=spec.get("kwargs") or {},
            targets=spec.get("targets"), task=spec.get("task", "regression"),
            length=spec.get("length"), output=spec.get("output") or None,
        )  # fmt: skip
        _check_finite(model, spec["weights"])
        return model, meta
    if spec.get("checkpoint"):
        model, meta = load_checkpoint(spec["checkpoint"])
        _check_finite(model, spec["checkpoint"])
        return model, meta
    raise SeqlanternError("no model: set model.checkpoint or model.import_path + model.weights")


def _check_finite(model: nn.Module, source: str | Path) -> None:
    """Refuse weights with NaN/inf: every attribution and prediction would be NaN."""
    for name, t in [*model.named_parameters(), *model.named_buffers()]:
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            bad = int((~torch.isfinite(t)).sum())
            raise SeqlanternError(
                f"{source}: weight {name!r} has {bad} NaN/inf value(s); the model is broken "
                "(diverged training or a corrupt file): retrain or use another checkpoint"
            )


def describe_output(out: Any) -> str:
    """A model output's structure in words (tensor shapes, tuple/dict members)."""
    if isinstance(out, torch.Tensor):
        return f"a tensor of shape {tuple(out.shape)}"
    if isinstance(out, (tuple, list)):
        return f"a {type(out).__name__} of {len(out)}: " + ", ".join(
            f"[{i}] {describe_output(o)}" for i, o in enumerate(out))  # fmt: skip
    if isinstance(out, dict):
        return "a dict: " + ", ".join(f"[{k!r}] {describe_output(o)}" for k, o in out.items())
    return f"a {type(out).__name__}"


def n_outputs(model: nn.Module, length: int) -> int:
    """Number of output columns, found by one forward pass on a blank input (the dry run
    that checks a model, and its ``model.output`` spec, against the data's length)."""
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 4, length))
    except SeqlanternError:
        raise
    except Exception as exc:
        raise SeqlanternError(
            f"the model fails on a (1, 4, {length}) input ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]}); does it take {length}-bp one-hot input "
            "(encode.length) in A, C, G, T order?") from None  # fmt: skip
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise SeqlanternError(
            f"the model's output is {describe_output(out)}; it must be (N, targets): set "
            "model.output (select: which tuple element or dict key; reduce: sum, window "
            "or profile for a (N, channels, length) profile), config/README.md")  # fmt: skip
    return int(out.shape[1])


#: what ``model.output`` may say (see :class:`OutputHead`)
OUTPUT_KEYS = {"select", "reduce", "window", "channels"}
REDUCTIONS = ("none", "sum", "window", "profile")


class OutputHead(nn.Module):
    """Turns any module's output into the (N, T) table seqlantern attributes.

    Why: most users' models are not ``(N, 4, L) -> (N, T)``: BPNet and ChromBPNet
    return ``(profile, counts)``, multi-task models dicts of heads. ``spec`` (config
    ``model.output``) says how to get a scalar per sequence and target:

    - ``select``: index of a tuple/list output, or key of a dict output (BPNet:
      ``1`` = counts, ``0`` = profile);
    - ``channels``: keep these channels of a ``(N, C, L)`` profile (e.g. ``[0]``, the
      plus strand of a stranded profile; default all);
    - ``reduce``: ``none`` (already ``(N, T)``), ``sum`` (sum over the length axis: one
      column per channel), ``window`` (the same over ``window: [start, end)``) or
      ``profile``: the BPNet/ChromBPNet profile objective, ``sum(softmax(p).detach() *
      p)`` over the channels and positions flattened (both strands together, as
      bpnet-lite and tangermeme explain profile heads), one column.
    """

    def __init__(self, model: nn.Module, spec: dict[str, Any]) -> None:
        super().__init__()
        unknown = sorted(set(spec) - OUTPUT_KEYS)
        if unknown:
            raise SeqlanternError(f"model.output: unknown key(s) {unknown}; known: "
                                  f"{sorted(OUTPUT_KEYS)}")  # fmt: skip
        reduce = spec.get("reduce", "none")
        if reduce not in REDUCTIONS:
            raise SeqlanternError(f"model.output.reduce {reduce!r}: one of {list(REDUCTIONS)}")
        window = spec.get("window")
        if reduce == "window" and (not isinstance(window, (list, tuple)) or len(window) != 2
                                   or not window[0] < window[1]):  # fmt: skip
            raise SeqlanternError("model.output.reduce window needs window: [start, end] "
                                  "with start < end (positions of the profile)")  # fmt: skip
        self.model = model
        self.select = spec.get("select")
        self.channels = spec.get("channels")
        self.reduce = reduce
        self.window = tuple(window) if window else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.model(x))

    def post(self, out: Any) -> torch.Tensor:
        """The wrapped module's raw output turned into ``(N, T)`` (select, channels, reduce).

        Separate from :meth:`forward` so that fast ISM can run the wrapped module its own
        way and still apply the same head.
        """
        if self.select is not None:
            try:
                out = out[self.select]
            except (IndexError, KeyError, TypeError):
                raise SeqlanternError(
                    f"model.output.select {self.select!r} does not fit the model's output, "
                    f"which is {describe_output(out)}") from None  # fmt: skip
        if not isinstance(out, torch.Tensor):
            raise SeqlanternError(f"model.output: the selected output is {describe_output(out)}; "
                                  "select one tensor (model.output.select)")  # fmt: skip
        if self.reduce == "none":
            return out if out.ndim == 2 else out.reshape(len(out), -1)
        if out.ndim != 3:
            raise SeqlanternError(
                f"model.output.reduce {self.reduce} needs a (N, channels, length) profile; "
                f"the output is {describe_output(out)}")  # fmt: skip
        if self.channels is not None:
            out = out[:, list(self.channels)]
        if self.reduce == "sum":
            return out.sum(dim=2)
        if self.reduce == "window":
            a, b = self.window  # type: ignore[misc]
            if b > out.shape[2]:
                raise SeqlanternError(f"model.output.window [{a}, {b}) goes past the profile's "
                                      f"{out.shape[2]} positions")  # fmt: skip
            return out[:, :, a:b].sum(dim=2)
        flat = out.reshape(len(out), -1)
        weights = torch.softmax(flat, dim=-1).detach()
        return (flat * weights).sum(dim=-1, keepdim=True)
