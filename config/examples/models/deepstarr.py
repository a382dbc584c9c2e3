"""A DeepSTARR-style CNN (de Almeida et al. 2022) written as a user writes it, for
``config/examples/deepstarr_own_model.yaml`` (``model.import_path:
config/examples/models/deepstarr.py:DeepSTARR``).

Run this file once before the example; it writes the weights the example reads::

    python config/examples/models/deepstarr.py

It trains the network briefly (seed 0, CPU, a few minutes on 2 cores) on the shipped
DeepSTARR sample (``resources/examples/deepstarr/``). It trains only on sequences outside
the workflow's test split (the example's ``split`` and ``seed``, same sequence on either
strand included), then saves ``torch.save(model.state_dict())`` to
``results/examples/models/deepstarr.pt``. 2,969 sequences train a weak model (the paper
used about 400,000). The example shows how the workflow reads a model you bring; for an
analysis, point ``model.weights`` at your own trained weights.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "results" / "examples" / "models" / "deepstarr.pt"
SAMPLE = ROOT / "resources" / "examples" / "deepstarr"
TARGETS = ["Dev_log2_enrichment", "Hk_log2_enrichment"]


class DeepSTARR(nn.Module):
    """Four convolution blocks (batch norm, ReLU, max pool) and two dense layers with
    dropout; one output per target (Dev, Hk). Input ``(N, 4, length)`` one-hot."""

    def __init__(self, length: int = 249, n_targets: int = 2) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 4
        for f, k in zip((256, 60, 60, 120), (7, 3, 5, 3), strict=True):
            layers += [nn.Conv1d(c, f, k, padding="same"), nn.BatchNorm1d(f), nn.ReLU(),
                       nn.MaxPool1d(2)]  # fmt: skip
            c = f
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c * (length // 16), 256), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Dropout(0.4), nn.Linear(256, 256), nn.BatchNorm1d(256), nn.ReLU(),
            nn.Dropout(0.4), nn.Linear(256, n_targets))  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def _training_data(test_fraction: float = 0.2, valid_fraction: float = 0.1, seed: int = 0):
    """One-hot sequences and targets of the records outside the workflow's test split."""
    import numpy as np
    import pandas as pd

    from seqlantern.encode import SplitSpec, one_hot, reverse_complement
    from seqlantern.io import read_fasta

    spec = SplitSpec(valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed)
    records = [(r.name, r.sequence.upper()) for r in read_fasta(SAMPLE / "sequences.fa")]
    test = {s for name, s in records if spec.assign(name, name) == "test"}
    test |= {reverse_complement(s) for s in test}
    keep = [(n, s) for n, s in records if spec.assign(n, n) != "test" and s not in test]
    y = pd.read_csv(SAMPLE / "targets.tsv", sep="\t").set_index("name").loc[[n for n, _ in keep]]
    x = np.stack([one_hot(s) for _, s in keep]).astype(np.float32)
    return torch.from_numpy(x), torch.from_numpy(y[TARGETS].to_numpy(np.float32))


def main(epochs: int = 8) -> None:
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    x, y = _training_data()
    y = (y - y.mean(0)) / y.std(0)
    model = DeepSTARR(x.shape[-1], y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(x), generator=gen).split(64):
            opt.zero_grad()
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
        print(f"epoch {epoch + 1}/{epochs}: training loss {total / len(x):.3f}", flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.eval().state_dict(), OUT)
    print(f"{len(x)} training sequences; weights: {OUT}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
