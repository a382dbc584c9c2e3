"""Element segments from sequence labels (Grad-CAM seeds grown along the map)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqlantern.segment import boundary_iou, grow_segments


def test_seeds_grow_while_the_map_is_continuous() -> None:
    cam = np.zeros(60)
    cam[20:23] = [0.6, 1.0, 0.7]  # one seed run
    cam[45] = 0.55  # a second, weaker seed
    attr = np.full(60, 0.01)
    attr[16:28] = 0.5  # the element the model uses around the first seed
    attr[40:44] = -0.3  # unrelated: separated from seed 45 by a gap
    segs = grow_segments(cam, attr, seed_fraction=0.5, grow_fraction=0.25)
    assert [(s, e) for s, e, *_ in segs] == [(16, 28), (45, 46)]
    assert segs[0][2] == 1.0 and abs(segs[0][3] - 6.0) < 1e-9
    assert grow_segments(np.zeros(10), np.ones(10)) == []


def test_boundary_iou() -> None:
    truth = pd.DataFrame({"name": ["a", "a", "b"], "start": [10, 50, 0], "end": [20, 60, 10]})
    found = pd.DataFrame({"name": ["a", "a", "c"], "start": [12, 30, 0], "end": [20, 35, 5]})
    ev = boundary_iou(found, truth)
    assert ev["recall"] == pytest.approx(1 / 3) and ev["iou"] == pytest.approx(0.8)
    assert ev["precision"] == pytest.approx(1 / 3)


def test_regression_model_needs_a_threshold(
    tmp_path: Path, trained_small: Path, demo_small: dict[str, Path],
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from seqlantern.cli import main

    args = ["segment", "--model", str(trained_small), "--onehot", str(demo_small["onehot"]),
            "--index", str(demo_small["index"]), "--out", str(tmp_path / "s.tsv")]  # fmt: skip
    assert main(args) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "give --threshold" in err[0]
    assert not (tmp_path / "s.tsv").exists()
    assert main([*args, "--threshold", "-100"]) == 0  # every sequence counts as positive
    seg = pd.read_csv(tmp_path / "s.tsv", sep="\t")
    assert len(seg) > 0 and (seg["end"] > seg["start"]).all()
