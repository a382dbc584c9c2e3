from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlantern.attribute import attribute, gradient_x_input, resolve_target
from seqlantern.io import SeqlanternError
from seqlantern.models import SeqCNN, load_checkpoint


def _model() -> SeqCNN:
    torch.manual_seed(0)
    return SeqCNN(2, length=60, filters=[8, 8], kernel_sizes=[7, 3], pool=[2, 1]).eval()


def _x(n: int = 10, length: int = 60) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                            .transpose(0, 2, 1).copy())  # fmt: skip


def test_matches_tangermeme_saliency() -> None:
    tm = pytest.importorskip("tangermeme.saliency")
    model, x = _model(), _x()
    for target in (0, 1):
        ours, _ = gradient_x_input(model, x, target=target)
        theirs = tm.saliency(model, x, target=target, batch_size=4)
        assert torch.allclose(ours, theirs.float(), rtol=1e-4, atol=1e-7)
        raw, _ = gradient_x_input(model, x, target=target, correct=False)
        theirs_raw = tm.saliency(model, x, target=target, gradient_correction=False)
        assert torch.allclose(raw, theirs_raw.float(), rtol=1e-4, atol=1e-7)


def test_correction_removes_off_simplex_component() -> None:
    model, x = _model(), _x()
    corrected, _ = gradient_x_input(model, x)
    raw, _ = gradient_x_input(model, x, correct=False)
    xg = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(model(xg)[:, 0].sum(), xg)
    assert torch.allclose(corrected, (g - g.mean(1, keepdim=True)) * x, atol=1e-6)
    assert not torch.allclose(corrected, raw)
    assert (corrected[x == 0] == 0).all()  # only observed bases carry attribution


def test_activation_output_scales_by_sigmoid_slope() -> None:
    model, x = _model(), _x(1)
    logit, out = gradient_x_input(model, x, output="logit")
    prob, _ = gradient_x_input(model, x, output="activation")
    s = torch.sigmoid(out[0, 0])
    assert torch.allclose(prob, logit * s * (1 - s), atol=1e-6)


def test_resolve_target() -> None:
    assert resolve_target("b", ["a", "b"], 2) == 1
    assert resolve_target("1", ["a", "b"], 2) == 1
    assert resolve_target(-1, None, 3) == 2
    with pytest.raises(SeqlanternError, match="not a model target"):
        resolve_target("c", ["a", "b"], 2)
    with pytest.raises(SeqlanternError, match="out of range"):
        resolve_target(5, None, 2)
    # "all" is the workflow's (one sub-run per target); a stage takes one target
    with pytest.raises(SeqlanternError, match="the workflow runs one sub-run per target"):
        resolve_target("all", ["a", "b"], 2)
    assert resolve_target("all", ["x", "all"], 2) == 1  # a target really named "all"


def test_attribute_streams_rows_in_order(demo_small: dict[str, Path], trained_small: Path,
                                         tmp_path: Path) -> None:  # fmt: skip
    model, _ = load_checkpoint(trained_small)
    x = np.load(demo_small["onehot"], mmap_mode="r")
    rows = np.array([5, 2, 9, 100])
    attribute(model, x, rows, [f"n{r}" for r in rows], tmp_path / "a.npy", tmp_path / "p.tsv",
              batch_size=3, target_names=["activity"])  # fmt: skip
    a = np.load(tmp_path / "a.npy")
    p = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    assert a.shape == (4, 4, 200) and a.dtype == np.float32
    assert p["row"].tolist() == rows.tolist() and "pred_activity" in p
    ref, pred = gradient_x_input(model, torch.from_numpy(np.asarray(x[rows])))
    assert np.allclose(a, ref.numpy(), atol=1e-6)
    assert np.allclose(p["pred_activity"], pred[:, 0].numpy(), atol=1e-4)


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    model, x = _model(), _x()
    cpu, _ = gradient_x_input(model, x)
    gpu, _ = gradient_x_input(model.cuda(), x.cuda())
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("method", ["gradient_x_input", "integrated_gradients"])
def test_bf16_precision_is_checked_against_fp32(
    tmp_path: Path, method: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """bf16 maps are close to fp32 maps (not equal), the first batch's agreement is
    logged, and the predictions stay fp32."""
    model, x = _model(), _x(12)
    rows, names = np.arange(12), [f"s{i}" for i in range(12)]
    for p in ("fp32", "bf16"):
        attribute(model, x.numpy(), rows, names, tmp_path / f"{p}.npy", tmp_path / f"{p}.tsv",
                  method=method, steps=8, batch_size=5, precision=p, check=False)  # fmt: skip
    full, low = np.load(tmp_path / "fp32.npy"), np.load(tmp_path / "bf16.npy")
    assert not np.array_equal(full, low)  # bf16 did run
    assert np.corrcoef(full.ravel(), low.ravel())[0, 1] > 0.9
    log = capsys.readouterr().out
    r = float(log.split("bf16 check (first batch against fp32): Pearson ")[1].split(",")[0])
    first = full[:5].ravel()  # the first batch
    assert r == pytest.approx(np.corrcoef(first, low[:5].ravel())[0, 1], abs=1e-4)
    assert ("WARNING: bf16 maps agree" in log) == (r < 0.99)
    pf, pb = (
        pd.read_csv(tmp_path / "fp32.tsv", sep="\t"),
        pd.read_csv(tmp_path / "bf16.tsv", sep="\t"),
    )
    pd.testing.assert_frame_equal(pf, pb)


def test_bf16_ism_is_one_line_error(tmp_path: Path) -> None:
    model, x = _model(), _x(3)
    with pytest.raises(SeqlanternError, match="precision bf16 with method ism"):
        attribute(model, x.numpy(), np.arange(3), ["a", "b", "c"], tmp_path / "a.npy",
                  tmp_path / "p.tsv", method="ism", precision="bf16")  # fmt: skip
    assert not list(tmp_path.iterdir())
