"""Fast in-silico mutagenesis for any convolutional network: recompute only what changes.

Why: ISM predicts 3 x L mutants per sequence, and the naive loop runs the whole network
on each although one substitution at position p changes a convolution's output only
within the kernel's reach of p, the next layer's only within that reach again, and so
on until a layer mixes all positions (a dense layer, a global pooling). Following
fastISM (Nair et al., Bioinformatics 2022), the module is traced once with
``torch.fx``; the reference sequence runs in full and every intermediate value is kept;
each mutant then carries, per layer, only the *window* of positions that may differ from
the reference. Local layers (``Conv1d`` with any stride, dilation and padding,
``MaxPool1d``/``AvgPool1d``, batch norm in eval mode, element-wise activations, residual
sums and products, trims ``x[:, :, a:b]``, reverse-complement flips) are computed on the
window plus the context they read, taken from the reference. The first operation not
known to be local (flatten, dense, global pooling, anything else) receives the full
tensor: the reference with the window written in. So the result is the naive ISM's up
to float rounding, and no architecture is assumed: an unknown operation only costs
speed.

A model that cannot be traced (data-dependent control flow), or whose traced graph does
not reproduce the module's own output on the reference, or whose windowed predictions
for a few probe mutants differ from full forward passes, is reported as not handled
(``None``) and :func:`seqlantern.methods.ism` uses the naive loop.
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

_ELEMENTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
    nn.Tanh, nn.Softplus, nn.Softsign, nn.LeakyReLU, nn.PReLU, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.LogSigmoid, nn.Tanhshrink, nn.Identity, nn.Dropout, nn.Dropout1d,
    nn.BatchNorm1d,
)  # fmt: skip
"""Modules that act on each position alone (batch norm and dropout in eval mode)."""

_UNARY = {
    torch.relu, torch.exp, torch.sigmoid, torch.tanh, torch.abs, torch.neg, torch.square,
    torch.sqrt, torch.log, torch.log1p, torch.expm1, torch.clamp, torch.clip, torch.sin,
    F.relu, F.relu6, F.gelu, F.elu, F.silu, F.softplus, F.leaky_relu, F.mish, F.sigmoid,
    F.tanh, F.dropout, F.hardtanh, operator.neg,
}  # fmt: skip
_BINARY = {
    operator.add, operator.sub, operator.mul, operator.truediv, torch.add, torch.sub,
    torch.mul, torch.div, torch.maximum, torch.minimum,
}  # fmt: skip
_METHODS = {"relu", "exp", "sigmoid", "tanh", "abs", "neg", "clamp", "clip", "add", "sub",
            "mul", "div", "contiguous", "square", "sqrt", "log"}  # fmt: skip
"""Element-wise ``Tensor`` methods (``add``/``mul``/... with one tensor or scalar)."""


@dataclass
class _Win:
    """A batch of mutants' values of one (1, C, L) intermediate: the reference outside
    ``[start, start + width)``, ``vals`` inside (one window per mutant, same width)."""

    ref: torch.Tensor  # (1, C, L)
    start: torch.Tensor  # (B,) long
    vals: torch.Tensor  # (B, C, width)

    @property
    def length(self) -> int:
        return int(self.ref.shape[-1])

    @property
    def width(self) -> int:
        return int(self.vals.shape[-1])


def _span(v: _Win, s: torch.Tensor, width: int, fill: float | None) -> torch.Tensor:
    """Each mutant's values on ``[s, s + width)``; positions outside ``[0, L)`` are
    ``fill`` (a convolution's zero padding, a max pool's -inf).

    One copy: the reference's sliding windows (a strided view of the padded reference)
    are gathered at ``s``, one column wider on each side, and the mutants' values are
    scattered in; values of a window that fall outside the span land in the two spare
    columns, which are dropped.
    """
    b, c, w = v.vals.shape
    refp = F.pad(v.ref[0], (width + 1, width + 1), value=0.0 if fill is None else fill)
    out = refp.unfold(1, width + 2, 1).permute(1, 0, 2).index_select(0, s + width)
    q = ((v.start - s + 1)[:, None] + torch.arange(w, device=s.device)).clamp(0, width + 1)
    out.scatter_(2, q[:, None, :].expand(b, c, w), v.vals)
    return out[:, :, 1 : width + 1]


def _materialize(a: Any) -> Any:
    """``a`` with every windowed value made full (containers rebuilt only when plain
    lists, tuples and dicts: a ``torch.return_types`` tuple keeps its type)."""
    if isinstance(a, _Win):
        return _full(a)
    if type(a) in (tuple, list):
        return type(a)(_materialize(e) for e in a)
    if type(a) is dict:
        return {k: _materialize(e) for k, e in a.items()}
    return a


def _full(v: _Win) -> torch.Tensor:
    """The full (B, C, L) tensor of a windowed value."""
    b, c, w = v.vals.shape
    out = v.ref.expand(b, -1, -1).clone()
    idx = v.start[:, None] + torch.arange(w, device=v.start.device)
    out.scatter_(2, idx[:, None, :].expand(b, c, w), v.vals)
    return out


def _local(
    v: _Win, ref_out: torch.Tensor, *, extent: int, stride: int, pad: int, fill: float | None,
    fn: Callable[[torch.Tensor], torch.Tensor],
) -> _Win:  # fmt: skip
    """A sliding-window layer (output j reads input ``[j*stride - pad, ... + extent)``)
    computed on the outputs whose inputs overlap the mutants' windows."""
    lout = int(ref_out.shape[-1])
    lo = torch.div(v.start + pad - extent + stride, stride, rounding_mode="floor")
    hi = torch.div(v.start + v.width - 1 + pad, stride, rounding_mode="floor")
    width = min(max(int((hi - lo).max()) + 1, 1), lout)
    lo = lo.clamp(0, lout - width)
    x = _span(v, lo * stride - pad, (width - 1) * stride + extent, fill)
    return _Win(ref_out, lo, fn(x))


def _conv_pad(m: nn.Conv1d) -> int | None:
    """Left padding of a zero-padded Conv1d (``None`` for other padding modes)."""
    if m.padding_mode != "zeros":
        return None
    if isinstance(m.padding, str):
        return 0 if m.padding == "valid" else m.dilation[0] * (m.kernel_size[0] - 1) // 2
    return int(m.padding[0])


def _module(m: nn.Module, v: _Win, ref_out: torch.Tensor) -> _Win | None:
    """A windowed module call, or ``None`` when ``m`` is not known to be local."""
    if isinstance(m, _ELEMENTWISE_MODULES) and v.ref.ndim == 3:
        return _Win(ref_out, v.start, m(v.vals))
    if isinstance(m, nn.Conv1d):
        pad = _conv_pad(m)
        if pad is None:
            return None
        d, k, s = m.dilation[0], m.kernel_size[0], m.stride[0]
        return _local(v, ref_out, extent=d * (k - 1) + 1, stride=s, pad=pad, fill=0.0,
                      fn=lambda x: F.conv1d(x, m.weight, m.bias, s, 0, d, m.groups))  # fmt: skip
    if isinstance(m, nn.MaxPool1d) and not m.ceil_mode and not m.return_indices:
        k, s, p, d = (int(torch.as_tensor(a).reshape(-1)[0])
                      for a in (m.kernel_size, m.stride, m.padding, m.dilation))  # fmt: skip
        return _local(v, ref_out, extent=d * (k - 1) + 1, stride=s, pad=p, fill=-torch.inf,
                      fn=lambda x: F.max_pool1d(x, k, s, 0, d))  # fmt: skip
    if isinstance(m, nn.AvgPool1d) and not m.ceil_mode:
        k, s, p = (int(torch.as_tensor(a).reshape(-1)[0])
                   for a in (m.kernel_size, m.stride, m.padding))  # fmt: skip
        if p and not m.count_include_pad:
            return None
        return _local(v, ref_out, extent=k, stride=s, pad=p, fill=0.0,
                      fn=lambda x: F.avg_pool1d(x, k, s, 0))  # fmt: skip
    return None


def _length_free(t: Any) -> bool:
    """A non-windowed operand that broadcasts the same way at every position."""
    if not isinstance(t, torch.Tensor):
        return isinstance(t, (int, float, bool))
    return t.ndim == 0 or (t.shape[-1] == 1 and (t.ndim < 3 or t.shape[0] == 1))


def _elementwise(
    fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], ref_out: torch.Tensor
) -> _Win | None:
    """An element-wise call with one or two windowed operands (windows joined)."""
    wins = [a for a in args if isinstance(a, _Win)]
    others = [a for a in list(args) + list(kwargs.values()) if not isinstance(a, _Win)]
    if not wins or len(wins) > 2 or not all(_length_free(a) for a in others
                                            if isinstance(a, torch.Tensor)):  # fmt: skip
        return None
    if any(w.length != int(ref_out.shape[-1]) or w.ref.ndim != 3 for w in wins):
        return None
    if len(wins) == 1:
        start, width = wins[0].start, wins[0].width
    else:
        a, b = wins
        start = torch.minimum(a.start, b.start)
        end = torch.maximum(a.start + a.width, b.start + b.width)
        width = min(int((end - start).max()), a.length)
        start = start.clamp(0, a.length - width)
    vals = [_span(a, start, width, None) if isinstance(a, _Win) else a for a in args]
    return _Win(ref_out, start, fn(*vals, **kwargs))


def _getitem(v: _Win, idx: Any, ref_out: torch.Tensor) -> _Win | None:
    """``x[:, channels, a:b]`` (step 1 on positions) of a windowed value."""
    if not isinstance(idx, tuple):
        return None
    if idx and idx[0] is Ellipsis:
        idx = (slice(None),) * (4 - len(idx)) + idx[1:]
    if len(idx) == 2:
        idx = (*idx, slice(None))
    if len(idx) != 3 or not all(isinstance(i, slice) for i in idx) or idx[0] != slice(None):
        return None
    a, b, step = idx[2].indices(v.length)
    if step != 1 or b - a != int(ref_out.shape[-1]) or b <= a:
        return None
    width = min(v.width, b - a)
    start = (v.start - a).clamp(0, b - a - width)
    vals = _span(v, start + a, width, None)[:, idx[1]]
    return _Win(ref_out, start, vals)


def _flip(v: _Win, dims: Any, ref_out: torch.Tensor) -> _Win | None:
    """``x.flip(...)`` over channels and/or positions (a reverse complement)."""
    dims = [dims] if isinstance(dims, int) else list(dims)
    dims = [d % 3 for d in dims]
    if 0 in dims:
        return None
    start = v.length - v.start - v.width if 2 in dims else v.start
    return _Win(ref_out, start, torch.flip(v.vals, dims))


def trace(model: nn.Module) -> tuple[fx.GraphModule, Callable[[Any], Any]] | None:
    """The traced graph of ``model`` and the function applied to its output.

    A :class:`~seqlantern.models.OutputHead` is traced through to the wrapped module (its
    selection and reduction are applied to the graph's output). Arguments after the
    first that default to ``None`` stay ``None`` (bpnet-lite's ``X_ctl``). ``None`` when
    the module cannot be traced.
    """
    import inspect

    from seqlantern.models import OutputHead

    post: Callable[[Any], Any] = lambda out: out  # noqa: E731
    inner = model
    if isinstance(model, OutputHead):
        inner, post = model.model, model.post
    try:
        params = list(inspect.signature(inner.forward).parameters.values())[1:]
        concrete = {p.name: None for p in params if p.default is None}
        gm = fx.symbolic_trace(inner, concrete_args=concrete or None)
    except Exception:  # any tracing failure: the caller uses the naive loop
        return None
    gm.graph.eliminate_dead_code()
    gm.recompile()
    return gm, post


def _load(a: Any, env: dict[str, Any]) -> Any:
    return fx.node.map_aggregate(a, lambda n: env[n.name] if isinstance(n, fx.Node) else n)


def run(
    gm: fx.GraphModule, x: Any, ref_env: dict[str, Any] | None = None
) -> tuple[Any, dict[str, Any]]:
    """Run the graph on ``x`` (a tensor: the reference; a :class:`_Win`: mutants, with the
    reference's values ``ref_env``). Returns the output and, for the reference, every
    node's value."""
    env: dict[str, Any] = {}
    last: dict[str, int] = {}
    nodes = list(gm.graph.nodes)
    for i, node in enumerate(nodes):
        for u in node.all_input_nodes:
            last[u.name] = i
    keep = ref_env is None
    for i, node in enumerate(nodes):
        if node.op == "placeholder":
            env[node.name] = x
            continue
        if node.op == "output":
            out = _load(node.args[0], env)
            return _materialize(out), env
        args, kwargs = _load(node.args, env), _load(node.kwargs, env)
        ref_out = ref_env[node.name] if ref_env is not None else None
        res: Any = None
        wins = any(isinstance(a, _Win) for a in list(args) + list(kwargs.values()))
        if wins and isinstance(ref_out, torch.Tensor):
            res = _windowed(gm, node, args, kwargs, ref_out)
        elif wins and node.op in ("call_function", "call_method") and node.target in (
                getattr, "size", "dim") and isinstance(args[0], _Win):  # fmt: skip
            w = args[0]
            shape = torch.Size([len(w.vals), *w.ref.shape[1:]])
            if node.target == "dim":
                res = len(shape)
            elif node.target == "size":
                res = shape if len(args) == 1 else shape[args[1]]
            elif args[1] == "shape":
                res = shape
        if res is None:
            args, kwargs = _materialize(args), _materialize(kwargs)
            if node.op == "get_attr":
                res = gm
                for part in str(node.target).split("."):
                    res = getattr(res, part)
            elif node.op == "call_module":
                res = gm.get_submodule(str(node.target))(*args, **kwargs)
            elif node.op == "call_function":
                res = node.target(*args, **kwargs)
            else:
                res = getattr(args[0], str(node.target))(*args[1:], **kwargs)
        env[node.name] = res
        if not keep:
            for u in node.all_input_nodes:
                if last.get(u.name) == i and u.op != "get_attr":
                    env.pop(u.name, None)
    raise RuntimeError("graph without output")  # pragma: no cover


def _windowed(
    gm: fx.GraphModule, node: fx.Node, args: tuple[Any, ...], kwargs: dict[str, Any],
    ref_out: torch.Tensor,
) -> _Win | None:  # fmt: skip
    """The windowed result of one node, or ``None`` to compute it on full tensors."""
    if ref_out.ndim != 3:
        return None
    if node.op == "call_module":
        m = gm.get_submodule(str(node.target))
        if len(args) == 1 and not kwargs and isinstance(args[0], _Win):
            return _module(m, args[0], ref_out)
        return None
    if node.op == "call_function":
        if node.target is operator.getitem and isinstance(args[0], _Win):
            return _getitem(args[0], args[1], ref_out)
        if node.target is torch.flip and isinstance(args[0], _Win):
            return _flip(args[0], kwargs.get("dims", args[1] if len(args) > 1 else None), ref_out)
        if node.target in _UNARY or node.target in _BINARY:
            return _elementwise(node.target, args, kwargs, ref_out)
        return None
    if node.op == "call_method" and isinstance(args[0], _Win):
        name = str(node.target)
        if name == "flip":
            dims = args[1:] if len(args) > 2 else (args[1] if len(args) > 1 else kwargs["dims"])
            return _flip(args[0], dims, ref_out)
        if name in _METHODS:

            def call(t: torch.Tensor, *rest: Any, **kw: Any) -> Any:
                return getattr(t, name)(*rest, **kw)

            return _elementwise(call, args, kwargs, ref_out)
    return None


def ism_windowed(
    model: nn.Module, x: torch.Tensor, *, target: int, output: str, batch_size: int,
    probes: int = 8,
) -> torch.Tensor | None:  # fmt: skip
    """Uncentred ISM ``f(x with b at p) - f(x)`` of every sequence, or ``None``.

    ``None`` when the model cannot be traced or the windowed computation fails its
    checks on the first sequence: the graph reproduces ``model(x)`` on the reference, and
    ``probes`` mutants spread over the sequence predict as full forward passes do.
    """
    traced = trace(model)
    if traced is None:
        return None
    gm, post = traced

    def pick(z: torch.Tensor) -> torch.Tensor:
        z = z[:, target]
        return torch.sigmoid(z) if output == "activation" else z

    def select(y: Any) -> torch.Tensor:
        return pick(post(y))

    n, _, length = x.shape
    out = torch.zeros_like(x)
    eye = torch.eye(4, dtype=x.dtype, device=x.device)
    with torch.no_grad():
        for i in range(n):
            xi = x[i : i + 1]
            try:
                y_ref, ref_env = run(gm, xi)
                ref = select(y_ref)
            except Exception:
                if os.environ.get("SEQLANTERN_DEBUG"):
                    raise
                return None
            obs = xi[0].argmax(dim=0)
            has = xi[0].sum(dim=0) > 0
            pos = torch.arange(length, device=x.device).repeat_interleave(4)
            base = torch.arange(4, device=x.device).repeat(length)
            todo = ~(has[pos] & (base == obs[pos]))
            pos, base = pos[todo], base[todo]
            preds = torch.empty(len(pos), dtype=x.dtype, device=x.device)
            for j in range(0, len(pos), batch_size):
                p, b = pos[j : j + batch_size], base[j : j + batch_size]
                w = _Win(xi, p, eye[b][:, :, None])
                try:
                    preds[j : j + batch_size] = select(run(gm, w, ref_env)[0])
                except Exception:
                    if os.environ.get("SEQLANTERN_DEBUG"):
                        raise
                    return None
            if i == 0:
                full = pick(model(xi))
                probe = torch.linspace(0, len(pos) - 1, min(probes, len(pos))).long()
                muts = xi.repeat(len(probe), 1, 1)
                muts[torch.arange(len(probe)), :, pos[probe]] = eye[base[probe]]
                want = pick(model(muts))
                scale = float(torch.cat([want, full]).abs().max()) + 1e-12
                tol = 1e-4 * scale
                same = torch.allclose(ref, full, rtol=1e-4, atol=tol)
                if not same or not torch.allclose(preds[probe], want, rtol=1e-4, atol=tol):
                    return None
            out[i, base, pos] = preds - ref[0]
    return out
