"""Fast input gradients (seqlantern.fastgrad) against plain autograd on the module:
DeepSTARR-shaped blocks (batch norm, ReLU, max pooling with ties and odd lengths),
input convolutions of every padding, BPNet's unused head pruned, chunking, the fallback
for untraceable models, and the attribution stage taking the path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from seqlantern.attribute import attribute, gradient_x_input
from seqlantern.fastgrad import (
    GradientModel,
    _BlockMaxFn,
    _ColumnConv,
    _im2col_conv,
    _InputConvFn,
    prepare,
)
from seqlantern.methods import hypothetical
from seqlantern.models import OutputHead
from test_fastism import DeepSTARRLike, Untraceable, _randomize_bn, _x


def _autograd(model: nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    xi = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xi)[:, target].sum(), xi)
    return g


def _same_gradients(model: nn.Module, x: torch.Tensor) -> GradientModel:
    """``prepare`` takes the fast path, keeps the outputs bit for bit and the input
    gradient of every target to float rounding."""
    model.eval().requires_grad_(False)
    fast = prepare(model, x)
    assert isinstance(fast, GradientModel), "the fast path declined a model it handles"
    with torch.no_grad():
        assert torch.equal(fast(x), model(x))
        want_out = model(x)
    # with an input gradient the rewritten steps run: still the module's values, bit for bit
    assert torch.equal(fast(x.clone().requires_grad_(True)).detach(), want_out)
    for t in range(model(x).shape[1]):
        want = _autograd(model, x, t)
        got = _autograd(fast, x, t)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6 * float(want.abs().max()))
    return fast


class OddPools(nn.Module):
    """Block max pools of 2, 3 and 4 on odd lengths, ReLU before each (module, function
    and method forms), batch norm on the dense layer, an input convolution on 5 channels
    with 'same' padding of an even kernel."""

    def __init__(self) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 4, padding="same")
        self.bn1 = nn.BatchNorm1d(6)
        self.c2 = nn.Conv1d(6, 6, 3, padding=1)
        self.c3 = nn.Conv1d(6, 5, 3, padding=2, dilation=2)
        self.p2, self.p3, self.p4 = nn.MaxPool1d(2), nn.MaxPool1d(3), nn.MaxPool1d(4)
        self.act = nn.ReLU()
        self.dense = nn.Linear(5 * 1, 3)
        self.bn2 = nn.BatchNorm1d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.p2(self.act(self.bn1(self.c1(x))))  # 53 -> 26
        h = self.p3(torch.relu(self.c2(h)))  # 26 -> 8
        h = self.p4(self.c3(h).relu())  # 8 -> 2
        return self.bn2(self.dense(h[:, :, :1].flatten(1)))


def test_deepstarr_shape_matches_autograd() -> None:
    torch.manual_seed(0)
    fast = _same_gradients(_randomize_bn(DeepSTARRLike(81)), _x(9, 81))
    # its convolutions have few input channels: each block is one fused step
    assert "3 few-channel Conv1d+BatchNorm1d+MaxPool1d" in fast.summary
    assert "1 BatchNorm1d" in fast.summary and "3 ReLU after MaxPool1d" in fast.summary


def test_odd_lengths_and_windows_match_autograd() -> None:
    torch.manual_seed(1)
    fast = _same_gradients(_randomize_bn(OddPools()), _x(7, 53))
    # the even 'same' kernel pads unevenly: its batch norm is not fused
    assert "3 ReLU after MaxPool1d" in fast.summary and "2 BatchNorm1d" in fast.summary
    assert "Conv1d+BatchNorm1d" not in fast.summary
    # pools of 3 and 4 after few-channel convolutions (one dilated) are fused steps
    assert "2 few-channel Conv1d+MaxPool1d" in fast.summary


@pytest.mark.parametrize("k", [2, 3, 4])
def test_block_max_ties_go_to_the_first_maximum(k: int) -> None:
    """Exact ties (whole windows equal, pairs equal, zeros after a ReLU): the forward
    values and the gradient are max pooling's own, bit for bit."""
    rng = np.random.default_rng(k)
    x = torch.from_numpy(rng.integers(-2, 3, (3, 5, 4 * k + 1)).astype(np.float32))
    x[0, 0] = 1.0  # a channel of equal values
    g = torch.from_numpy(rng.normal(size=(3, 5, 4)).astype(np.float32))
    xr = x.clone().requires_grad_(True)
    want = F.max_pool1d(xr, k)
    (gw,) = torch.autograd.grad(want, xr, g)
    xf = x.clone().requires_grad_(True)
    got = _BlockMaxFn.apply(xf, k)
    (gf,) = torch.autograd.grad(got, xf, g)
    assert torch.equal(got, want.detach())
    assert torch.equal(gf, gw)


@pytest.mark.parametrize(
    ("kernel", "padding", "dilation"),
    [(7, "same", 1), (6, "same", 1), (5, "valid", 1), (5, 2, 1), (3, 4, 2), (4, "same", 3)],
)
def test_input_convolution_gradient(kernel: int, padding: object, dilation: int) -> None:
    torch.manual_seed(2)
    conv = nn.Conv1d(4, 16, kernel, padding=padding, dilation=dilation).requires_grad_(False)  # type: ignore[arg-type]
    x = _x(3, 40).requires_grad_(True)
    out = conv(x)
    g = torch.randn_like(out)
    (want,) = torch.autograd.grad(out, x, g)
    left = {"same": dilation * (kernel - 1) // 2, "valid": 0}.get(padding, padding)  # type: ignore[call-overload]
    xf = x.detach().clone().requires_grad_(True)
    column = _ColumnConv(conv, left)
    got_out = _InputConvFn.apply(xf, column, left)
    # the column product is used only where it is bit-identical to the module's kernel
    assert torch.equal(got_out, out.detach())
    assert len(column.exact) == 1
    # the columns themselves (padding, dilation, tap order) agree on any machine
    torch.testing.assert_close(_im2col_conv(x.detach(), conv, left), out.detach(),
                               rtol=1e-6, atol=1e-6)  # fmt: skip
    (got,) = torch.autograd.grad(got_out, xf, g)
    torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_bpnet_counts_prune_the_profile_head() -> None:
    pytest.importorskip("bpnetlite")
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    net = BPNet(n_filters=8, n_layers=3, n_outputs=2, n_control_tracks=0, trimming=12,
                verbose=False)  # fmt: skip
    fast = _same_gradients(OutputHead(net, {"select": 1}), _x(5, 100))
    assert "1 of" in fast.summary and "fconv" in fast.summary
    # the profile objective needs the profile head, and not the counts layer
    prof = _same_gradients(OutputHead(net, {"select": 0, "reduce": "profile"}), _x(3, 100))
    assert "1 of" in prof.summary and "linear" in prof.summary


def test_chunks_give_the_whole_batch_result() -> None:
    torch.manual_seed(0)
    model = _randomize_bn(DeepSTARRLike(80)).requires_grad_(False)
    x = _x(11, 80)
    fast = prepare(model, x)
    assert isinstance(fast, GradientModel)
    whole, _ = gradient_x_input(model, x, target=1, correct=False)
    fast.chunk = 3
    got, pred = gradient_x_input(fast, x, target=1, correct=False)
    torch.testing.assert_close(got, whole, rtol=1e-4, atol=1e-6 * float(whole.abs().max()))
    with torch.no_grad():  # batch-size rounding of the dense layers only
        torch.testing.assert_close(pred, model(x), rtol=1e-5, atol=1e-6)
    ig_fast = hypothetical("integrated_gradients", fast, x, target=0, steps=4)
    ig = hypothetical("integrated_gradients", model, x, target=0, steps=4)
    torch.testing.assert_close(ig_fast, ig, rtol=1e-4, atol=1e-6 * float(ig.abs().max()))


def test_untraceable_model_is_used_as_given() -> None:
    torch.manual_seed(0)
    m = Untraceable().eval()
    assert prepare(m, _x(2, 30)) is m


def test_attribute_takes_the_fast_path_and_writes_autograd_maps(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    model = _randomize_bn(DeepSTARRLike(80))
    x = _x(10, 80)
    out, pred = tmp_path / "maps.npy", tmp_path / "pred.tsv"
    attribute(model, x.numpy(), np.arange(10), [f"s{i}" for i in range(10)], out, pred,
              batch_size=4, target=1, correct=False)  # fmt: skip
    assert "gradient path: traced graph" in capsys.readouterr().out
    want = (_autograd(model.requires_grad_(False), x, 1) * x).numpy()
    np.testing.assert_allclose(np.load(out), want, rtol=1e-4, atol=1e-6 * np.abs(want).max())


def test_seqlantern_cnn_keeps_its_own_path() -> None:
    """The workflow's own CNN (here the trained default: max+mean pooling, strands
    averaged) is not swapped: its maps stay those of earlier runs."""
    from seqlantern.attribute import _gradient_model
    from seqlantern.models import TRAIN_CNN_OPTIONS, build_model

    torch.manual_seed(0)
    cnn = build_model("cnn", n_targets=1, length=60, **TRAIN_CNN_OPTIONS).eval()
    assert _gradient_model(cnn, _x(4, 60), "gradient_x_input", "fp32") is cnn
    deep = _randomize_bn(DeepSTARRLike(80))
    assert isinstance(_gradient_model(deep, _x(4, 80), "saliency", "fp32"), GradientModel)
    assert _gradient_model(deep, _x(4, 80), "ism", "fp32") is deep
    assert _gradient_model(deep, _x(4, 80), "gradient_x_input", "bf16") is deep


def test_column_convolution_falls_back_where_it_rounds_differently(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the column product does not give the kernel's values bit for bit (another
    library or CPU), the module's own convolution runs: the forward never changes."""
    import seqlantern.fastgrad as fg

    real = fg._im2col_conv
    monkeypatch.setattr(fg, "_im2col_conv", lambda x, conv, left: real(x, conv, left) * (1 + 1e-6))
    torch.manual_seed(0)
    conv = nn.Conv1d(4, 16, 7, padding="same").requires_grad_(False)
    column = _ColumnConv(conv, 3)
    x = _x(5, 60)
    assert torch.equal(column(x), conv(x))
    assert list(column.exact.values()) == [False]
    fast = _same_gradients(_randomize_bn(DeepSTARRLike(81)), _x(9, 81))
    assert "few-channel Conv1d+BatchNorm1d+MaxPool1d" in fast.summary
