"""bpnet-lite's BPNet and ChromBPNet for ``config/examples/bpnet_tiles.yaml``.

Run this file once before the example (``pip install --no-deps bpnet-lite`` first: its
model classes need only PyTorch)::

    python config/examples/models/bpnet.py

It writes seeded random weights with ``torch.save(model.state_dict())``:
``results/examples/models/bpnet.pt`` (``bpnetlite.bpnet:BPNet`` with the example's
``model.kwargs``) and ``results/examples/models/chrombpnet.pt`` (:class:`ChromBPNetModel`
below). No BPNet training data ships with seqlantern, so these weights predict nothing:
the example shows how the workflow reads a BPNet or ChromBPNet checkpoint and attributes
its counts or profile head. For an analysis, point ``model.weights`` at the state dict
of your trained model (``torch.save(model.state_dict(), path)``).
"""

from __future__ import annotations

from pathlib import Path

import torch
from bpnetlite.bpnet import BPNet
from bpnetlite.chrombpnet import ChromBPNet

ROOT = Path(__file__).resolve().parents[3]
OUT = ROOT / "results" / "examples" / "models"
# the example's model.kwargs: a 2,114-bp input, 1,000-bp output profile (two strands)
BPNET = {"n_filters": 64, "n_layers": 8, "n_outputs": 2, "n_control_tracks": 0,
         "trimming": 557, "verbose": False}  # fmt: skip


class ChromBPNetModel(ChromBPNet):
    """ChromBPNet is built from two BPNets (a bias model and an accessibility model), so
    users wrap it in a file with no constructor arguments: ``model.import_path:
    config/examples/models/bpnet.py:ChromBPNetModel``."""

    def __init__(self) -> None:
        kw = {"n_outputs": 1, "n_control_tracks": 0, "trimming": 557, "verbose": False}
        bias = BPNet(n_filters=32, n_layers=4, **kw)
        accessibility = BPNet(n_filters=64, n_layers=8, **kw)
        super().__init__(bias, accessibility)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    torch.save(BPNet(**BPNET).state_dict(), OUT / "bpnet.pt")
    torch.manual_seed(1)
    torch.save(ChromBPNetModel().state_dict(), OUT / "chrombpnet.pt")
    print(f"weights: {OUT / 'bpnet.pt'}, {OUT / 'chrombpnet.pt'}")


if __name__ == "__main__":
    main()
