from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import random_dna
from seqlantern.attribute import attribute_controls
from seqlantern.encode import decode, one_hot
from seqlantern.models import load_checkpoint
from seqlantern.seqlets import (
    SeqletParams,
    calibration_table,
    call_with_control,
    control_statistics,
    cutoff_level,
)
from seqlantern.shuffle import dinucleotide_shuffle, shuffle_onehot


def _di(s: str) -> Counter[tuple[str, str]]:
    return Counter(itertools.pairwise(s))


@pytest.mark.parametrize("seed", range(5))
def test_dinucleotide_shuffle_preserves_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    s = random_dna(150, rng) + "NNNN" + "AGATCGGAAGAGCACACGTC" + random_dna(30, rng)
    r = dinucleotide_shuffle(s, np.random.default_rng(seed))
    assert _di(r) == _di(s) and r[0] == s[0] and r[-1] == s[-1] and r != s
    assert r == dinucleotide_shuffle(s, np.random.default_rng(seed))  # seeded
    assert "AGATCGGAAGAGCACACGTC" not in r  # longer words are destroyed


@pytest.mark.parametrize("seed", range(4))
def test_onehot_shuffle_is_the_string_shuffle(seed: int) -> None:
    """The one-hot shuffle is the string shuffle of the decoded sequence (N columns too),
    and ``copies`` gives what that many calls in a row give."""
    rng = np.random.default_rng(seed)
    s = random_dna(90, rng) + "NNN" + random_dna(40, rng)
    x = one_hot(s)
    one = shuffle_onehot(x, np.random.default_rng(seed))
    assert one.dtype == np.float32 and one.shape == x.shape
    assert decode(one) == dinucleotide_shuffle(s, np.random.default_rng(seed))
    r1, r2 = np.random.default_rng(seed), np.random.default_rng(seed)
    many = shuffle_onehot(x, r1, copies=3)
    assert np.array_equal(many, np.stack([shuffle_onehot(x, r2) for _ in range(3)]))
    assert r1.integers(1 << 40) == r2.integers(1 << 40)  # same draws consumed
    assert len({decode(c) for c in many}) == 3
    # a span of a memory-mapped-like strided view works the same as a copy
    assert np.array_equal(
        shuffle_onehot(x[:, 10:60], np.random.default_rng(1)),
        shuffle_onehot(x[:, 10:60].copy(), np.random.default_rng(1)),
    )


def test_string_shuffle_keeps_any_letters() -> None:
    s = "xyzéxyzéyyxz"
    r = dinucleotide_shuffle(s, np.random.default_rng(0))
    assert _di(r) == _di(s) and r[0] == s[0] and r[-1] == s[-1]
    assert dinucleotide_shuffle("AC", np.random.default_rng(0)) == "AC"


def test_shuffle_is_uniform_over_small_space() -> None:
    # ACAGT-like space: every Eulerian path must appear, roughly equally often
    s = "ACATAGA"
    outs = Counter(dinucleotide_shuffle(s, np.random.default_rng(i)) for i in range(3000))
    assert all(_di(o) == _di(s) for o in outs)
    freq = np.array(list(outs.values())) / 3000
    assert len(outs) == 6 and freq.min() > 0.12  # 6 paths, each ~1/6


def test_control_statistics_bh() -> None:
    real = pd.DataFrame({"sign": ["+"] * 4 + ["-"], "score": [9.0, 4.0, 2.0, 1.0, -3.0],
                         "start": [0] * 5, "end": [4] * 5})  # fmt: skip
    control = pd.DataFrame({"sign": ["+"] * 4 + ["-"], "score": [3.0, 2.0, 1.5, 1.0, -10.0],
                            "start": [0] * 5, "end": [4] * 5})  # fmt: skip
    p, q = control_statistics(real, control, shuffles=2)
    # + sign, m = 4, k = 2: p = (1 + #control >= t) / 9
    assert np.allclose(p[:4], [1 / 9, 1 / 9, 3 / 9, 5 / 9])
    assert np.allclose(q[:4], [4 / 18, 4 / 18, 4 / 9, 5 / 9])
    assert np.isclose(p[4], 2 / 3) and (q >= p - 1e-12).all()


def _cut(t_real, r_pos, t_ctrl, c_pos, shuffles, **kw):  # type: ignore[no-untyped-def]
    from seqlantern.seqlets import _control_pq

    _, q = _control_pq(t_real, r_pos, t_ctrl, c_pos, shuffles)
    return q, cutoff_level(t_real, r_pos, q, t_ctrl, c_pos, shuffles, **kw)


def test_cutoff_extends_over_a_flat_q_plateau() -> None:
    # a weaker model: every positive call is ~1/8 chance match at every strength, so
    # its q-values sit flat at ~0.125, just above fdr 0.1; 50 negative calls are clean
    t_pos = np.linspace(1, 10, 800)
    t_neg = np.linspace(5, 10, 50)
    t_real = np.concatenate([t_pos, t_neg])
    r_pos = np.r_[np.ones(800, bool), np.zeros(50, bool)]
    t_ctrl = np.repeat(t_pos[::8], 2) + 1e-9  # 2 shuffles, 1 in 8 of the real rate
    c_pos = np.ones(len(t_ctrl), bool)
    q, fixed = _cut(t_real, r_pos, t_ctrl, c_pos, 2, fdr=0.1)
    assert fixed == 0.1 and (q[r_pos] <= fixed).sum() < 20 and (q[~r_pos] <= fixed).all()
    q, level = _cut(t_real, r_pos, t_ctrl, c_pos, 2, fdr=0.1, extend_fdr=0.15)
    assert 0.1 < level <= 0.15 and (q <= level).sum() == 850
    cal = calibration_table(t_real, r_pos, q, t_ctrl, c_pos, 2, chosen=level)
    row = cal[cal["chosen"] == "yes"]
    assert len(row) == 1 and int(row["calls"].iloc[0]) == 850
    assert float(row["estimated_fdr"].iloc[0]) <= 0.15


def test_cutoff_stays_when_the_calls_beyond_fdr_are_false() -> None:
    # a strong model: 100 clean calls, then 100 weak ones the controls match one for one
    weak = np.linspace(1, 5, 100)
    t_real = np.concatenate([np.linspace(10, 20, 100), weak])
    r_pos = np.ones(200, bool)
    t_ctrl, c_pos = weak.copy(), np.ones(100, bool)
    q, level = _cut(t_real, r_pos, t_ctrl, c_pos, 1, fdr=0.1, extend_fdr=0.15)
    assert level == 0.1 and (q <= level).sum() == (q <= 0.1).sum() < 120
    # extend_fdr <= fdr: off
    assert _cut(t_real, r_pos, t_ctrl, c_pos, 1, fdr=0.1, extend_fdr=0.05)[1] == 0.1


def test_controls_end_to_end(demo_small: dict[str, Path], trained_small: Path,
                             tmp_path: Path) -> None:  # fmt: skip
    model, _ = load_checkpoint(trained_small)
    x = np.load(demo_small["onehot"], mmap_mode="r")
    rows = np.arange(40)
    attribute_controls(model, x, rows, [f"s{r}" for r in rows], tmp_path / "c.npy",
                       tmp_path / "c.tsv", shuffles=3, seed=1, batch_size=7)  # fmt: skip
    c = np.load(tmp_path / "c.npy")
    tab = pd.read_csv(tmp_path / "c.tsv", sep="\t")
    assert c.shape == (120, 4, 200) and tab["name"][4] == "s1#shuf1"
    assert (tab["row"].to_numpy() == np.repeat(rows, 3)).all()
    # copies of one sequence differ from each other (each is its own shuffle)
    assert not np.allclose(c[3], c[4]) and np.isfinite(c).all()
    # same seed, other batch size: same controls
    attribute_controls(model, x, rows, [f"s{r}" for r in rows], tmp_path / "d.npy",
                       tmp_path / "d.tsv", shuffles=3, seed=1, batch_size=64)  # fmt: skip
    assert np.allclose(np.load(tmp_path / "d.npy"), c, atol=1e-6)
    from seqlantern.attribute import attribute

    attribute(model, x, rows, [f"s{r}" for r in rows], tmp_path / "a.npy", tmp_path / "a.tsv")
    df = call_with_control(np.load(tmp_path / "a.npy"), [f"s{r}" for r in rows], rows, c,
                           SeqletParams(pvalue=0.2), fdr=0.5)  # fmt: skip
    assert {"null_pvalue", "qvalue"} <= set(df.columns) and (df["qvalue"] <= 0.5).all()
