"""Exact fast ISM by propagating only the *change* a substitution makes (delta mode).

Why: :mod:`seqlantern.fastism` carries each mutant's full values on a window and
recomputes every layer on that window plus the reference context it reads. For the
deep dilated stacks of BPNet/ChromBPNet-style models that context is most of the
work: a dilation-256 layer reads 512 reference positions around a window to produce
it. A convolution is linear, so its change is the convolution of the input's change,
which is zero outside the window: no context is read at all. Element-wise layers need
the reference only at the window (``f(ref + delta) - f(ref)``, the reference taken
as a zero-copy strided view), residual sums add changes, and a mean over positions is
the reference's mean plus the changes' sum over the length. Each layer's change is
also cut to the positions the output can see (a backward *need* analysis of the
graph: BPNet's counts head averages positions 557..1,557 of the last layer only).

Layout: the change of one ``(1, C, L)`` intermediate for a batch of ``P`` consecutive
positions ``p0 .. p0 + P - 1`` and the 3 substitutions at each (bases ascending,
observed base skipped) is a ``(w, P, 3, C)`` tensor (columns outermost, channels
last) whose ``[:, i]`` covers positions ``[p0 + i + off, p0 + i + off + w)``. A
convolution of the whole batch is then one matrix product per tap, accumulated in
place: ``(columns * P * 3, Cin) @ (Cin, Cout)`` on contiguous blocks.

Handled: ``Conv1d`` with stride 1, zero padding and one group (batch norm folded by
:func:`seqlantern.fastism.trace`), element-wise activations, eval batch norm,
dropout, sums and differences of two changing values or with constants, products by
scalars, ``x[:, :, a:b]`` trims and means/sums over positions; anything else makes
:func:`ism_delta` return ``None`` (the caller then uses the windowed engine), except at
the graph's output, where the change is written into the reference's full tensor.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from seqlantern.fastism import call_node

_POINTWISE_MODULES: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.ReLU6, nn.ELU, nn.CELU, nn.SELU, nn.GELU, nn.SiLU, nn.Mish, nn.Sigmoid,
    nn.Tanh, nn.Softplus, nn.Softsign, nn.LeakyReLU, nn.Hardtanh, nn.Hardswish,
    nn.Hardsigmoid, nn.LogSigmoid, nn.Tanhshrink,
)  # fmt: skip
"""Modules that act on each element alone whatever the layout (not PReLU with one weight
per channel, not batch norm: channels are the last axis here)."""

_IDENTITY_MODULES: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout, nn.Dropout1d)

_POINTWISE_FUNCTIONS = {
    torch.relu, torch.exp, torch.sigmoid, torch.tanh, torch.square, torch.sin,
    F.relu, F.relu6, F.gelu, F.elu, F.silu, F.softplus, F.leaky_relu, F.mish, F.sigmoid,
    F.tanh, F.hardtanh,
}  # fmt: skip
_POINTWISE_METHODS = {"relu", "exp", "sigmoid", "tanh", "square"}
_ADD = {operator.add, torch.add, "add"}
_SUB = {operator.sub, torch.sub, "sub"}
_MUL = {operator.mul, torch.mul, "mul"}
_MEAN_SUM = {torch.mean: "mean", torch.sum: "sum", "mean": "mean", "sum": "sum"}


class Unsupported(Exception):
    """A node delta mode does not handle (the caller falls back)."""


@dataclass
class _Delta:
    """Change of one ``(1, C, L)`` intermediate for a batch (see the module docstring)."""

    d: torch.Tensor  # (w, P, 3, C)
    off: int
    length: int
    owned: bool  # nothing else holds ``d``: in-place updates are safe


@dataclass
class _Batch:
    p0: int
    npos: int
    margin: int


def _conv_spec(m: nn.Module) -> tuple[int, int, int] | None:
    """``(k, dilation, left pad)`` of a Conv1d delta mode handles."""
    if not isinstance(m, nn.Conv1d) or m.stride[0] != 1 or m.groups != 1:
        return None
    if m.padding_mode != "zeros":
        return None
    k, d = m.kernel_size[0], m.dilation[0]
    if isinstance(m.padding, str):
        pad = 0 if m.padding == "valid" else d * (k - 1) // 2
    else:
        pad = int(m.padding[0])
    return k, d, pad


def _is3d(v: Any) -> bool:
    return isinstance(v, torch.Tensor) and v.ndim == 3 and v.shape[0] == 1


def _classify(gm: fx.GraphModule, node: fx.Node, env: dict[str, Any]) -> tuple[Any, ...] | None:
    """What ``node`` does to a changing ``(1, C, L)`` input, from the reference's values
    (``env``); ``None`` when delta mode does not handle it."""
    out: Any = env.get(node.name)
    args: Any = fx.node.map_aggregate(
        node.args, lambda n: env[n.name] if isinstance(n, fx.Node) else n
    )
    first = node.args[0] if node.args else None
    if node.op == "call_module":
        m = gm.get_submodule(str(node.target))
        if len(node.args) != 1 or node.kwargs or not _is3d(out):
            return None
        if isinstance(m, nn.Conv1d):
            spec = _conv_spec(m)
            return None if spec is None else ("conv", *spec)
        if isinstance(m, _IDENTITY_MODULES):
            return ("identity",)
        if isinstance(m, _POINTWISE_MODULES):
            return ("pointwise", isinstance(m, nn.ReLU), (), {})
        if isinstance(m, nn.BatchNorm1d) and not m.training and m.running_var is not None:
            scale = torch.rsqrt(m.running_var + m.eps)
            if m.weight is not None:
                scale = scale * m.weight
            return ("scale", scale.detach())
        if isinstance(m, nn.AdaptiveAvgPool1d) and m.output_size in (1, (1,)):
            return ("reduce", "mean", True)
        return None
    if node.op not in ("call_function", "call_method"):
        return None
    target = node.target
    if target in (getattr, "size", "dim"):
        return ("shape",)
    if target is operator.getitem and isinstance(first, fx.Node) and _is3d(env.get(first.name)):
        idx = args[1]
        if not isinstance(idx, tuple) or len(idx) != 3 or idx[0] != slice(None):
            return None
        if not all(isinstance(i, slice) for i in idx[1:]) or not _is3d(out):
            return None
        a, b, step = idx[2].indices(int(env[first.name].shape[-1]))
        if step != 1 or b - a != int(out.shape[-1]):
            return None
        return ("slice", a, idx[1])
    if target in _MEAN_SUM and isinstance(out, torch.Tensor):
        if set(node.kwargs) - {"dim", "keepdim"} or len(args) > 3:
            return None
        dim = args[1] if len(args) > 1 else node.kwargs.get("dim")
        keep = args[2] if len(args) > 2 else node.kwargs.get("keepdim", False)
        dims = list(dim) if isinstance(dim, (list, tuple)) else [dim]
        if len(dims) != 1 or not isinstance(dims[0], int) or dims[0] % 3 != 2:
            return None
        return ("reduce", _MEAN_SUM[target], bool(keep))
    if not _is3d(out):
        return None
    if target in _POINTWISE_FUNCTIONS or target in _POINTWISE_METHODS:
        extra = [*args[1:], *node.kwargs.values()]
        if any(isinstance(a, (torch.Tensor, fx.Node)) for a in extra):
            return None
        kwargs = {k: v for k, v in node.kwargs.items() if k != "inplace"}
        plain = target in (torch.relu, F.relu, "relu") and len(args) == 1 and not kwargs
        return ("pointwise", plain, tuple(args[1:]), kwargs)
    if target in _ADD or target in _SUB or target in _MUL:
        if len(args) != 2 or node.kwargs:
            return None
        kind = "add" if target in _ADD else "sub" if target in _SUB else "mul"
        return ("binary", kind)
    return None


def plan(gm: fx.GraphModule, env: dict[str, Any]) -> dict[str, Any] | None:
    """Per node: its handling (``_classify``) and the positions ``[lo, hi)`` of its
    value that the output depends on (backward need analysis); ``None`` when a node
    that reads a position-dependent value is not handled."""
    nodes = list(gm.graph.nodes)
    specs: dict[str, tuple[Any, ...] | None] = {}
    need: dict[str, tuple[int, int]] = {}

    def widen(name: str, lo: int, hi: int) -> None:
        length = int(env[name].shape[-1])
        lo, hi = max(lo, 0), min(hi, length)
        if hi <= lo:
            return
        old = need.get(name)
        need[name] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))

    for node in nodes:
        if node.op not in ("placeholder", "output", "get_attr"):
            specs[node.name] = _classify(gm, node, env)
    # follow the change from the input: every node it reaches must be handled
    changing = {next(n.name for n in nodes if n.op == "placeholder")}
    for node in nodes:
        if node.op in ("placeholder", "output") or not any(
                u.name in changing for u in node.all_input_nodes):  # fmt: skip
            continue
        spec = specs.get(node.name)
        if spec is None:
            return None
        if spec[0] not in ("reduce", "shape"):
            changing.add(node.name)
    for node in reversed(nodes):
        inputs = [u for u in node.all_input_nodes if _is3d(env.get(u.name))]
        if not inputs:
            continue
        if node.op == "output":
            for u in inputs:
                widen(u.name, 0, int(env[u.name].shape[-1]))
            continue
        spec = specs.get(node.name)
        lo, hi = need.get(node.name, (0, 0))
        for u in inputs:
            if spec is None:
                widen(u.name, 0, int(env[u.name].shape[-1]))
            elif spec[0] == "conv":
                k, d, pad = spec[1:]
                widen(u.name, lo - pad, hi - pad + (k - 1) * d)
            elif spec[0] == "slice":
                widen(u.name, lo + spec[1], hi + spec[1])
            elif spec[0] == "reduce":
                widen(u.name, 0, int(env[u.name].shape[-1]))
            elif spec[0] != "shape":
                widen(u.name, lo, hi)
    return {"specs": specs, "need": need}


def _clip(v: _Delta, rng: tuple[int, int] | None, b: _Batch) -> _Delta:
    """``v`` cut to the columns some mutant of the batch needs (``rng``: the value's need
    range), with the columns of each mutant that fall outside ``[0, L)`` zeroed (there
    the next layer reads padding, which no substitution changes)."""
    w = v.d.shape[0]
    lo, hi = rng if rng is not None else (0, 0)
    c0 = max(0, lo - (b.p0 + b.npos - 1) - v.off)
    c1 = min(w, hi - b.p0 - v.off)
    if c1 <= c0:
        c0 = c1 = 0
    d = v.d[c0:c1] if (c0, c1) != (0, w) else v.d
    v = _Delta(d, v.off + c0, v.length, v.owned)
    w = c1 - c0
    first = b.p0 + v.off  # position of column 0 for mutant row 0
    if w and (first < 0 or first + b.npos - 1 + w > v.length):
        if not v.owned:
            v = _Delta(v.d.clone(), v.off, v.length, True)
        for i in range(b.npos):
            a = -(first + i)
            z = v.length - (first + i)
            if a > 0:
                v.d[: min(a, w), i] = 0
            if z < w:
                v.d[max(z, 0) :, i] = 0
    return v


def _ref_view(refcl: torch.Tensor, v: _Delta, b: _Batch) -> torch.Tensor:
    """The reference (channels last, padded by ``b.margin`` on both sides) at each
    mutant's window, as a zero-copy ``(w, P, 3, C)`` view."""
    c = refcl.shape[1]
    start = b.p0 + v.off + b.margin
    w = v.d.shape[0]
    if w == 0:
        return refcl.new_empty((0, b.npos, 3, c))
    if start < 0 or start + b.npos - 1 + w > refcl.shape[0]:
        raise Unsupported("window outside the padded reference")
    return refcl.as_strided((w, b.npos, 3, c), (c, c, 0, 1), start * c)


def _buffer(cache: dict[Any, Any], key: str, shape: tuple[int, ...],
            like: torch.Tensor) -> torch.Tensor:  # fmt: skip
    """An uninitialised tensor for node ``key``, reused from batch to batch.

    Why: a batch's changes are a few MB each; fresh allocations of that size are
    returned to the system and page-faulted in again at every batch (a quarter of the
    time on BPNet). Every value of a batch is dead when the next batch starts, so each
    node can keep its buffer."""
    buf = cache.get((key, shape))
    if buf is None or buf.dtype != like.dtype or buf.device != like.device:
        buf = like.new_empty(shape)
        cache[(key, shape)] = buf
    return buf


def _conv(v: _Delta, m: nn.Conv1d, spec: tuple[int, int, int], rng: tuple[int, int] | None,
          length: int, b: _Batch, cache: dict[Any, Any], key: str) -> _Delta:  # fmt: skip
    """The change of a convolution's output: for each tap, the input change's columns
    that land on needed output columns times the tap's weights, accumulated at the
    tap's shift (a substitution's change is zero outside its window, so no reference
    context is read).

    Positions are the outer axis, so a tap's block of input columns and the output
    columns it lands on are contiguous ``(columns x P x 3, C)`` matrices: one matrix
    product accumulated in place per tap, and no work on columns that no needed output
    reads (a sixth of BPNet's multiply-adds)."""
    k, dil, pad = spec
    cout = m.out_channels
    w, p, _, cin = v.d.shape
    wo = w + (k - 1) * dil
    off = v.off + pad - (k - 1) * dil
    lo, hi = rng if rng is not None else (0, 0)
    c0 = max(0, lo - (b.p0 + b.npos - 1) - off)
    c1 = min(wo, hi - b.p0 - off)
    if c1 <= c0:
        return _Delta(v.d.new_zeros((0, p, 3, cout)), off, length, True)
    if w == 1:  # the first layer: every tap of the one changed column, reversed
        wcat = cache.get(id(m))
        if wcat is None:  # (Cin, k * Cout): column block t is tap t
            wcat = m.weight.detach().permute(1, 2, 0).reshape(cin, k * cout).contiguous()
            cache[id(m)] = wcat
        z = (v.d.reshape(-1, cin) @ wcat).view(p, 3, k, cout).permute(2, 0, 1, 3).flip(0)
        return _clip(_Delta(z[c0:c1].contiguous(), off + c0, length, True), rng, b)
    taps = cache.get((id(m), "taps"))
    if taps is None:  # (k, Cin, Cout)
        taps = m.weight.detach().permute(2, 1, 0).contiguous()
        cache[(id(m), "taps")] = taps
    x = v.d if v.d.is_contiguous() else v.d.contiguous()
    out = _buffer(cache, key, (c1 - c0, p, 3, cout), x)
    spans = []
    for t in range(k):
        s = (k - 1 - t) * dil  # tap t of input column q lands on output column q + s
        a, e = max(c0, s), min(c1, s + w)
        if e > a:
            spans.append((e - a, -t, s, a, e))
    spans.sort(reverse=True)
    _, t, s, a, e = spans[0]  # the widest tap writes, the others accumulate
    if a > c0:
        out[: a - c0].zero_()
    if e < c1:
        out[e - c0 :].zero_()
    torch.mm(x[a - s : e - s].view(-1, cin), taps[-t], out=out[a - c0 : e - c0].view(-1, cout))
    for _, t, s, a, e in spans[1:]:
        out[a - c0 : e - c0].view(-1, cout).addmm_(x[a - s : e - s].view(-1, cin), taps[-t])
    return _clip(_Delta(out, off + c0, length, True), rng, b)


def _binary(kind: str, x: Any, y: Any, single: tuple[bool, bool], length: int,
            cache: dict[Any, Any], key: str, rng: tuple[int, int] | None,
            b: _Batch) -> _Delta:  # fmt: skip
    """Sum, difference or scalar product with at least one changing operand; a sum of
    two changes is written into the operand that covers both windows when nothing else
    reads it (a residual block's sum: the block's output, which is the wider)."""
    if isinstance(x, _Delta) and isinstance(y, _Delta):
        if kind == "mul":
            raise Unsupported("product of two changing values")
        x, y = _clip(x, rng, b), _clip(y, rng, b)  # only what this sum's readers need
        u0 = min(x.off, y.off)
        u1 = max(x.off + x.d.shape[0], y.off + y.d.shape[0])

        def covers(v: _Delta, free: bool) -> bool:
            return v.owned and free and v.off == u0 and v.off + v.d.shape[0] == u1

        if covers(x, single[0]):
            out, other, sign = x.d, y, 1.0 if kind == "add" else -1.0
        elif covers(y, single[1]):
            out, other, sign = y.d, x, 1.0
            if kind == "sub":
                out.neg_()
        else:
            shape = (u1 - u0, *x.d.shape[1:])
            out = _buffer(cache, key, shape, x.d)
            lo, hi = x.off - u0, x.off - u0 + x.d.shape[0]
            out[lo:hi] = x.d
            out[:lo] = 0
            out[hi:] = 0
            other, sign = y, 1.0 if kind == "add" else -1.0
        sl = out[other.off - u0 : other.off - u0 + other.d.shape[0]]
        sl.add_(other.d, alpha=sign)
        return _Delta(out, u0, length, True)
    v, other, left = (x, y, True) if isinstance(x, _Delta) else (y, x, False)
    if isinstance(other, torch.Tensor) and not (other.ndim == 0 or other.numel() == 1):
        raise Unsupported("operand that varies along the sequence or channels")
    if kind == "mul":
        return _Delta(v.d * other, v.off, length, True)
    if kind == "sub" and not left:
        return _Delta(-v.d, v.off, length, True)
    return _Delta(v.d, v.off, length, v.owned and single[0 if left else 1])


def _full(v: _Delta, ref: torch.Tensor, b: _Batch) -> torch.Tensor:
    """The mutants' full ``(3P, C, L)`` values: the reference with the change added."""
    full = ref.expand(3 * b.npos, -1, -1).clone()
    w = v.d.shape[0]
    for i in range(b.npos):
        a = b.p0 + i + v.off
        lo, hi = max(a, 0), min(a + w, v.length)
        if hi > lo:
            full[3 * i : 3 * i + 3, :, lo:hi] += v.d[lo - a : hi - a, i].permute(1, 2, 0)
    return full


def run_batch(
    gm: fx.GraphModule, pl: dict[str, Any], ref_env: dict[str, Any], refcl: dict[Any, Any],
    x0: torch.Tensor, b: _Batch, cache: dict[Any, Any],
) -> Any:  # fmt: skip
    """The graph's output for the batch's mutants (``x0``: the input's change, ``(1, P,
    3, 4)``); raises :class:`Unsupported` at a node delta mode does not handle."""
    specs, need = pl["specs"], pl["need"]
    env: dict[str, Any] = {}
    nodes = list(gm.graph.nodes)
    last: dict[str, int] = {}
    for i, node in enumerate(nodes):
        for u in node.all_input_nodes:
            last[u.name] = i

    def cl(name: str, how: str = "") -> torch.Tensor:
        """A reference value channels last, padded (``how``: ``min0``, its negative
        part; ``neg``, its negation)."""
        t = refcl.get((name, how))
        if t is None:
            r = ref_env[name][0].T
            r = r.clamp(max=0) if how == "min0" else -r if how == "neg" else r
            t = F.pad(r, (0, 0, b.margin, b.margin)).contiguous()
            refcl[(name, how)] = t
        return t

    placeholder = True
    for idx, node in enumerate(nodes):
        if node.op == "placeholder":
            if placeholder:
                length = int(ref_env[node.name].shape[-1])
                env[node.name] = _Delta(x0, 0, length, False)
                placeholder = False
            else:
                env[node.name] = ref_env[node.name]
            continue
        if node.op == "output":

            def done(a: Any) -> Any:
                if isinstance(a, fx.Node):
                    val = env[a.name]
                    return _full(val, ref_env[a.name], b) if isinstance(val, _Delta) else val
                return a

            return fx.node.map_aggregate(node.args[0], done)
        args: Any = fx.node.map_aggregate(node.args, lambda n: _value(env, n))
        kwargs: Any = fx.node.map_aggregate(node.kwargs, lambda n: _value(env, n))
        deltas = [a for a in list(args) + list(kwargs.values()) if isinstance(a, _Delta)]
        ref_out: Any = ref_env.get(node.name)
        rng = need.get(node.name)
        res: Any
        if not deltas:
            res = call_node(gm, node, args, kwargs)
        else:
            spec = specs.get(node.name)
            if spec is None:
                raise Unsupported(f"{node.op} {node.target}")
            kind = spec[0]
            v = args[0] if isinstance(args[0], _Delta) else deltas[0]
            # an operand's tensor may be updated in place when this node is its last user
            pair = [*node.args[:2], None, None]
            single = (isinstance(pair[0], fx.Node) and last.get(pair[0].name) == idx,
                      isinstance(pair[1], fx.Node) and last.get(pair[1].name) == idx)  # fmt: skip
            if kind == "shape":
                c = v.d.shape[3]
                shape = torch.Size([3 * b.npos, c, v.length])
                if node.target == "dim":
                    res = 3
                elif node.target == "size":
                    res = shape if len(args) == 1 else shape[args[1]]
                elif args[1] == "shape":
                    res = shape
                elif args[1] in ("dtype", "device", "ndim"):
                    res = getattr(v.d, args[1]) if args[1] != "ndim" else 3
                else:
                    raise Unsupported(f"attribute {args[1]}")
            elif kind == "conv":
                m: Any = gm.get_submodule(str(node.target))
                res = _conv(v, m, spec[1:], rng, int(ref_out.shape[-1]), b, cache, node.name)
            elif kind == "identity":
                res = _Delta(v.d, v.off, v.length, v.owned and single[0])
            elif kind == "scale":
                res = _Delta(v.d * spec[1], v.off, v.length, True)
            elif kind == "pointwise":
                v = _clip(v, rng, b)
                src = node.args[0].name
                if spec[1]:  # ReLU: relu(r + d) - relu(r) = max(d + min(r, 0), -relu(r))
                    low = _ref_view(cl(src, "min0"), v, b)
                    floor = _ref_view(cl(node.name, "neg"), v, b)
                    d = v.d if v.owned and single[0] else v.d.clone()
                    d = d.add_(low).clamp_(min=floor)
                else:
                    pre, post = _ref_view(cl(src), v, b), _ref_view(cl(node.name), v, b)
                    d = _pointwise_fn(gm, node, spec[2], spec[3])(v.d + pre).sub_(post)
                res = _clip(_Delta(d, v.off, v.length, True), rng, b)
            elif kind == "binary":
                if any(isinstance(a, _Delta) and a.length != int(ref_out.shape[-1]) for a in args):
                    raise Unsupported("operands of different lengths")
                res = _clip(_binary(spec[1], args[0], args[1], single, v.length, cache, node.name,
                                    rng, b),
                            rng, b)  # fmt: skip
            elif kind == "slice":
                a, chans = spec[1], spec[2]
                d = v.d if chans == slice(None) else v.d[..., chans]
                res = _clip(_Delta(d, v.off - a, int(ref_out.shape[-1]), v.owned and single[0]),
                            rng, b)  # fmt: skip
            elif kind == "reduce":
                _, how, keep = spec
                tot = v.d.sum(dim=0).reshape(3 * b.npos, -1)
                if how == "mean":
                    tot = tot / v.length
                res = ref_out.reshape(1, -1) + tot
                if keep:
                    res = res.unsqueeze(-1)
                res = res.reshape(3 * b.npos, *ref_out.shape[1:])
            else:  # pragma: no cover
                raise Unsupported(kind)
        env[node.name] = res
        for u in node.all_input_nodes:
            if last.get(u.name) == idx:
                env.pop(u.name, None)
    raise Unsupported("graph without output")  # pragma: no cover


def _value(env: dict[str, Any], n: Any) -> Any:
    return env[n.name] if isinstance(n, fx.Node) else n


def _pointwise_fn(gm: fx.GraphModule, node: fx.Node, args: tuple[Any, ...],
                  kwargs: dict[str, Any]) -> Callable[[torch.Tensor], torch.Tensor]:  # fmt: skip
    """The node's element-wise function of one tensor (never in place)."""
    if node.op == "call_module":
        return gm.get_submodule(str(node.target))
    if node.op == "call_function":
        fn: Any = node.target
        return lambda t: fn(t, *args, **kwargs)
    name = str(node.target)
    return lambda t: getattr(t, name)(*args, **kwargs)


_OTHERS = torch.tensor([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
"""The three substituted bases at a position, by observed base (ascending)."""


def positions_per_batch(pl: dict[str, Any], ref_env: dict[str, Any], x: torch.Tensor,
                        batch_size: int) -> int:  # fmt: skip
    """Positions per batch (3 mutants each), from shapes only (reproducible).

    On the CPU the batch's widest change is kept near 32 MB (its needed columns x
    channels x 3 substitutions per position; BPNet: 20 positions). On BPNet (2 cores)
    20 positions beat 10 by 4-11% in three paired runs, 32-48 were no faster, 1-2
    slower (Python's per-node cost). On a GPU ``batch_size`` mutants."""
    if x.device.type != "cpu":
        return max(1, batch_size // 3)
    widest = max((int(v.shape[1]) * (need[1] - need[0]) for name, need in pl["need"].items()
                  if _is3d(v := ref_env[name])), default=1)  # fmt: skip
    per_pos = 3 * widest * x.element_size()
    return max(1, min(64, (32 << 20) // per_pos))


@torch.no_grad()
def ism_sequence(
    gm: fx.GraphModule, pl: dict[str, Any], ref_env: dict[str, Any], xi: torch.Tensor,
    select: Callable[[Any], torch.Tensor], npos: int, cache: dict[Any, Any],
) -> torch.Tensor:  # fmt: skip
    """Predictions of the ``3 L`` substitutions of one sequence (every position has an
    observed base), position-major, bases ascending; raises :class:`Unsupported`."""
    length = xi.shape[-1]
    obs = xi[0].argmax(dim=0)
    eye = torch.eye(4, dtype=xi.dtype, device=xi.device)
    subs = _OTHERS.to(xi.device)[obs]  # (L, 3)
    change = eye[subs] - xi[0].T[:, None, :]  # (L, 3, 4)
    preds = torch.empty(3 * length, dtype=xi.dtype, device=xi.device)
    refcl: dict[Any, Any] = {}
    for p0 in range(0, length, npos):
        n = min(npos, length - p0)
        b = _Batch(p0, n, npos + 2)
        out = run_batch(gm, pl, ref_env, refcl, change[None, p0 : p0 + n].contiguous(), b,
                        cache)  # fmt: skip
        preds[3 * p0 : 3 * (p0 + n)] = select(out)
    return preds
