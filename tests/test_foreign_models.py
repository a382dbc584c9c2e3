"""Models users bring: a DeepSTARR-style CNN from a user's file, bpnet-lite's BPNet and
ChromBPNet with their (profile, counts) heads (model.output), and the one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlantern.cli import main
from seqlantern.models import OutputHead, load_model, n_outputs

DEEPSTARR = '''
import torch
from torch import nn


class DeepSTARR(nn.Module):
    """DeepSTARR-style: 4 conv blocks with BatchNorm, 2 dense layers, Dev and Hk heads."""

    def __init__(self, length=249, filters=(16, 16, 16, 16), dense=32):
        super().__init__()
        layers, c = [], 4
        for f, k in zip(filters, (7, 3, 5, 3)):
            layers += [nn.Conv1d(c, f, k, padding="same"), nn.BatchNorm1d(f), nn.ReLU(),
                       nn.MaxPool1d(2)]
            c = f
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(c * (length // 16), dense),
                                  nn.BatchNorm1d(dense), nn.ReLU(), nn.Linear(dense, 2))

    def forward(self, x):
        return self.head(self.body(x))
'''


def _data(d: Path, n: int = 24, length: int = 249, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    x = np.zeros((n, 4, length), np.float32)
    x[np.arange(n)[:, None], rng.integers(0, 4, (n, length)), np.arange(length)] = 1.0
    np.save(d / "x.npy", x)
    pd.DataFrame({"name": [f"s{i}" for i in range(n)], "chrom": [f"s{i}" for i in range(n)],
                  "start": 0, "end": length, "strand": "+", "split": "test",
                  "source_length": length, "coords": "record"}).to_csv(
        d / "i.tsv", sep="\t", index=False)  # fmt: skip


def _attribute(d: Path, *model_args: str, target: str = "0") -> int:
    return main(["attribute", "--onehot", str(d / "x.npy"), "--index", str(d / "i.tsv"),
                 *model_args, "--target", target, "--which", "all", "--out",
                 str(d / "a.npy"), "--predictions", str(d / "p.tsv")])  # fmt: skip


def _grad_x_input(model: torch.nn.Module, x: np.ndarray, target: int) -> np.ndarray:
    """Plain gradient x input with the mean over bases removed (our default map)."""
    xt = torch.from_numpy(x).requires_grad_(True)
    (g,) = torch.autograd.grad(model(xt)[:, target].sum(), xt)
    g = g - g.mean(dim=1, keepdim=True)
    return (g * xt).detach().numpy()


def test_deepstarr_from_a_user_file(tmp_path: Path) -> None:
    """model.import_path may be a file path; BatchNorm in eval mode; target by name."""
    (tmp_path / "mymodel.py").write_text(DEEPSTARR)
    spec = {"import_path": f"{tmp_path}/mymodel.py:DeepSTARR", "weights": str(tmp_path / "w.pt"),
            "targets": ["Dev", "Hk"]}  # fmt: skip
    import importlib.util

    s = importlib.util.spec_from_file_location("m", tmp_path / "mymodel.py")
    mod = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
    s.loader.exec_module(mod)  # type: ignore[union-attr]
    torch.manual_seed(0)
    net = mod.DeepSTARR()
    for bn in net.modules():  # non-trivial running statistics
        if isinstance(bn, torch.nn.BatchNorm1d):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    _data(tmp_path)
    code = _attribute(tmp_path, "--import-path", spec["import_path"], "--weights",
                      spec["weights"], "--model-targets", "Dev,Hk", target="Hk")  # fmt: skip
    assert code == 0
    maps = np.load(tmp_path / "a.npy")
    model, _ = load_model(spec)
    want = _grad_x_input(model, np.load(tmp_path / "x.npy"), 1)
    assert np.allclose(maps, want, rtol=1e-4, atol=1e-6)


def _example_module(name: str):  # type: ignore[no-untyped-def]
    import importlib.util

    from conftest import ROOT

    s = importlib.util.spec_from_file_location(name, ROOT / "config/examples/models" / f"{name}.py")
    mod = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
    s.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def test_example_deepstarr_model_file(tmp_path: Path) -> None:
    """config/examples/models/deepstarr.py: the example's import_path, kwargs and targets
    load and predict both targets; its weights script trains on no sequence of the
    workflow's test split (either strand)."""
    import yaml

    from conftest import ROOT
    from seqlantern.encode import SplitSpec, encode_fasta, reverse_complement
    from seqlantern.io import read_fasta

    cfg = yaml.safe_load((ROOT / "config/examples/deepstarr_own_model.yaml").read_text())
    mod = _example_module("deepstarr")
    torch.manual_seed(0)
    torch.save(mod.DeepSTARR(**cfg["model"]["kwargs"]).state_dict(), tmp_path / "w.pt")
    spec = {**cfg["model"], "import_path": str(ROOT / cfg["model"]["import_path"]),
            "weights": str(tmp_path / "w.pt")}  # fmt: skip
    model, meta = load_model(spec)
    with torch.no_grad():
        out = model(torch.zeros(3, 4, cfg["encode"]["length"]))
    assert out.shape == (3, 2) and list(meta["targets"]) == cfg["model"]["targets"]
    x, y = mod._training_data()
    split = cfg["split"]
    encode_fasta(mod.SAMPLE / "sequences.fa", tmp_path / "x.npy", tmp_path / "i.tsv",
                 split=SplitSpec(valid_fraction=split["valid_fraction"],
                                 test_fraction=split["test_fraction"], seed=0))  # fmt: skip
    idx = pd.read_csv(tmp_path / "i.tsv", sep="\t")
    test_names = set(idx.loc[idx["split"] == "test", "name"])
    seqs = {r.name: r.sequence.upper() for r in read_fasta(mod.SAMPLE / "sequences.fa")}
    test = {seqs[n] for n in test_names} | {reverse_complement(seqs[n]) for n in test_names}
    onehot = x.numpy()
    trained = {"".join("ACGT"[i] for i in row.argmax(0)) for row in onehot}
    assert len(x) == len(y) > 2000 and not trained & test


bpnetlite = pytest.importorskip("bpnetlite")


def _bpnet(tmp_path: Path, n_outputs: int = 2) -> torch.nn.Module:
    from bpnetlite.bpnet import BPNet

    torch.manual_seed(0)
    net = BPNet(n_filters=8, n_layers=2, n_outputs=n_outputs, n_control_tracks=0,
                trimming=10, verbose=False)  # fmt: skip
    torch.save(net.state_dict(), tmp_path / "bpnet.pt")
    return net.eval()


BPNET_KW = '{"n_filters": 8, "n_layers": 2, "n_outputs": 2, "n_control_tracks": 0, ' \
    '"trimming": 10, "verbose": false}'  # fmt: skip


def test_bpnet_counts_and_profile_heads(tmp_path: Path) -> None:
    net = _bpnet(tmp_path)
    _data(tmp_path, length=120)
    x = np.load(tmp_path / "x.npy")
    base = ["--import-path", "bpnetlite.bpnet:BPNet", "--weights", str(tmp_path / "bpnet.pt"),
            "--model-kwargs", BPNET_KW]  # fmt: skip
    # counts head
    assert _attribute(tmp_path, *base, "--model-output", '{"select": 1}') == 0
    counts = OutputHead(net, {"select": 1})
    assert np.allclose(np.load(tmp_path / "a.npy"), _grad_x_input(counts, x, 0), atol=1e-6)
    # profile head: the BPNet objective sum(softmax(p).detach() * p), both strands
    assert _attribute(tmp_path, *base, "--model-output",
                      '{"select": 0, "reduce": "profile"}') == 0  # fmt: skip

    class Wrapper(torch.nn.Module):  # bpnet-lite's / tangermeme's ProfileWrapper
        def forward(self, xx: torch.Tensor) -> torch.Tensor:
            p = net(xx)[0].reshape(len(xx), -1)
            return (p * torch.softmax(p, dim=-1).detach()).sum(-1, keepdim=True)

    assert np.allclose(np.load(tmp_path / "a.npy"), _grad_x_input(Wrapper(), x, 0), atol=1e-6)
    preds = pd.read_csv(tmp_path / "p.tsv", sep="\t")
    with torch.no_grad():
        want = Wrapper()(torch.from_numpy(x))[:, 0].numpy()
    assert np.allclose(preds["pred_0"], want, atol=1e-5)


def test_chrombpnet_from_a_user_file(tmp_path: Path) -> None:
    """ChromBPNet is built from two BPNets: users wrap it in a file; the counts head."""
    (tmp_path / "cbp.py").write_text(
        "from bpnetlite.bpnet import BPNet\nfrom bpnetlite.chrombpnet import ChromBPNet\n\n\n"
        "class Model(ChromBPNet):\n    def __init__(self):\n"
        "        kw = dict(n_outputs=1, n_control_tracks=0, trimming=10, verbose=False)\n"
        "        super().__init__(BPNet(n_filters=4, n_layers=1, **kw),\n"
        "                         BPNet(n_filters=8, n_layers=2, **kw))\n")  # fmt: skip
    import importlib.util

    s = importlib.util.spec_from_file_location("cbp", tmp_path / "cbp.py")
    mod = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
    s.loader.exec_module(mod)  # type: ignore[union-attr]
    torch.manual_seed(1)
    net = mod.Model().eval()
    torch.save(net.state_dict(), tmp_path / "cbp.pt")
    _data(tmp_path, length=100)
    assert _attribute(tmp_path, "--import-path", f"{tmp_path}/cbp.py:Model", "--weights",
                      str(tmp_path / "cbp.pt"), "--model-output", '{"select": 1}') == 0  # fmt: skip
    x = np.load(tmp_path / "x.npy")
    want = _grad_x_input(OutputHead(net, {"select": 1}), x, 0)
    assert np.allclose(np.load(tmp_path / "a.npy"), want, atol=1e-6)


@pytest.mark.parametrize(("output", "needle"), [
    ("", "the model's output is a tuple of 2: [0] a tensor of shape (1, 2, 100)"),
    ('{"select": 5}', "model.output.select 5 does not fit"),
    ('{"select": 1, "reduce": "profile"}', "needs a (N, channels, length) profile"),
    ('{"select": 0, "reduce": "window", "window": [90, 200]}', "goes past the profile's"),
    ('{"selct": 0}', "model.output: unknown key(s) ['selct']"),
])  # fmt: skip
def test_output_spec_that_does_not_fit_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: str, needle: str
) -> None:
    _bpnet(tmp_path)
    _data(tmp_path, length=120)
    args = [
        "--import-path",
        "bpnetlite.bpnet:BPNet",
        "--weights",
        str(tmp_path / "bpnet.pt"),
        "--model-kwargs",
        BPNET_KW,
    ] + (["--model-output", output] if output else [])
    assert _attribute(tmp_path, *args) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and needle in err, err
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "p.tsv").exists()


def test_user_file_problems_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "mymodel.py").write_text(DEEPSTARR)
    torch.save({}, tmp_path / "w.pt")
    _data(tmp_path)
    for path, needle in ((f"{tmp_path}/nothere.py:DeepSTARR", "nothere.py: file not found"),
                         (f"{tmp_path}/mymodel.py:Missing", "has no 'Missing'"),
                         (f"{tmp_path}/mymodel.py:DeepSTARR", "missing")):  # fmt: skip
        assert _attribute(tmp_path, "--import-path", path, "--weights",
                          str(tmp_path / "w.pt")) == 1  # fmt: skip
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and needle in err, err


def test_input_length_mismatch_is_one_line(tmp_path: Path) -> None:
    """A model whose dense layer expects another length: the dry run says so."""
    (tmp_path / "mymodel.py").write_text(DEEPSTARR)
    spec = {"import_path": f"{tmp_path}/mymodel.py:DeepSTARR", "weights": str(tmp_path / "w.pt")}
    import importlib.util

    s = importlib.util.spec_from_file_location("m2", tmp_path / "mymodel.py")
    mod = importlib.util.module_from_spec(s)  # type: ignore[arg-type]
    s.loader.exec_module(mod)  # type: ignore[union-attr]
    torch.save(mod.DeepSTARR().state_dict(), tmp_path / "w.pt")
    model, _ = load_model(spec)
    from seqlantern.io import SeqlanternError

    with pytest.raises(SeqlanternError, match=r"fails on a \(1, 4, 200\) input.*200-bp"):
        n_outputs(model, 200)
    assert n_outputs(model, 249) == 2


def test_example_chrombpnet_wrapper(tmp_path: Path) -> None:
    """config/examples/models/bpnet.py: ChromBPNet wrapped in a file with no constructor
    arguments loads from its state dict and its counts head is attributed as one output."""
    from conftest import ROOT

    mod = _example_module("bpnet")
    torch.manual_seed(1)
    torch.save(mod.ChromBPNetModel().state_dict(), tmp_path / "c.pt")
    spec = {"import_path": str(ROOT / "config/examples/models/bpnet.py") + ":ChromBPNetModel",
            "weights": str(tmp_path / "c.pt"), "output": {"select": 1}}  # fmt: skip
    model, _ = load_model(spec)
    with torch.no_grad():
        assert model(torch.zeros(2, 4, 2114)).shape == (2, 1)
    assert "n_filters" in mod.BPNET and mod.BPNET["trimming"] == 557
