"""Faithfulness curves, stability, saturation and receptive-field diagnostics."""

from __future__ import annotations

import numpy as np
import torch

from seqlantern.diagnostics import (
    compare_methods,
    curve_areas,
    effective_receptive_field,
    faithfulness_curves,
    saturation,
    stability,
)
from seqlantern.models import SeqCNN


class Linear(torch.nn.Module):
    """output = sum of W * x with random position-specific base weights."""

    def __init__(self, length: int) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.w = torch.nn.Parameter(torch.randn(4, length, generator=g))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2))[:, None]


def _x(n: int, length: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))].transpose(0, 2, 1).copy()


def test_true_map_beats_random_order_and_reversed_map_loses() -> None:
    m, x = Linear(30), _x(40, 30)
    w = m.w.detach().numpy()
    truth = (x * w[None]).sum(axis=1)  # exact contribution of each observed base
    a = curve_areas(faithfulness_curves(m, x, truth, steps=10))
    assert a["deletion_auc_map"] < a["deletion_auc_random"] - 1
    assert a["insertion_auc_map"] > a["insertion_auc_random"] + 1
    worst = curve_areas(faithfulness_curves(m, x, -truth, steps=10))
    assert worst["deletion_auc_map"] > a["deletion_auc_random"]


def test_stability_and_saturation() -> None:
    x = _x(10, 40)
    weights = torch.tensor([1.0, 2.0, 3.0, 4.0])[None, :, None]
    local = stability(lambda xb: xb * weights, x)  # a map that only depends on the base
    assert local["stability_shift"] > 0.99 and local["stability_mutation"] > 0.9
    gen = torch.Generator().manual_seed(0)
    noisy = stability(lambda xb: xb * torch.randn(xb.shape, generator=gen), x)
    assert noisy["stability_mutation"] < 0.3
    a = np.random.default_rng(0).normal(size=(5, 40))
    s = saturation(a, a)
    assert s["saturation_topk_overlap"] == 1 and s["saturation_sign_disagreement"] == 0
    assert saturation(a, -a)["saturation_sign_disagreement"] == 1


def test_receptive_field_of_one_and_two_blocks() -> None:
    torch.manual_seed(0)
    one = SeqCNN(1, length=80, filters=[8], kernel_sizes=[9], dense=4).eval()
    _, s1 = effective_receptive_field(one, 80, n=16)
    assert s1["theoretical_rf"].tolist() == [9] and s1["erf_95"].iloc[0] <= 9
    two = SeqCNN(1, length=80, filters=[8, 8], kernel_sizes=[9, 5], pool=[2, 1],
                 dense=4).eval()  # fmt: skip
    _, s2 = effective_receptive_field(two, 80, n=16)
    assert s2["theoretical_rf"].tolist() == [9, 9 + 1 + 4 * 2]
    assert s2["erf_sd"].iloc[1] > s2["erf_sd"].iloc[0]


def test_compare_methods_ranks_ism_above_grad_cam() -> None:
    torch.manual_seed(0)
    m = SeqCNN(1, length=40, filters=[8], kernel_sizes=[7], dense=8).eval()
    table, curves = compare_methods(m, _x(16, 40), methods=["grad_cam", "ism"], steps=4,
                                    references=2, curve_steps=8)  # fmt: skip
    assert table["method"].tolist()[0] == "ism"
    assert table.set_index("method").loc["ism", "ism_topk_overlap"] == 1.0
    assert set(curves["method"]) == {"ism", "grad_cam"}
    # a seed gives the same table twice: nothing in it depends on the clock
    again, _ = compare_methods(m, _x(16, 40), methods=["grad_cam", "ism"], steps=4,
                               references=2, curve_steps=8)  # fmt: skip
    assert table.to_csv() == again.to_csv() and not any("second" in c for c in table.columns)


def test_erf_of_one_conv_layer_is_its_kernel_support() -> None:
    """A single conv layer's central unit sees exactly its kernel's k positions."""
    from torch import nn

    from seqlantern.diagnostics import effective_receptive_field

    class One(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = nn.Sequential(nn.Conv1d(4, 8, 7, padding=3), nn.ELU())

    prof, summ = effective_receptive_field(One(), 41, n=16)
    nonzero = prof.loc[prof["gradient"] > 0, "offset"].to_numpy()
    assert sorted(nonzero.tolist()) == [-3, -2, -1, 0, 1, 2, 3]
    assert int(summ["theoretical_rf"].iloc[0]) == 7 and int(summ["erf_95"].iloc[0]) <= 7


def test_effective_receptive_field_grows_sublinearly() -> None:
    """Random conv stacks: the ERF grows much slower than the theoretical field."""
    from seqlantern.diagnostics import erf_growth

    table, fit = erf_growth(depth=8, models=3, boot=200)
    assert set(table["depth"]) == set(range(1, 9))
    assert fit["theoretical_exponent"] > 0.9
    assert fit["exponent_high"] < fit["theoretical_exponent"] - 0.15
    assert fit["exponent_low"] <= fit["exponent"] <= fit["exponent_high"]
    assert fit["exponent_deep"] < 0.8


def test_probability_map_is_the_logit_map_times_the_sigmoid_slope() -> None:
    """Attributing the probability instead of the logit rescales each sequence's map by
    sigma'(z) = p (1 - p): confident sequences (|z| large) get nearly empty maps."""
    from seqlantern.methods import hypothetical

    torch.manual_seed(1)
    model = SeqCNN(length=60, filters=[8], kernel_sizes=[7], pool=[1], dense=8,
                   first_activation="tanh")  # fmt: skip
    with torch.no_grad():
        model.head[-1].weight.mul_(40.0)  # push some logits far from 0 (saturated)
    model.eval()
    rng = np.random.default_rng(0)
    x = torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (6, 60))]
                         .transpose(0, 2, 1).copy())  # fmt: skip
    logit_map = hypothetical("gradient_x_input", model, x, output="logit").detach()
    prob_map = hypothetical("gradient_x_input", model, x, output="activation").detach()
    with torch.no_grad():
        p = torch.sigmoid(model(x)[:, 0])
    slope = (p * (1 - p))[:, None, None]
    assert torch.allclose(prob_map, logit_map * slope, atol=1e-6)
    assert (slope.flatten() < 0.01).any()  # a saturated sequence: its map all but vanishes
