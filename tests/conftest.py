"""Shared fixtures: paths to shipped resources and small real-shaped data sets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "resources"
DEMO_MOTIFS = RESOURCES / "motifs" / "demo_motifs.meme"
JASPAR = RESOURCES / "motifs" / "JASPAR2026_CORE_vertebrates.meme"
FAMILIES = RESOURCES / "motifs" / "JASPAR2026_CORE_vertebrates.families.tsv"
ARTIFACTS = RESOURCES / "artifacts" / "artifacts.fa"


@pytest.fixture(scope="session")
def demo_small(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 1,500-sequence demo library, encoded."""
    from seqlantern.encode import encode_fasta
    from seqlantern.simulate import write_demo

    d = tmp_path_factory.mktemp("demo_small")
    out = {k: d / v for k, v in {"fasta": "demo.fa", "targets": "targets.tsv",
                                 "truth": "truth.tsv", "onehot": "onehot.npy",
                                 "index": "index.tsv"}.items()}  # fmt: skip
    write_demo(DEMO_MOTIFS, out["fasta"], out["targets"], out["truth"], n=1500, seed=3)
    encode_fasta(out["fasta"], out["onehot"], out["index"])
    return out


@pytest.fixture(scope="session")
def trained_small(demo_small: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model trained for two epochs on ``demo_small`` (checkpoint JSON path)."""
    from seqlantern.train import train

    d = tmp_path_factory.mktemp("model_small")
    train(demo_small["onehot"], demo_small["index"], demo_small["targets"], d / "model.json",
          d / "metrics.tsv", d / "curve.png", columns=["activity"], epochs=2, equal_steps=False,
          kmer_fallback=False, model_kwargs={"filters": [16], "dense": 8}, seed=0)  # fmt: skip
    return d / "model.json"


def random_dna(n: int, rng: np.random.Generator) -> str:
    """Uniform random DNA."""
    return "".join("ACGT"[i] for i in rng.integers(0, 4, n))
