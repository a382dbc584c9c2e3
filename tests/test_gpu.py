"""The CUDA path: every model stage on a GPU agrees with the CPU (marker: gpu; skipped
without a CUDA device)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import ROOT

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device"),
]


def _x(n: int = 6, length: int = 120) -> torch.Tensor:
    rng = np.random.default_rng(0)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                            .transpose(0, 2, 1).copy())  # fmt: skip


def test_every_method_on_cuda_matches_cpu() -> None:
    """Gradient x input, ISM (fast and naive paths) and integrated gradients of the
    default architecture and of a DeepSTARR-style model with BatchNorm."""
    from seqlantern.methods import gradient_x_input, integrated_gradients, ism
    from seqlantern.models import SeqCNN

    torch.manual_seed(0)
    deep = torch.nn.Sequential(
        torch.nn.Conv1d(4, 16, 7, padding=3), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
        torch.nn.MaxPool1d(2), torch.nn.Flatten(), torch.nn.Linear(16 * 60, 2))  # fmt: skip
    x = _x()
    for model in (SeqCNN(1, length=120).eval(), deep.eval()):
        for name, fn in (("gradient_x_input", gradient_x_input), ("ism", ism),
                         ("integrated_gradients", integrated_gradients)):  # fmt: skip
            cpu = fn(model.cpu(), x)
            gpu = fn(model.cuda(), x.cuda()).cpu()
            scale = float(cpu.abs().max())
            assert torch.allclose(cpu, gpu, rtol=1e-3, atol=1e-4 * scale), (name, model)


def test_fast_gradient_path_on_cuda_matches_cpu() -> None:
    """seqlantern.fastgrad on the GPU (pruned graph, block max pool, batch-norm and input
    convolution backward kernels, fused input block, one pass per batch) against the CPU
    autograd maps."""
    from seqlantern.attribute import gradient_x_input
    from seqlantern.fastgrad import GradientModel, prepare

    torch.manual_seed(0)
    deep = torch.nn.Sequential(
        torch.nn.Conv1d(4, 16, 7, padding=3), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
        torch.nn.MaxPool1d(2), torch.nn.Flatten(), torch.nn.Linear(16 * 60, 2)).eval()  # fmt: skip
    x = _x()
    cpu, _ = gradient_x_input(deep, x, target=1)
    fast = prepare(deep.cuda(), x.cuda())
    assert isinstance(fast, GradientModel) and "one pass per batch" in fast.summary
    # the input block is one fused step (its column product runs only where bit-identical)
    assert "few-channel Conv1d+BatchNorm1d+MaxPool1d" in fast.summary
    gpu, _ = gradient_x_input(fast, x.cuda(), target=1)
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-3, atol=1e-4 * float(cpu.abs().max()))


def test_delta_ism_on_cuda_matches_cpu() -> None:
    """Delta-mode ISM (seqlantern.deltaism) on the GPU: a residual dilated stack and
    BPNet's counts head, against the CPU's values (batches of batch_size / 3 positions)."""
    from seqlantern import deltaism
    from seqlantern.fastism import ism_windowed

    class Stack(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = torch.nn.Conv1d(4, 16, 9, padding=4)
            self.convs = torch.nn.ModuleList(
                [torch.nn.Conv1d(16, 16, 3, padding=d, dilation=d) for d in (2, 4, 8)]
            )
            self.dense = torch.nn.Linear(16, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.first(x))
            for conv in self.convs:
                h = h + torch.relu(conv(h))
            return self.dense(h[:, :, 10:-10].mean(dim=-1))

    torch.manual_seed(0)
    x = _x()
    used = []
    original = deltaism.ism_sequence

    def count(*a: object, **k: object) -> torch.Tensor:
        used.append(1)
        return original(*a, **k)  # type: ignore[arg-type]

    deltaism.ism_sequence = count  # type: ignore[assignment]
    try:
        model = Stack().eval()
        cpu = ism_windowed(model, x, target=1, output="raw", batch_size=64)
        gpu = ism_windowed(model.cuda(), x.cuda(), target=1, output="raw", batch_size=64)
    finally:
        deltaism.ism_sequence = original  # type: ignore[assignment]
    assert cpu is not None and gpu is not None
    assert len(used) == 2 * len(x)
    assert torch.allclose(cpu, gpu.cpu(), rtol=1e-3, atol=1e-4 * float(cpu.abs().max()))


def test_workflow_on_cuda(tmp_path: Path) -> None:
    """device: cuda end to end (train, attribute, controls, shortcuts, diagnostics) on a
    tiny demo; the maps of the CUDA-trained checkpoint match a CPU attribution of it."""
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake is not installed")
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["device"] = "cuda"
    cfg["demo"].update(n=800, motifs=str(ROOT / cfg["demo"]["motifs"]))
    cfg["train"].update(epochs=2, equal_steps=False, options={"filters": [16], "dense": 8})
    cfg["diagnostics"].update(sequences=8, methods=["gradient_x_input", "ism"])
    cfg["annotate"].update(
        motifs=str(ROOT / "resources/motifs/demo_motifs.meme"),
        families=str(ROOT / cfg["annotate"]["families"]),
        artifacts=[str(ROOT / a) for a in cfg["annotate"]["artifacts"]],
    )
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    cmd = ["snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(tmp_path / "config.yaml"), "--cores", "2",
           "--resources", "gpu=1"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0, run.stderr[-3000:]
    res = tmp_path / "results"
    for f in ("report/report.html", "shortcuts/elements.tsv", "methods/comparison.tsv"):
        assert (res / f).is_file(), f
    from seqlantern.cli import main

    out = tmp_path / "cpu"
    assert main(["attribute", "--onehot", str(res / "encode/onehot.npy"), "--index",
                 str(res / "encode/index.tsv"), "--model", str(res / "train/model.json"),
                 "--device", "cpu", "--out", str(out / "a.npy"), "--predictions",
                 str(out / "p.tsv")]) == 0  # fmt: skip
    cpu, gpu = np.load(out / "a.npy"), np.load(res / "attribute/attributions.npy")
    assert cpu.shape == gpu.shape
    assert np.allclose(cpu, gpu, rtol=1e-3, atol=1e-4 * float(np.abs(cpu).max()))
