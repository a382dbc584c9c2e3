from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import save_file

from seqlantern.encode import read_index
from seqlantern.io import SeqlanternError
from seqlantern.models import SeqCNN, load_checkpoint, load_foreign, load_model, read_state_dict
from seqlantern.train import auprc, auroc, read_targets, train


def test_read_targets_errors(tmp_path: Path) -> None:
    names = pd.Series(["a", "b", "c"])
    p = tmp_path / "t.tsv"
    p.write_text("name\tx\ty\na\t1\t0\nb\t2.5\t1\nc\tNaN?\t1\n")
    with pytest.raises(
        SeqlanternError, match=r"t.tsv: line 4: target 'x' is 'NaN\?', not a number"
    ):
        read_targets(p, names, ["x"])
    assert read_targets(p, names, ["y"], task="binary")[:, 0].tolist() == [0, 1, 1]
    with pytest.raises(SeqlanternError, match="unknown target column 'z'"):
        read_targets(p, names, ["z"])
    with pytest.raises(SeqlanternError, match=r"sequence 'd' has no target \(1 sequences"):
        read_targets(p, pd.Series(["a", "d"]), ["y"])
    with pytest.raises(SeqlanternError, match="binary target 'x'"):
        read_targets(p, pd.Series(["a", "b"]), ["x"], task="binary")
    q = tmp_path / "noname.tsv"
    q.write_text("id\tx\na\t1\n")
    with pytest.raises(SeqlanternError, match="no 'name' column"):
        read_targets(q, names, ["x"])
    d = tmp_path / "dup.tsv"  # pandas would silently rename the second to activity.1
    d.write_text("name\tactivity\tactivity\na\t1\t5\nb\t2\t6\nc\t3\t7\n")
    with pytest.raises(SeqlanternError, match=r"dup.tsv: line 1: column 'activity' appears"):
        read_targets(d, names, ["activity"])
    c = tmp_path / "const.tsv"
    c.write_text("name\tx\na\t2\nb\t2\nc\t2\n")
    with pytest.raises(SeqlanternError, match=r"const.tsv: target 'x' is 2 for every sequence"):
        read_targets(c, names, ["x"])


def test_auc_metrics_match_definitions() -> None:
    y = np.array([0, 0, 1, 1])
    assert auroc(y, np.array([0.1, 0.4, 0.35, 0.8])) == 0.75
    assert auprc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0


def test_train_checkpoint_roundtrip(demo_small: dict[str, Path], trained_small: Path) -> None:
    model, meta = load_checkpoint(trained_small)
    assert meta["targets"] == ["activity"] and meta["length"] == 200
    metrics = pd.read_csv(trained_small.parent / "metrics.tsv", sep="\t")
    assert metrics["split"][0] == "test" and np.isfinite(metrics["pearson"][0])
    assert (trained_small.parent / "curve.png").stat().st_size > 1000
    x = torch.from_numpy(np.load(demo_small["onehot"])[:8])
    y = model(x)
    assert y.shape == (8, 1)
    # predictions are in the targets' units (mean roughly matches the training mean)
    t = pd.read_csv(demo_small["targets"], sep="\t")["activity"]
    with torch.no_grad():
        mean_pred = float(model(torch.from_numpy(np.load(demo_small["onehot"])[:300])).mean())
    assert abs(mean_pred
               - t.mean()) < 2 * t.std()  # fmt: skip


def test_training_is_seeded(demo_small: dict[str, Path], tmp_path: Path) -> None:
    outs = []
    for k in range(2):
        d = tmp_path / str(k)
        train(demo_small["onehot"], demo_small["index"], demo_small["targets"], d / "m.json",
              d / "met.tsv", d / "c.png", columns=["activity"], epochs=1, equal_steps=False,
              model_kwargs={"filters": [8], "dense": 4}, seed=5)  # fmt: skip
        outs.append(read_state_dict(d / "m.safetensors"))
    assert all(torch.equal(outs[0][k], outs[1][k]) for k in outs[0])


def test_binary_multi_target(demo_small: dict[str, Path], tmp_path: Path) -> None:
    t = pd.read_csv(demo_small["targets"], sep="\t")
    t["active"] = (t["activity"] > t["activity"].median()).astype(int)
    t["very"] = (t["activity"] > t["activity"].quantile(0.8)).astype(int)
    t.to_csv(tmp_path / "b.tsv", sep="\t", index=False)
    # a tiny (8-unit) head on the default max+mean pooled exp features can die in two
    # epochs (constant output); this test is about the binary multi-target plumbing
    m = train(demo_small["onehot"], demo_small["index"], tmp_path / "b.tsv", tmp_path / "m.json",
              tmp_path / "met.tsv", tmp_path / "c.png", columns=["active", "very"], task="binary",
              epochs=2, equal_steps=False,
              model_kwargs={"filters": [16], "dense": 8, "dropout": 0.0, "global_pool": "max"})  # fmt: skip
    assert list(m["model"]) == ["cnn", "cnn", "kmer_logistic_1-6", "kmer_logistic_1-6"]
    cnn = m[m["model"] == "cnn"]
    assert list(cnn["target"]) == ["active", "very"] and (cnn["auroc"] > 0.5).all()


def test_corrupt_checkpoint_is_one_line_error(trained_small: Path, tmp_path: Path) -> None:
    meta = json.loads(trained_small.read_text())
    (tmp_path / "model.json").write_text(json.dumps(meta))
    (tmp_path / meta["weights"]).write_bytes(b"\x00garbage" * 10)
    with pytest.raises(SeqlanternError, match="cannot read model weights") as exc:
        load_checkpoint(tmp_path / "model.json")
    assert "\n" not in str(exc.value)
    (tmp_path / "model.json").write_text("{not json")
    with pytest.raises(SeqlanternError, match="checkpoint JSON is corrupt"):
        load_checkpoint(tmp_path / "model.json")


class Foreign(torch.nn.Module):
    """A user's model: not in the registry, loaded by import path."""

    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(4, width, 5)
        self.out = torch.nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv(x).amax(dim=2))


def test_load_foreign_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    m = Foreign(width=6)
    save_file(m.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(m.state_dict(), tmp_path / "w.pt")
    for w in ("w.safetensors", "w.pt"):
        loaded, meta = load_model({"import_path": "test_train_models:Foreign",
                                   "weights": str(tmp_path / w), "kwargs": {"width": 6},
                                   "targets": ["a", "b"]})  # fmt: skip
        x = torch.rand(3, 4, 50)
        assert torch.allclose(loaded(x), m(x)) and meta["targets"] == ["a", "b"]
    with pytest.raises(SeqlanternError, match="do not fit the model"):
        load_foreign("test_train_models:Foreign", tmp_path / "w.pt", kwargs={"width": 3})
    with pytest.raises(SeqlanternError, match="cannot import"):
        load_foreign("no_such_module:Foreign", tmp_path / "w.pt")
    # keys that do not fit are named
    renamed = {("head." + k[4:] if k.startswith("out.") else k): v
               for k, v in m.state_dict().items()}  # fmt: skip
    torch.save(renamed, tmp_path / "r.pt")
    with pytest.raises(SeqlanternError, match=r"missing out.weight, out.bias; unexpected head"):
        load_foreign("test_train_models:Foreign", tmp_path / "r.pt", kwargs={"width": 6})
    # a user module that fails on import: one line naming the file and line
    (tmp_path / "broken_model.py").write_text("import torch\nclass M(torch.nn.Module:\n")
    (tmp_path / "raising_model.py").write_text("raise RuntimeError('needs a GPU')\n")
    import sys

    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(SeqlanternError, match=r"broken_model.py line 2 failed \(SyntaxError"):
            load_foreign("broken_model:M", tmp_path / "w.pt")
        with pytest.raises(SeqlanternError, match=r"raising_model failed \(RuntimeError: needs"):
            load_foreign("raising_model:M", tmp_path / "w.pt")
    finally:
        sys.path.remove(str(tmp_path))
    # a pickled full model (not a state dict) is refused, never unpickled
    torch.save(m, tmp_path / "full.pt")
    with pytest.raises(SeqlanternError, match="cannot read model weights"):
        read_state_dict(tmp_path / "full.pt")


def test_seqcnn_options_validated() -> None:
    with pytest.raises(SeqlanternError):
        SeqCNN(1, filters=[8, 8], kernel_sizes=[3], pool=[1])
    m = SeqCNN(2, length=120, filters=[8, 8], kernel_sizes=[7, 3], pool=[2, 2], global_pool="none",
               batch_norm=True, first_activation="relu")  # fmt: skip
    assert m(torch.rand(2, 4, 120)).shape == (2, 2)


def test_index_has_splits(demo_small: dict[str, Path]) -> None:
    idx = read_index(demo_small["index"])
    assert set(idx["split"]) == {"train", "valid", "test"}
