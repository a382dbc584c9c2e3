"""Fast input gradients for any traceable network: compute only what the attributed output
needs, in batches that fit the cache, with backward passes that skip what autograd does
for weights.

Why: gradient x input (and saliency, integrated and expected gradients) is one forward
and one input-gradient backward per sequence. Run as peers run it (``model(x)``, then
``autograd.grad``), three costs are not needed:

- **Unselected heads.** BPNet's forward computes its profile head (a 75-wide convolution
  over 2,114 positions, as costly as the whole dilated body on the CPU) when only its
  counts are attributed. The module is traced with ``torch.fx`` (as for fast ISM,
  :func:`seqlantern.fastism.trace`), the unselected outputs of ``model.output.select``
  are dropped and dead-code elimination removes the layers only they need.
- **Page faults.** On the CPU, an intermediate over glibc's mmap threshold (32 MB) is
  mapped fresh and zero-filled on every call; BPNet at batch 64 has 35 MB activations.
  Gradients are computed in chunks whose largest intermediate stays near
  :data:`seqlantern.fastism.CPU_BATCH_BYTES` (measured on BPNet: 1.9 s for 64
  sequences at batch 64, 1.0 s in chunks of 16). The chunk size follows from shapes only,
  so results do not depend on the machine's load.
- **Slow generic kernels.** ``MaxPool1d`` with non-overlapping windows runs the pooling
  kernel without indices and finds each window's first maximum by strided comparisons
  (autograd's indexed kernel is 15x slower on DeepSTARR's first block), and a ReLU
  before it moves after it (same values and gradient, on half the positions); an eval
  batch norm after a convolution is folded into that convolution's *backward* weights
  (not its forward: that would round differently and could move max-pool winners), a
  lone one gets a per-channel scale as backward; a convolution on the one-hot input
  (at most :data:`INPUT_CONV_CHANNELS` channels) runs as one matrix product over its
  ``kernel x channels`` columns where that is bit-identical to the kernel (checked per
  shape) and takes its input gradient as one matrix product and ``kernel`` shifted sums
  (2-3x faster than autograd's on 4 -> 256 channels). When a block max pool alone reads
  it (DeepSTARR's first block: convolution, batch norm, ReLU, pool), the block is one
  step that keeps only each window's first-maximum offset and sends the pooled gradient
  through the taps per offset, so the layer's full-length output is never written back
  in the backward. Input gradients of wide convolutions as transposed convolutions were
  measured and were no faster; autograd's are kept.

The forward values are the module's own (the same layers' calls; the max over a window
is exact), so the predictions are unchanged and the input gradient is
autograd's up to float summation order. :func:`prepare` checks this on the first
sequences of a run (outputs and input gradients against plain autograd on the module)
and returns the module itself when the graph cannot be traced or the check fails. The
prepared module is for input gradients only: weights get no gradient through it.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import fx, nn

from seqlantern.fastism import CPU_BATCH_BYTES, conv_batchnorm_pairs, run, trace


class _InputConvFn(torch.autograd.Function):
    """A convolution on few input channels (the one-hot input layer) whose input gradient
    is one matrix product and ``kernel`` shifted sums."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, conv: _ColumnConv, left: int) -> torch.Tensor:
        ctx.conv, ctx.left, ctx.length = conv.conv, left, x.shape[-1]
        return conv(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        c: nn.Conv1d = ctx.conv
        gx = _taps_backward(g, c.weight, c.dilation[0], ctx.left, ctx.length)
        return gx, None, None, None


def _im2col_conv(x: torch.Tensor, conv: nn.Conv1d, left: int) -> torch.Tensor:
    """A stride-1 convolution on few input channels as one matrix product over the
    ``kernel x channels`` columns of ``x`` (tap-major, channel-minor) and a last column
    of ones that carries the bias.

    Why: the convolution kernel on 4 -> 256 channels is slower than a matrix product
    over the 28 columns, and the bias costs no extra pass over the (large) output
    (DeepSTARR's gradient x input: 4-6% faster in paired runs). The terms are summed in
    the kernel's own order (taps in turn, then the bias), which on the CPU gives
    bit-identical values; :class:`_ColumnConv` checks that before it is used, because a
    value that rounds differently can move a later max pool's winner.
    """
    w = conv.weight
    out_c, in_c, k = w.shape
    d, length = conv.dilation[0], x.shape[-1]
    span = d * (k - 1)
    if conv.padding == "same":
        right = span - left
    else:
        right = 0 if conv.padding == "valid" else left
    xp = F.pad(x, (left, right)) if left or right else x
    out_len = length + left + right - span
    taps = xp.unfold(-1, span + 1, 1)[..., ::d].permute(0, 3, 1, 2)  # (n, k, in_c, out_len)
    weights = w.permute(0, 2, 1).reshape(out_c, k * in_c)
    if conv.bias is None:
        return torch.matmul(weights, taps.reshape(x.shape[0], k * in_c, out_len))
    cols = x.new_empty((x.shape[0], k * in_c + 1, out_len))
    cols[:, :-1].view(x.shape[0], k, in_c, out_len).copy_(taps)
    cols[:, -1] = 1
    return torch.matmul(torch.cat([weights, conv.bias[:, None]], 1), cols)


class _ColumnConv:
    """A convolution on few input channels that runs as :func:`_im2col_conv` for every
    input shape, device and type on which that gives the module's values bit for bit
    (checked once per shape on seeded dense random inputs: the kernel's summation order
    depends on the library and the hardware; where it differs, the module's own call is
    kept)."""

    def __init__(self, conv: nn.Conv1d, left: int) -> None:
        self.conv, self.left = conv, left
        self.exact: dict[tuple[Any, ...], bool] = {}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        key = (tuple(x.shape[1:]), x.device, x.dtype, torch.is_autocast_enabled(x.device.type))
        if key not in self.exact:
            gen = torch.Generator().manual_seed(1)
            probe = torch.randn((2, *x.shape[1:]), generator=gen).to(x.device, x.dtype)
            with torch.no_grad():
                try:
                    same = torch.equal(_im2col_conv(probe, self.conv, self.left),
                                       self.conv(probe))  # fmt: skip
                except RuntimeError:
                    same = False
            self.exact[key] = bool(same)
        if self.exact[key]:
            return _im2col_conv(x, self.conv, self.left)
        out: torch.Tensor = self.conv(x)
        return out


def _taps_backward(
    g: torch.Tensor, weight: torch.Tensor, d: int, left: int, length: int
) -> torch.Tensor:
    """Input gradient of a stride-1 convolution on few channels: one matrix product and
    ``kernel`` shifted sums (contiguous along positions)."""
    out_c, in_c, k = weight.shape
    n, _, out_len = g.shape
    # y[b, j, i, p] = sum_o w[o, i, j] g[b, o, p]: what output p sends to input
    # position p + j * d - left through tap j
    taps = weight.permute(2, 1, 0).reshape(k * in_c, out_c)
    y = torch.matmul(taps, g).view(n, k, in_c, out_len)
    span = d * (k - 1)
    buf = g.new_empty((n, in_c, out_len + span))
    buf[:, :, :span] = 0
    buf[:, :, span:] = y[:, k - 1]
    for j in range(k - 1):
        buf[:, :, j * d : j * d + out_len] += y[:, j]
    return buf[:, :, left : left + length]


INPUT_CONV_CHANNELS = 8
"""Convolutions on at most this many input channels take :class:`_InputConvFn`'s backward
(measured on DeepSTARR's 4 -> 256 first layer: 1.3-1.7 ms against 3.0 ms per 32
sequences; on wide inputs the shifted sums cost more than they save)."""


def _input_conv_left(m: nn.Conv1d) -> int | None:
    """Left zero padding of a stride-1, ungrouped convolution on few channels, else ``None``."""
    if (m.in_channels > INPUT_CONV_CHANNELS or m.stride[0] != 1 or m.groups != 1
            or m.padding_mode != "zeros"):  # fmt: skip
        return None
    if m.padding == "valid":
        return 0
    if m.padding == "same":
        return m.dilation[0] * (m.kernel_size[0] - 1) // 2
    return int(m.padding[0])


class _BatchNormFn(torch.autograd.Function):
    """Eval-mode batch norm (the module's own call) whose backward is a channel scale."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, bn: nn.BatchNorm1d) -> torch.Tensor:
        ctx.scale = _bn_scale(bn)
        return bn(x)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        s = ctx.scale
        return g * (s[:, None] if g.ndim == 3 else s), None


def _bn_scale(bn: nn.BatchNorm1d) -> torch.Tensor:
    """Per-channel slope of an eval-mode batch norm: weight / sqrt(running var + eps)."""
    var: torch.Tensor = bn.running_var  # type: ignore[assignment]
    scale = torch.rsqrt(var + bn.eps)
    return scale if bn.weight is None else scale * bn.weight


class _ConvBatchNormFn(torch.autograd.Function):
    """Convolution then eval batch norm (the modules' own calls); backward: one input
    gradient of the convolution with the batch norm's slope folded into its weights (a
    folded *forward* would round differently and could move max-pool winners; the
    backward has no winners to move)."""

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        conv: nn.Conv1d,
        bn: nn.BatchNorm1d,
        pad: int,
        taps: _ColumnConv | None,
    ) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.conv, ctx.bn, ctx.pad, ctx.taps = conv, bn, pad, taps is not None
        return bn(conv(x) if taps is None else taps(x))

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[Any, ...]:
        (x,) = ctx.saved_tensors
        c: nn.Conv1d = ctx.conv
        w = c.weight * _bn_scale(ctx.bn)[:, None, None]
        if ctx.taps:
            gx = _taps_backward(g, w, c.dilation[0], ctx.pad, x.shape[-1])
        else:
            gx = torch.ops.aten.convolution_backward(
                g, x, w, None, list(c.stride), [ctx.pad], list(c.dilation), False, [0],
                c.groups, [True, False, False])[0]  # fmt: skip
        return gx, None, None, None, None


def _symmetric_pad(m: nn.Conv1d) -> int | None:
    """A convolution's zero padding when it is the same on both sides, else ``None``."""
    if m.padding_mode != "zeros":
        return None
    if m.padding == "valid":
        return 0
    if m.padding == "same":
        total = m.dilation[0] * (m.kernel_size[0] - 1)
        return None if total % 2 or m.stride[0] != 1 else total // 2
    return int(m.padding[0])


def _fuse_conv_batchnorm(gm: fx.GraphModule) -> int:
    """Every eval batch norm that reads only a convolution with symmetric padding becomes
    one :class:`_ConvBatchNormFn` step. Returns how many."""
    fused = 0
    for i, node, prev, conv, bn in conv_batchnorm_pairs(gm):
        pad = _symmetric_pad(conv)
        if pad is None:
            continue
        name = f"_seqlantern_convbn_{i}"
        taps = _ColumnConv(conv, pad) if _input_conv_left(conv) is not None else None
        plain = nn.Sequential(conv, bn)
        gm.add_submodule(name, _Swapped(plain, _ConvBatchNormFn, conv, bn, pad, taps))
        node.target = name
        node.args = prev.args
        gm.graph.erase_node(prev)
        fused += 1
    return fused


class _BlockMaxFn(torch.autograd.Function):
    """``MaxPool1d(k)`` over non-overlapping windows. Forward: the pooling kernel without
    indices (vectorised; the indexed kernel autograd runs is 15x slower on DeepSTARR's
    first block) and the offset of each window's first maximum from ``k - 1`` strided
    comparisons. Backward: max pooling's own scatter kernel on those indices, so the
    gradient goes where autograd sends it."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, k: int) -> torch.Tensor:
        v = F.max_pool1d(x, k)
        m = v.shape[-1]
        xs = x[..., : m * k].unflatten(-1, (m, k))
        # the position of each window's first maximum: its start plus the number of
        # leading offsets that do not hold the maximum
        missed = xs[..., 0] != v
        full = torch.arange(0, m * k, k, device=x.device) + missed
        for j in range(1, k - 1):
            missed = missed & (xs[..., j] != v)
            full += missed
        ctx.save_for_backward(x, full)
        ctx.k = k
        return v

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None]:
        x, full = ctx.saved_tensors
        k = ctx.k
        gx = torch.ops.aten.max_pool2d_with_indices_backward(
            g.unsqueeze(2), x.unsqueeze(2), [1, k], [1, k], [0, 0], [1, 1], False,
            full.unsqueeze(2))  # fmt: skip
        return gx.squeeze(2), None


class _InputBlockFn(torch.autograd.Function):
    """A convolution on the one-hot input (batch norm optional) then ``MaxPool1d(k)`` over
    non-overlapping windows, as one step. Forward: the same calls as
    :class:`_ConvBatchNormFn` and :class:`_BlockMaxFn`, keeping only each window's
    first-maximum offset (one byte). Backward: for each offset ``j``, the pooled gradient
    where the window's maximum sits at ``j`` goes through one matrix product with the
    taps, and its rows are added at stride ``k`` into the input gradient.

    Why: the layer's full-length output (DeepSTARR: 256 channels x 249 positions, 16 MB
    per 64 sequences) was written three more times in the backward (zero fill, scatter,
    then read by the taps' product) and its 8-byte indices once in the forward; on the
    CPU these passes cost more than the products. The sums are the same terms as the
    unfused backward; the forward is the modules' own values.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        column: _ColumnConv,
        bn: nn.BatchNorm1d | None,
        k: int,
    ) -> torch.Tensor:
        h = column(x)
        if bn is not None:
            h = bn(h)
        v = F.max_pool1d(h, k)
        m = v.shape[-1]
        hs = h[..., : m * k].unflatten(-1, (m, k))
        missed = hs[..., 0] != v
        if k == 2:  # the offset is 1 exactly where offset 0 missed the maximum
            offset = missed
        else:
            offset = missed.to(torch.uint8)
            for j in range(1, k - 1):
                missed &= hs[..., j] != v
                offset += missed
        ctx.save_for_backward(offset)
        ctx.column, ctx.bn, ctx.k = column, bn, k
        ctx.length, ctx.out_len = x.shape[-1], h.shape[-1]
        return v

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> tuple[torch.Tensor, None, None, None]:
        (offset,) = ctx.saved_tensors
        conv: nn.Conv1d = ctx.column.conv
        w = conv.weight if ctx.bn is None else conv.weight * _bn_scale(ctx.bn)[:, None, None]
        out_c, in_c, kk = w.shape
        d, k, left = conv.dilation[0], ctx.k, ctx.column.left
        n, _, m = g.shape
        taps = w.permute(2, 1, 0).reshape(kk * in_c, out_c)
        buf = g.new_zeros((n, in_c, ctx.out_len + d * (kk - 1)))
        if k == 2:  # g is g0 + g1 exactly: each entry goes to one of them, 0 to the other
            g1 = g * offset
            parts = [g - g1, g1]
        else:
            parts = [g * (offset == j) for j in range(k)]
        for j, part in enumerate(parts):
            # what the windows whose maximum sits at offset j send to their input
            y = torch.matmul(taps, part).view(n, kk, in_c, m)
            for t in range(kk):
                start = j + t * d  # output position q * k + j reads input q * k + j + t * d
                buf[:, :, start : start + k * m : k] += y[:, t]
        return buf[:, :, left : left + ctx.length], None, None, None


def _fuse_input_block(gm: fx.GraphModule) -> list[str]:
    """Every block max pool that alone reads a convolution on the one-hot input (fused
    with its batch norm or not) becomes one :class:`_InputBlockFn` step. Returns what
    was fused."""
    fused: list[str] = []
    for i, node in enumerate(list(gm.graph.nodes)):
        if node.op != "call_module" or len(node.users) != 1 or len(node.args) != 1:
            continue
        pool_node = next(iter(node.users))
        if pool_node.op != "call_module" or pool_node.args != (node,) or pool_node.kwargs:
            continue
        pool = gm.get_submodule(str(pool_node.target))
        if not isinstance(pool, nn.MaxPool1d) or (k := _block(pool)) is None:
            continue
        m = gm.get_submodule(str(node.target))
        if isinstance(m, _Swapped) and m.fn is _ConvBatchNormFn and m.args[3] is not None:
            conv, bn, column = m.args[0], m.args[1], m.args[3]
        elif isinstance(m, nn.Conv1d) and (left := _input_conv_left(m)) is not None:
            conv, bn, column = m, None, _ColumnConv(m, left)
        else:
            continue
        plain = nn.Sequential(conv, pool) if bn is None else nn.Sequential(conv, bn, pool)
        name = f"_seqlantern_block_{i}"
        gm.add_submodule(name, _Swapped(plain, _InputBlockFn, column, bn, k))
        pool_node.target = name
        pool_node.args = node.args
        gm.graph.erase_node(node)
        fused.append(
            "few-channel Conv1d+MaxPool1d"
            if bn is None
            else "few-channel Conv1d+BatchNorm1d+MaxPool1d"
        )
    return fused


class _Swapped(nn.Module):
    """Runs ``fn.apply(x, *args)`` when ``x`` needs an input gradient, ``plain(x)`` (the
    user's modules) otherwise or for inputs of another rank than ``rank``."""

    def __init__(
        self, plain: nn.Module, fn: Any, *args: Any, rank: int | None = 3
    ) -> None:  # fmt: skip
        super().__init__()
        self.plain, self.fn, self.args, self.rank = plain, fn, args, rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not x.requires_grad or (self.rank is not None and x.ndim != self.rank):
            out: torch.Tensor = self.plain(x)
        else:
            out = self.fn.apply(x, *self.args)
        return out


def _block(m: nn.MaxPool1d) -> int | None:
    """The window of a max pool over non-overlapping windows, else ``None``."""
    k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
    s = m.stride if isinstance(m.stride, int) else m.stride[0]
    p = m.padding if isinstance(m.padding, int) else m.padding[0]
    d = m.dilation if isinstance(m.dilation, int) else m.dilation[0]
    if s != k or p != 0 or d != 1 or m.ceil_mode or m.return_indices or k > 255:
        return None
    return int(k)


def _is_relu(gm: fx.GraphModule, node: Any) -> bool:
    if not isinstance(node, fx.Node) or len(node.users) != 1 or len(node.args) != 1:
        return False
    if node.op == "call_module":
        return isinstance(gm.get_submodule(str(node.target)), nn.ReLU)
    if node.op == "call_function":
        return node.target in (torch.relu, F.relu) and not node.kwargs
    return node.op == "call_method" and node.target == "relu" and not node.kwargs


def _pool_before_relu(gm: fx.GraphModule) -> int:
    """``relu(pool(x))`` for every ``pool(relu(x))`` with a block max pool: the same values
    (ReLU is monotone) and the same gradient (where the window's maximum is not positive,
    both send zero), on a tensor ``k`` times smaller. Returns how many were swapped."""
    swapped = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        pool = gm.get_submodule(str(node.target))
        relu = node.args[0]
        if not isinstance(pool, nn.MaxPool1d) or _block(pool) is None or not _is_relu(gm, relu):
            continue
        node.args = (relu.args[0],)
        node.replace_all_uses_with(relu)
        relu.args = (node,)
        node.append(relu)  # the ReLU now runs after the pool
        swapped += 1
    return swapped


def _rewrite(gm: fx.GraphModule) -> list[str]:
    """Swap eval batch norms and block max pools for the versions
    above (the user's modules are wrapped, not changed). Returns what was swapped."""
    done: list[str] = ["ReLU after MaxPool1d"] * _pool_before_relu(gm)
    done += ["Conv1d+BatchNorm1d"] * _fuse_conv_batchnorm(gm)
    blocks = _fuse_input_block(gm)
    for kind in blocks:  # a fused convolution and batch norm is now part of the block
        if "BatchNorm1d" in kind:
            done.remove("Conv1d+BatchNorm1d")
    done += blocks
    for i, node in enumerate(list(gm.graph.nodes)):
        if node.op != "call_module" or len(node.args) != 1 or node.kwargs:
            continue
        m = gm.get_submodule(str(node.target))
        new: nn.Module | None = None
        if isinstance(m, nn.Conv1d) and (left := _input_conv_left(m)) is not None:
            new = _Swapped(m, _InputConvFn, _ColumnConv(m, left), left)
        elif (isinstance(m, nn.BatchNorm1d) and not m.training and m.running_var is not None
              and m.running_mean is not None):  # fmt: skip
            new = _Swapped(m, _BatchNormFn, m, rank=None)
        elif isinstance(m, nn.MaxPool1d) and (k := _block(m)) is not None:
            new = _Swapped(m, _BlockMaxFn, k)
        if new is None:
            continue
        name = f"_seqlantern_grad_{i}"
        gm.add_submodule(name, new)
        node.target = name
        done.append(type(m).__name__)
    gm.recompile()
    return done


NO_CHUNKS = 1 << 30
"""The chunk size off the CPU: the caller's whole batch in one pass."""


class GradientModel(nn.Module):
    """The traced, pruned and rewritten graph of a module, with the chunk size its input
    gradients are computed in (see the module docstring). Same ``(N, T)`` output."""

    def __init__(self, gm: fx.GraphModule, post: Callable[[Any], Any], chunk: int,
                 summary: str) -> None:  # fmt: skip
        super().__init__()
        self.gm, self._post, self.chunk, self.summary = gm, post, chunk, summary

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self._post(self.gm(x))
        return out


def chunks(model: nn.Module, n: int) -> list[slice]:
    """Slices of a batch of ``n`` for one input-gradient pass each: chunks of a
    :class:`GradientModel`'s size, else the whole batch."""
    step = model.chunk if isinstance(model, GradientModel) else n
    return [slice(i, min(i + step, n)) for i in range(0, max(n, 1), max(step, 1))]


def _autograd(model: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Outputs and the input gradient of their sum, one pass per chunk."""
    outs, grads = [], []
    for s in chunks(model, len(x)):
        xi = x[s].detach().clone().requires_grad_(True)
        out = model(xi)
        (g,) = torch.autograd.grad(out.sum(), xi)
        outs.append(out.detach())
        grads.append(g)
    return torch.cat(outs), torch.cat(grads)


def prepare(model: nn.Module, x: torch.Tensor, *, probes: int = 4) -> nn.Module:
    """The fast input-gradient version of ``model`` (a :class:`GradientModel`), or
    ``model`` itself when it cannot be traced or the traced version fails its check.

    The check runs ``probes`` seeded random one-hot sequences of ``x``'s shape through
    both (not the data: every shard of a run makes the same choice, so sharded outputs
    stay byte-identical): outputs must agree to 1e-5 and the input gradients of the
    summed outputs (every target at once) to 1e-4, relative to their largest values.
    ``model`` must be in eval mode (as attribution runs it).
    """
    from seqlantern.attribute import frozen

    traced = trace(model, fold_batchnorm=False)
    if traced is None:
        return model
    gm, post = traced
    gen = torch.Generator().manual_seed(0)
    bases = torch.randint(0, 4, (probes, x.shape[-1]), generator=gen)
    xp = F.one_hot(bases, x.shape[1]).transpose(1, 2).to(device=x.device, dtype=x.dtype)
    used = {id(gm.get_submodule(str(n.target))) for n in gm.graph.nodes if n.op == "call_module"}
    # the layers fx calls as modules (torch.nn's; the user's own are traced through)
    leaves = [(name, m) for name, m in model.named_modules()
              if not list(m.children()) and type(m).__module__.startswith("torch.nn")]  # fmt: skip
    dropped = [name for name, m in leaves if id(m) not in used]
    try:
        with frozen(model):
            swapped = _rewrite(gm)
            sizes: list[int] = []
            with torch.no_grad():
                run(gm, xp[:1], sizes=sizes)
            chunk = NO_CHUNKS  # on a GPU, throughput grows with the batch
            if x.device.type == "cpu" and sizes:
                chunk = max(1, CPU_BATCH_BYTES // (x.element_size() * max(max(sizes), 1)))
            fast = GradientModel(gm, post, chunk, "")
            want_out, want_g = _autograd(model, xp)
            got_out, got_g = _autograd(fast, xp)
    except Exception:  # tracing artefacts of unusual modules: the plain module is used
        if os.environ.get("SEQLANTERN_DEBUG"):
            raise
        return model
    tol_o = 1e-5 * (float(want_out.abs().max()) + 1e-12)
    tol_g = 1e-4 * (float(want_g.abs().max()) + 1e-12)
    if got_out.shape != want_out.shape or got_g.shape != want_g.shape:
        return model
    if not (torch.allclose(got_out, want_out, rtol=1e-5, atol=tol_o)
            and torch.allclose(got_g, want_g, rtol=1e-4, atol=tol_g)):  # fmt: skip
        return model
    per = "one pass per batch" if chunk == NO_CHUNKS else f"chunks of {chunk} sequences"
    kinds = ", ".join(f"{swapped.count(k)} {k}" for k in sorted(set(swapped))) or "none"
    unused = f" ({', '.join(dropped[:4])}{', ...' if len(dropped) > 4 else ''})" if dropped else ""
    fast.summary = (f"traced graph, {len(dropped)} of {len(leaves)} layers not needed for "
                    f"the attributed output{unused}, input-gradient kernels: {kinds}, "
                    f"{per}")  # fmt: skip
    return fast
