"""Attribution methods against independent oracles (captum, naive ISM)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlantern.methods import (
    METHODS,
    expected_gradients,
    grad_cam,
    hypothetical,
    integrated_gradients,
    ism,
    observed,
    saliency,
)
from seqlantern.models import SeqCNN
from seqlantern.shuffle import shuffle_onehot

captum_attr = pytest.importorskip("captum.attr")


def _model(**kw: object) -> SeqCNN:
    torch.manual_seed(0)
    m = SeqCNN(1, length=40, filters=[8], kernel_sizes=[7], dense=8, **kw)  # type: ignore[arg-type]
    with torch.no_grad():  # non-trivial output buffers
        m.output_scale.fill_(1.7)
        m.output_shift.fill_(0.3)
    return m.eval()


def _x(n: int = 3, length: int = 40, seed: int = 1) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                            .transpose(0, 2, 1).copy())  # fmt: skip


def test_saliency_matches_captum() -> None:
    m, x = _model(), _x()
    ref = captum_attr.Saliency(m).attribute(x, target=0, abs=True)
    assert torch.allclose(saliency(m, x), ref, atol=1e-6)


def test_integrated_gradients_matches_captum_and_completeness() -> None:
    m, x = _model(), _x()
    ours = integrated_gradients(m, x, steps=64)
    ref = captum_attr.IntegratedGradients(m).attribute(
        x, baselines=torch.zeros_like(x), target=0, n_steps=64, method="riemann_middle"
    )
    assert torch.allclose(ours, ref, rtol=1e-4, atol=1e-5)
    # completeness: contributions sum to f(x) - f(0)
    with torch.no_grad():
        gap = (m(x) - m(torch.zeros_like(x)))[:, 0]
    assert torch.allclose(ours.sum(dim=(1, 2)), gap, rtol=0.05, atol=0.05)


def test_expected_gradients_is_captum_ig_averaged_over_shuffles() -> None:
    m, x = _model(), _x()
    ours = expected_gradients(m, x, references=3, steps=16, seed=4)
    rng = np.random.default_rng(4)
    ig = captum_attr.IntegratedGradients(m)
    total = torch.zeros_like(x)
    for _ in range(3):
        refs = torch.from_numpy(np.stack([shuffle_onehot(s, rng) for s in x.numpy()])
                                .astype(np.float32))  # fmt: skip
        total += ig.attribute(x, baselines=refs, target=0, n_steps=16, method="riemann_middle")
    assert torch.allclose(ours, total / 3, rtol=1e-4, atol=1e-5)
    obs = observed("expected_gradients", ours, x)
    assert torch.allclose(obs.sum(dim=1), ours.sum(dim=1), atol=1e-6)


@pytest.mark.parametrize("kw", [{}, {"first_activation": "relu"}, {"batch_norm": True}])
def test_fast_ism_equals_naive(kw: dict) -> None:
    m, x = _model(**kw), _x()
    if kw.get("batch_norm"):
        with torch.no_grad():  # non-trivial running statistics
            m.body[1].running_mean.uniform_(-0.5, 0.5)
            m.body[1].running_var.uniform_(0.5, 2.0)
    fast = ism(m, x, fast=True)
    naive = ism(m, x, fast=False)
    assert (fast - naive).abs().max() < 1e-5
    # the observed base's raw effect is 0: centring leaves minus the mean of the others
    assert torch.allclose(fast.sum(dim=1), torch.zeros(x.shape[0], x.shape[2]), atol=1e-5)


def test_fast_ism_equals_naive_on_200bp() -> None:
    # speed is measured by benchmarks/methods.py (ratios in one run), never asserted here
    torch.manual_seed(0)
    m = SeqCNN(1, length=200, filters=[64], kernel_sizes=[15], dense=32).eval()
    x = _x(2, 200)
    torch.testing.assert_close(ism(m, x, fast=True), ism(m, x, fast=False), rtol=1e-4, atol=1e-5)


def test_grad_cam_and_dispatch() -> None:
    m, x = _model(), _x()
    cam = grad_cam(m, x)
    assert cam.shape == x.shape and (cam >= 0).all()
    for method in METHODS:
        h = hypothetical(method, m, x, steps=8, references=2)
        assert h.shape == x.shape and torch.isfinite(h).all()
    with pytest.raises(Exception, match="unknown"):
        hypothetical("lime", m, x)


@pytest.mark.parametrize("method", ["integrated_gradients", "ism"])
def test_attribute_stage_with_method(tmp_path, method: str) -> None:  # type: ignore[no-untyped-def]
    from seqlantern.attribute import attribute

    m, x = _model(), _x(5)
    attribute(m, x.numpy(), np.arange(5), [f"s{i}" for i in range(5)], tmp_path / "a.npy",
              tmp_path / "p.tsv", out_hypothetical=tmp_path / "h.npy", method=method,
              steps=8, batch_size=2)  # fmt: skip
    a, h = np.load(tmp_path / "a.npy"), np.load(tmp_path / "h.npy")
    assert a.shape == h.shape == x.shape
    assert np.all(a[x.numpy() == 0] == 0)  # only observed bases carry the map
    expected = observed(method, torch.from_numpy(h), x).numpy()
    assert np.allclose(a, expected, atol=1e-6)


@pytest.mark.parametrize("kw", [{}, {"first_activation": "relu"}, {"batch_norm": True}])
@pytest.mark.parametrize("output", ["logit", "activation"])
def test_fast_input_gradient_equals_autograd(kw: dict, output: str) -> None:
    from seqlantern.attribute import _fast_input_gradient, frozen

    m, x = _model(**kw), _x(6)
    if kw.get("batch_norm"):
        with torch.no_grad():
            m.body[1].running_mean.uniform_(-0.5, 0.5)
            m.body[1].running_var.uniform_(0.5, 2.0)
            m.body[1].weight.uniform_(0.5, 1.5)
    fast = _fast_input_gradient(m, x, 0, output)
    assert fast is not None
    xx = x.clone().requires_grad_(True)
    with frozen(m):
        y = m(xx)[:, 0]
        y = torch.sigmoid(y) if output == "activation" else y
        (g,) = torch.autograd.grad(y.sum(), xx)
    assert torch.allclose(fast[0], g, atol=1e-5, rtol=1e-4)
    assert torch.allclose(fast[1], m(x).detach(), atol=1e-6)


def test_grad_cam_matches_captum_layer_grad_cam() -> None:
    m, x = _model(), _x()
    ref = captum_attr.LayerGradCam(m, m.body[1]).attribute(x, target=0, relu_attributions=True)
    ours = grad_cam(m, x)
    assert torch.allclose(ours[:, 0, :], ref[:, 0, :], atol=1e-5, rtol=1e-4)


def test_shuffled_baseline_and_rc_average() -> None:
    m, x = _model(), _x()
    ours = hypothetical("integrated_gradients", m, x, steps=16, baseline="shuffled", seed=3)
    rng = np.random.default_rng(3)
    ref = torch.from_numpy(np.stack([shuffle_onehot(s, rng) for s in x.numpy()])
                           .astype(np.float32))  # fmt: skip
    cap = captum_attr.IntegratedGradients(m).attribute(x, baselines=ref, target=0, n_steps=16,
                                                       method="riemann_middle")  # fmt: skip
    assert torch.allclose(ours, cap, rtol=1e-4, atol=1e-5)
    # the RC-averaged map of the reverse complement is the flipped map of the sequence
    rc = torch.flip(x, dims=[1, 2])
    a = hypothetical("gradient_x_input", m, x, rc_average=True)
    b = hypothetical("gradient_x_input", m, rc, rc_average=True)
    assert torch.allclose(torch.flip(b, dims=[1, 2]), a, atol=1e-5)


def test_completeness_check_warns_when_the_path_has_not_converged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Integrated gradients add up to f(x) - f(0) once converged: with 2 steps the check
    finds it does not and says so; with 1,024 it does. Expected gradients likewise."""
    from seqlantern.attribute import attribute
    from seqlantern.methods import completeness_error, hypothetical
    from seqlantern.models import SeqCNN

    torch.manual_seed(0)
    model = SeqCNN(length=50, filters=[8], kernel_sizes=[7], pool=[1], dense=8,
                   first_activation="exp").eval()  # fmt: skip
    with torch.no_grad():
        model.body[0].weight.mul_(3.0)  # sharper exponential: a curved path
    rng = np.random.default_rng(0)
    x = np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 50))].transpose(0, 2, 1).copy()
    xt = torch.from_numpy(x)
    for method in ("integrated_gradients", "expected_gradients"):
        errs = {}
        for steps in (2, 1024):
            maps = hypothetical(method, model, xt, steps=steps, references=2, seed=3)
            errs[steps] = completeness_error(method, model, xt, maps, references=2, seed=3)
        assert np.max(errs[2]) > 0.05 and np.max(errs[1024]) < 0.05, (method, errs)
    assert completeness_error("saliency", model, xt, xt) is None
    names = [f"s{i}" for i in range(6)]
    attribute(model, x, np.arange(6), names, tmp_path / "a.npy", tmp_path / "p.tsv",
              method="integrated_gradients", steps=2)  # fmt: skip
    out = capsys.readouterr().out
    assert "WARNING" in out and "raise attribution.steps" in out
    pred = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert (pred["completeness_error"] > 0.05).any()


def test_ism_l2_is_the_norm_of_the_substitution_effects() -> None:
    """On a linear model every substitution effect is known: ism_l2 at a position is the
    L2 norm of the weights there minus their mean over the four bases."""

    class Linear(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            g = torch.Generator().manual_seed(0)
            self.w = torch.nn.Parameter(torch.randn(4, 30, generator=g))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return (x * self.w).sum(dim=(1, 2))[:, None]

    model = Linear().eval()
    x = _x(2, 30)
    h = hypothetical("ism_l2", model, x)
    w = model.w.detach()
    want = (w - w.mean(dim=0, keepdim=True)).pow(2).sum(dim=0).sqrt()
    assert torch.allclose(h[0, 0], want, atol=1e-5) and torch.allclose(h[1, 3], want, atol=1e-5)
    assert torch.allclose(observed("ism_l2", h, x).sum(dim=1), want.expand(2, -1), atol=1e-5)


def test_option_methods_are_the_library_methods() -> None:
    from seqlantern import options

    assert options.METHODS == METHODS
