"""Delta-mode ISM (seqlantern.deltaism) against the naive loop: residual dilated stacks
with every node kind it handles, sequence ends, batches of any size, BPNet heads, and
the hand-over to the windowed engine (N positions, layers it does not handle)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from seqlantern import deltaism, fastism
from seqlantern.fastism import ism_windowed, trace
from seqlantern.methods import _ism_naive
from seqlantern.models import OutputHead
from test_fastism import _randomize_bn as _randomize_stats
from test_fastism import _x


class Residual(nn.Module):
    """A BPNet-like residual dilated stack with every node delta mode handles: ReLU
    (module and function), GELU, sigmoid, an unfolded batch norm, dropout, identity,
    scalar products and differences, a channel and position trim, means and sums over
    positions (function, method and pooling module), then a dense head."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv1d(4, 6, 9, padding=4)
        self.convs = nn.ModuleList(
            [nn.Conv1d(6, 6, 3, padding=d, dilation=d) for d in (1, 2, 4, 8)]
        )
        self.even = nn.Conv1d(6, 6, 4, padding="same", dilation=3)
        self.valid = nn.Conv1d(6, 6, 5)
        self.bn = nn.BatchNorm1d(6)
        self.drop = nn.Dropout(0.3)
        self.ident = nn.Identity()
        self.pool = nn.AdaptiveAvgPool1d(1)
        self.act = nn.GELU()
        self.dense = nn.Linear(13, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.relu(self.first(x))
        for i, conv in enumerate(self.convs):
            r = torch.relu(conv(h)) if i % 2 else self.act(conv(h))
            h = h + r if i != 2 else h - 0.5 * r
        h = self.ident(self.drop(self.bn(torch.sigmoid(self.even(h)) * 2.0 - h)))
        v = self.valid(h)
        t = v[:, 1:5, 3:-4]
        feats = [t.mean(dim=2), torch.sum(v, dim=-1, keepdim=True)[:, :, 0],
                 self.pool(h)[:, :3, 0]]  # fmt: skip
        return self.dense(torch.cat(feats, dim=1))


def _randomize_bn(m: nn.Module) -> nn.Module:
    """Batch-norm statistics as test_fastism's, and scales other than 1."""
    m = _randomize_stats(m)
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm1d):
            mod.weight.data.uniform_(0.5, 1.5)
    return m


def _close(fast: torch.Tensor, model: nn.Module, x: torch.Tensor, target: int,
           output: str = "raw") -> None:  # fmt: skip
    """``fast`` is as accurate as the float32 naive loop: both against the float64 naive
    loop, within a few times the naive loop's own rounding error."""
    import copy

    naive = _ism_naive(model, x, target, output, 64)
    exact = _ism_naive(copy.deepcopy(model).double(), x.double(), target, output, 64)
    scale = float(exact.abs().max())
    assert scale > 0
    rounding = float((naive.double() - exact).abs().max())
    err = float((fast.double() - exact).abs().max())
    assert err <= 4 * rounding + 1e-6 * scale, (err, rounding, scale)


@pytest.fixture
def engines(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the sequences each engine predicted."""
    used = {"delta": 0, "window": 0}
    delta, window = deltaism.ism_sequence, fastism._windowed_sequence

    def d(*a: Any, **k: Any) -> Any:
        out = delta(*a, **k)
        used["delta"] += 1
        return out

    def w(*a: Any, **k: Any) -> Any:
        used["window"] += 1
        return window(*a, **k)

    monkeypatch.setattr(deltaism, "ism_sequence", d)
    monkeypatch.setattr(fastism, "_windowed_sequence", w)
    return used


def test_delta_ism_equals_naive_on_a_residual_stack(engines: dict[str, int]) -> None:
    torch.manual_seed(0)
    m = _randomize_bn(Residual())
    x = _x(3, 70)
    for target in (0, 1):
        fast = ism_windowed(m, x, target=target, output="raw", batch_size=37)
        assert fast is not None
        _close(fast, m, x, target)
    assert engines == {"delta": 6, "window": 0}


@pytest.mark.parametrize("npos", [1, 2, 7, 64])
def test_delta_ism_any_batch_and_short_sequences(npos: int) -> None:
    """Every batch size gives the naive values, also where windows pass both sequence
    ends (24 bp: the receptive field is wider than the sequence)."""
    torch.manual_seed(1)
    m = _randomize_bn(Residual())
    x = _x(1, 24, seed=npos)
    traced = trace(m)
    assert traced is not None
    gm, post = traced
    with torch.no_grad():
        y, env = fastism.run(gm, x)
    pl = deltaism.plan(gm, env)
    preds = deltaism.ism_sequence(gm, pl, env, x, lambda o: post(o)[:, 1], npos, {})
    obs = x[0].argmax(dim=0)
    pos = torch.arange(24).repeat_interleave(4)
    base = torch.arange(4).repeat(24)
    keep = base != obs[pos]
    got = torch.zeros_like(x)
    got[0, base[keep], pos[keep]] = preds - post(y)[0, 1]
    _close(got, m, x, 1)


def test_n_positions_go_to_the_windowed_engine(engines: dict[str, int]) -> None:
    torch.manual_seed(0)
    m = _randomize_bn(Residual())
    x = _x(3, 50)
    x[1, :, 7] = 0.0
    fast = ism_windowed(m, x, target=0, output="raw", batch_size=16)
    assert fast is not None
    _close(fast, m, x, 0)
    assert engines == {"delta": 2, "window": 1}


def test_unhandled_layers_go_to_the_windowed_engine(engines: dict[str, int]) -> None:
    """A strided max pool is not handled: the windowed engine takes every sequence."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv1d(4, 5, 5, padding=2), nn.ReLU(), nn.MaxPool1d(2),
                      nn.Flatten(), nn.Linear(5 * 20, 1)).eval()  # fmt: skip
    x = _x(2, 40)
    fast = ism_windowed(m, x, target=0, output="raw", batch_size=16)
    assert fast is not None
    _close(fast, m, x, 0)
    assert engines == {"delta": 0, "window": 2}


def test_delta_ism_on_bpnet_heads(engines: dict[str, int]) -> None:
    """Counts (mean over the trimmed positions), and the profile objectives, whose
    changes are written into the full profile at the graph's output."""
    pytest.importorskip("bpnetlite")
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    net = BPNet(n_filters=8, n_layers=4, n_outputs=2, n_control_tracks=0, trimming=20,
                verbose=False).eval()  # fmt: skip
    x = _x(2, 120)
    specs: list[tuple[dict[str, Any], int]] = [
        ({"select": 1}, 0), ({"select": 0, "reduce": "profile"}, 0),
        ({"select": 0, "reduce": "window", "window": [20, 40]}, 1),
    ]  # fmt: skip
    for spec, target in specs:
        head = OutputHead(net, spec).eval()
        fast = ism_windowed(head, x, target=target, output="raw", batch_size=64)
        assert fast is not None
        _close(fast, head, x, target)
    assert engines == {"delta": 2 * len(specs), "window": 0}


def test_need_ranges_follow_the_trim() -> None:
    """BPNet's counts read positions [trim, L - trim) of the last layer only: the need
    analysis carries that back through the dilated stack (each layer needs its reader's
    range widened by the reader's reach)."""
    pytest.importorskip("bpnetlite")
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    net = BPNet(n_filters=8, n_layers=3, n_outputs=1, n_control_tracks=0, trimming=40,
                verbose=False).eval()  # fmt: skip
    traced = trace(OutputHead(net, {"select": 1}))
    assert traced is not None
    gm, _ = traced
    with torch.no_grad():
        _, env = fastism.run(gm, _x(1, 200))
    need = deltaism.plan(gm, env)["need"]
    # bpnet-lite: the counts average positions [trimming - 37, L - trimming + 37)
    last = [n.name for n in gm.graph.nodes if n.name.startswith("add")][-2]
    assert need[last] == (3, 197)
    assert need["rconvs_2"] == (3, 197)  # read by the last residual sum only
    assert need["irelu"][0] < need["rconvs_2"][0]


def test_delta_ism_on_chrombpnet(engines: dict[str, int]) -> None:
    """ChromBPNet (a bias BPNet and an accessibility BPNet whose counts are combined by
    logsumexp): the change runs through both stacks; the combination is on full values."""
    pytest.importorskip("bpnetlite")
    from bpnetlite.bpnet import BPNet
    from bpnetlite.chrombpnet import ChromBPNet

    torch.manual_seed(0)
    bias = BPNet(n_filters=8, n_layers=2, n_outputs=1, n_control_tracks=0, trimming=30,
                 verbose=False)  # fmt: skip
    acc = BPNet(n_filters=8, n_layers=4, n_outputs=1, n_control_tracks=0, trimming=30,
                verbose=False)  # fmt: skip
    head = OutputHead(ChromBPNet(bias, acc, name="test"), {"select": 1}).eval()
    x = _x(2, 150)
    fast = ism_windowed(head, x, target=0, output="raw", batch_size=64)
    assert fast is not None
    _close(fast, head, x, 0)
    assert engines == {"delta": 2, "window": 0}


class InPlace(nn.Module):
    """In-place activations, as many users' models have them."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Conv1d(4, 6, 7, padding=3)
        self.act = nn.ReLU(inplace=True)
        self.conv = nn.Conv1d(6, 6, 3, padding=2, dilation=2)
        self.dense = nn.Linear(6, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.first(x))
        h = h + nn.functional.relu(self.conv(h), inplace=True)
        return self.dense(h.mean(dim=-1))


def test_in_place_activations_keep_delta_mode(engines: dict[str, int]) -> None:
    """The reference pass keeps every layer's input: in-place activations are made out
    of place in the traced copy (the user's modules keep inplace=True)."""
    torch.manual_seed(0)
    m = InPlace().eval()
    x = _x(2, 40)
    fast = ism_windowed(m, x, target=0, output="raw", batch_size=16)
    assert fast is not None
    _close(fast, m, x, 0)
    assert engines == {"delta": 2, "window": 0}
    assert m.act.inplace
