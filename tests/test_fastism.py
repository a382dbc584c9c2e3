"""Windowed ISM (seqlantern.fastism) against the naive loop on networks of every shape:
residual, dilated, strided, pooled, reverse-complement averaged, batch-normed with a
dense head, bpnet-lite's BPNet heads; and the fallback when a model cannot be traced."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from seqlantern.fastism import ism_windowed, trace
from seqlantern.methods import _ism_naive, ism
from seqlantern.models import OutputHead, SeqCNN


def _x(n: int, length: int, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                            .transpose(0, 2, 1).copy())  # fmt: skip


class Mixed(nn.Module):
    """Residual dilated convolutions, a strided convolution, average and max pooling, a
    trim, element-wise products and a reverse-complement average: every local rule of
    the windowed path, then flatten + dense."""

    def __init__(self, length: int = 64) -> None:
        super().__init__()
        self.c1 = nn.Conv1d(4, 6, 5, padding=2)
        self.c2 = nn.Conv1d(6, 6, 3, padding="same", dilation=2)
        self.c3 = nn.Conv1d(6, 6, 3, padding=4, dilation=4)
        self.down = nn.Conv1d(6, 8, 4, stride=2)
        self.avg = nn.AvgPool1d(3, stride=1, padding=1)
        self.pool = nn.MaxPool1d(2)
        self.act = nn.GELU()
        width = ((length - 4) // 2 + 1) // 2 - 4
        self.dense = nn.Linear(8 * width, 3)

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.c1(x))
        h = h + self.act(self.c2(h))
        h = h * torch.sigmoid(self.c3(h))
        h = self.pool(self.avg(self.down(h)))
        return self.dense(torch.flatten(h[:, :, 2:-2], 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (self.branch(x) + self.branch(x.flip(1, 2)))


class DeepSTARRLike(nn.Module):
    """Conv + BatchNorm + ReLU + MaxPool blocks with 'same' padding, dense head with
    BatchNorm: the DeepSTARR shape (two outputs)."""

    def __init__(self, length: int = 80) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 4
        for k in (7, 3, 5):
            layers += [nn.Conv1d(c, 8, k, padding="same"), nn.BatchNorm1d(8), nn.ReLU(),
                       nn.MaxPool1d(2)]  # fmt: skip
            c = 8
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * (length // 8), 16),
                                  nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                                  nn.Linear(16, 2))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _randomize_bn(m: nn.Module) -> nn.Module:
    torch.manual_seed(3)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            mod.running_mean.uniform_(-0.5, 0.5)
            mod.running_var.uniform_(0.5, 2.0)
    return m.eval()


def _check(model: nn.Module, x: torch.Tensor, target: int = 0, output: str = "raw") -> None:
    model.eval()
    fast = ism_windowed(model, x, target=target, output=output, batch_size=37)
    assert fast is not None, "the windowed path declined a model it should handle"
    naive = _ism_naive(model, x, target, output, 64)
    scale = float(naive.abs().max())
    assert scale > 0
    # each effect is a difference of two float32 outputs: rounding of the outputs counts
    with torch.no_grad():
        out = float(model(x)[:, target].abs().max())
    torch.testing.assert_close(fast, naive, rtol=1e-4, atol=1e-5 * scale + 1e-6 * max(out, 1.0))


def test_windowed_ism_equals_naive_on_mixed_local_layers() -> None:
    torch.manual_seed(0)
    _check(Mixed(64), _x(3, 64))
    _check(Mixed(64), _x(2, 64, seed=5), target=2, output="activation")


def test_windowed_ism_equals_naive_on_deepstarr_shape() -> None:
    torch.manual_seed(0)
    m = _randomize_bn(DeepSTARRLike(80))
    before = {k: v.clone() for k, v in m.state_dict().items()}
    _check(m, _x(3, 80), target=1)
    # batch norm is folded into copies of the convolutions: the user's model is untouched
    after = m.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert sum(isinstance(mod, nn.BatchNorm1d) for mod in m.modules()) == 4
    # and the public entry point takes this path and centres the result
    d = ism(m, _x(3, 80), target=1)
    torch.testing.assert_close(d.sum(dim=1), torch.zeros(3, 80), rtol=0, atol=1e-5)


def test_windowed_ism_equals_naive_on_seqcnn_two_layers_rc_average() -> None:
    torch.manual_seed(0)
    m = SeqCNN(2, length=60, filters=[8, 8], kernel_sizes=[7, 5], pool=[2, 1], dense=8, rc_average=True,
               batch_norm=True)  # fmt: skip
    _check(_randomize_bn(m), _x(3, 60), target=1)


def test_windowed_ism_on_n_positions() -> None:
    """An all-zero (N) column has no observed base: all four substitutions are scored."""
    torch.manual_seed(0)
    x = _x(2, 64)
    x[:, :, 10] = 0.0
    _check(Mixed(64), x)


def test_windowed_ism_on_bpnet_heads() -> None:
    pytest.importorskip("bpnetlite")
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    net = BPNet(n_filters=8, n_layers=3, n_outputs=2, n_control_tracks=0, trimming=12,
                verbose=False).eval()  # fmt: skip
    x = _x(2, 100)
    _check(OutputHead(net, {"select": 1}), x)
    _check(OutputHead(net, {"select": 0, "reduce": "profile"}), x)
    _check(OutputHead(net, {"select": 0, "reduce": "window", "window": [20, 40]}), x,
           target=1)  # fmt: skip


class GlobalPools(nn.Module):
    """Global max, mean and sum over positions (method, module and function forms), after
    a trim: the length reductions the windowed path corrects instead of recomputing."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 6, 7, padding=3)
        self.conv2 = nn.Conv1d(6, 6, 5, dilation=2, padding=4)
        self.avg = nn.AdaptiveAvgPool1d(1)
        self.max = nn.AdaptiveMaxPool1d(1)
        self.dense = nn.Linear(30, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.conv(x))
        h = h + torch.tanh(self.conv2(h))
        t = h[:, :, 5:-5]
        feats = [t.amax(dim=-1), self.avg(h).squeeze(-1), self.max(t)[:, :, 0],
                 torch.sum(t, 2), torch.mean(h, dim=-1)]  # fmt: skip
        return self.dense(torch.cat(feats, dim=1))


def test_windowed_ism_with_global_reductions() -> None:
    torch.manual_seed(0)
    _check(GlobalPools(), _x(3, 50))
    _check(GlobalPools(), _x(2, 50, seed=7), target=1)


class Untraceable(nn.Module):
    """Data-dependent control flow: torch.fx cannot trace it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.dense = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x)
        if h.sum() > 0:
            h = torch.relu(h)
        return self.dense(h.amax(dim=-1))


def test_untraceable_model_falls_back_to_the_naive_loop() -> None:
    torch.manual_seed(0)
    m = Untraceable().eval()
    assert trace(m) is None
    x = _x(2, 30)
    assert ism_windowed(m, x, target=0, output="raw", batch_size=16) is None
    torch.testing.assert_close(ism(m, x), ism(m, x, fast=False))


class GlobalMix(nn.Module):
    """A custom module the windowed path does not know: it is given the full tensor, so
    the result is still exact (only speed is lost)."""

    class Cumulative(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cumsum(x, dim=-1)

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(4, 4, 5, padding=2)
        self.mix = self.Cumulative()
        self.conv2 = nn.Conv1d(4, 4, 3, padding=1)
        self.dense = nn.Linear(4 * 30, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dense(torch.relu(self.conv2(self.mix(self.conv(x)))).flatten(1))


def test_unknown_module_gets_the_full_tensor() -> None:
    torch.manual_seed(0)
    _check(GlobalMix(), _x(2, 30))


def test_windowed_ism_on_the_shipped_blend() -> None:
    """The CNN + k-mer blend that training ships on small libraries (the real examples)
    is traced and takes the windowed path (its k-mer part in full)."""
    from seqlantern.models import Blend

    torch.manual_seed(0)
    m = Blend(1, filters=[8], kernel_sizes=[7], length=40, dense=8, ks=(1, 2, 3, 4))
    with torch.no_grad():
        for k in (1, 2, 3, 4):
            getattr(m.kmer, f"w{k}").normal_()
        m.kmer.intercept.fill_(0.3)
        m.kmer_weight.fill_(0.8)
        m.network_weight.fill_(0.5)
    assert trace(m) is not None
    _check(m.eval(), _x(3, 40))
