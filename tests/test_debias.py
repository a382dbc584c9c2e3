"""Debiasing: artifact spans in every input, neutralisation, before/after comparison."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ARTIFACTS
from seqlantern.artifacts import read_artifacts
from seqlantern.constant import ConstantRegion
from seqlantern.debias import compare_debias, find_artifact_spans, neutralise
from seqlantern.encode import decode, encode_fasta, read_index, reverse_complement
from seqlantern.io import load_npy, write_fasta
from seqlantern.simulate import TRUSEQ_READ1_ADAPTER


def _encoded(tmp_path: Path) -> tuple[np.ndarray, pd.DataFrame, list[str]]:
    rng = np.random.default_rng(0)
    seqs = []
    for i in range(30):
        s = "".join(rng.choice(list("ACGT"), 120))
        if i % 3 == 0:  # read-through at the 3' end, one sequencing error
            ad = list(TRUSEQ_READ1_ADAPTER[:30])
            ad[14] = "A" if ad[14] != "A" else "C"
            s = s[:80] + "".join(ad)  # positions 90-120 after the 10-bp prefix
        elif i % 3 == 1:  # adapter on the minus strand, inside
            s = s[:20] + reverse_complement(TRUSEQ_READ1_ADAPTER[:25]) + s[45:]
        seqs.append(("CCTAGGTAAC" + s)[:120])
    fa = tmp_path / "a.fa"
    write_fasta([(f"s{i}", s) for i, s in enumerate(seqs)], fa)
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    return load_npy(tmp_path / "x.npy", what="x"), read_index(tmp_path / "i.tsv"), seqs


def test_spans_found_with_errors_both_strands_and_constant(tmp_path: Path) -> None:
    x, idx, _ = _encoded(tmp_path)
    const = [ConstantRegion("constant_start_0_10", "start", 0, 10, 1.0, 1.0, "CCTAGGTAAC")]
    spans = find_artifact_spans(
        x, idx, read_artifacts(ARTIFACTS), const, kinds=("adapter", "constant")
    )
    lib = spans[spans["kind"] != "constant"]
    assert set(lib["row"]) == {i for i in range(30) if i % 3 != 2}
    # the error splits the read-through into two exact runs around it; both are found
    first = lib[lib["row"] == 0]
    assert first[["start", "end"]].to_numpy().tolist() == [[90, 104], [105, 120]]
    assert (spans[spans["kind"] == "constant"][["start", "end"]].drop_duplicates().to_numpy()
            == [[0, 10]]).all()  # fmt: skip
    assert (spans["kind"] == "constant").sum() == 30
    default = find_artifact_spans(x, idx, read_artifacts(ARTIFACTS), const)
    assert "constant" not in set(default["kind"]) and len(default) == len(lib)


@pytest.mark.parametrize("mode", ["background", "shuffle"])
def test_neutralise_removes_adapter_and_keeps_the_rest(tmp_path: Path, mode: str) -> None:
    x, idx, _ = _encoded(tmp_path)
    spans = find_artifact_spans(x, idx, read_artifacts(ARTIFACTS), [])
    neutralise(x, spans, tmp_path / "n.npy", seed=1, mode=mode)
    y = np.load(tmp_path / "n.npy")
    assert y.shape == x.shape and np.allclose(y.sum(axis=1), 1)
    again = find_artifact_spans(y, idx, read_artifacts(ARTIFACTS), [])
    assert len(again) < len(spans) / 5
    mask = np.zeros(x.shape[::2], dtype=bool)
    for r in spans.itertuples():
        mask[r.row, r.start : r.end] = True
    same = x[:].argmax(axis=1) == y.argmax(axis=1)
    assert same[~mask].all()
    if mode == "shuffle":  # composition of each span kept
        for r in spans.itertuples():
            assert sorted(decode(x[r.row][:, r.start : r.end])) == sorted(
                decode(y[r.row][:, r.start : r.end]))  # fmt: skip
    neutralise(x, spans, tmp_path / "m.npy", seed=1, mode=mode)
    assert np.array_equal(np.load(tmp_path / "m.npy"), y)  # seeded


def test_compare_debias_arithmetic(tmp_path: Path) -> None:
    spans = pd.DataFrame({"row": [0], "start": [0], "end": [2], "name": ["a"],
                          "kind": ["adapter"]})  # fmt: skip
    before = np.zeros((3, 4, 4))
    before[0, 0, :] = [3, 1, 0, 0]  # 4 of 4 on the span
    after = np.zeros((3, 4, 4))
    after[0, 0, :] = [1, 0, 1, 2]  # 1 of 4 on the span
    preds = pd.DataFrame({"name": ["a", "b", "c"], "row": [0, 1, 2], "pred_y": [3.0, 1.0, 2.0]})
    targets = pd.Series([2.5, 1.2, 2.1], index=["a", "b", "c"])
    t = compare_debias(spans, (before, preds), (after, preds.assign(pred_y=[2.0, 1.0, 2.0])),
                       targets, tmp_path / "c.tsv").set_index("metric")  # fmt: skip
    assert t.loc["artifact_attribution_share", "before"] == 1.0
    assert t.loc["artifact_attribution_share", "after"] == 0.25
    assert t.loc["artifact_position_fraction", "before"] == 0.5
    assert t.loc["artifact_excess_reduction", "after"] == pytest.approx(1.5)  # below even
    assert t.loc["sequences_with_artifact", "before"] == 1
    assert (tmp_path / "c.tsv").is_file()


def test_attribution_penalty_keeps_gradients_off_masked_positions(tmp_path: Path) -> None:
    """Labels follow two motifs, one always at 2-8 (masked), one at 26-32; with the
    penalty on positions 0-10 the share of the model's input gradients there shrinks
    compared with the same training without it."""
    import torch

    from seqlantern.models import load_checkpoint
    from seqlantern.train import train

    rng = np.random.default_rng(0)
    n = 2000
    seqs, ys = [], []
    for _ in range(n):
        s = list("".join(rng.choice(list("ACGT"), 40)))
        a, b = rng.random() < 0.5, rng.random() < 0.5
        if a:
            s[2:8] = "GATAAG"
        if b:
            s[26:32] = "CACGTG"
        seqs.append("".join(s))
        ys.append(2.0 * a + 2.0 * b + rng.normal(0, 0.1))
    fa = tmp_path / "t.fa"
    write_fasta([(f"s{i}", s) for i, s in enumerate(seqs)], fa)
    pd.DataFrame({"name": [f"s{i}" for i in range(n)], "y": ys}).to_csv(
        tmp_path / "y.tsv", sep="\t", index=False)  # fmt: skip
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    spans = pd.DataFrame({"row": range(n), "start": 0, "end": 10})
    share = {}
    for w in (0.0, 10.0):
        d = tmp_path / f"w{w}"
        d.mkdir()
        train(tmp_path / "x.npy", tmp_path / "i.tsv", tmp_path / "y.tsv", d / "m.json",
              d / "m.tsv", d / "c.png", columns=["y"], epochs=12, patience=12, seed=0, equal_steps=False,
              model_kwargs={"filters": [16], "dense": 8, **SINGLE_STRAND_MAX},
              augment_rc=False, learning_rate=2e-3, lr_schedule="none", penalty_spans=spans,
              penalty_weight=w, kmer_fallback=False)  # fmt: skip
        model, _ = load_checkpoint(d / "m.json")
        x = torch.from_numpy(np.load(tmp_path / "x.npy")[:200]).requires_grad_(True)
        (g,) = torch.autograd.grad(model(x).sum(), x)
        g = g - g.mean(dim=1, keepdim=True)
        share[w] = float((g[:, :, :10] ** 2).sum() / (g**2).sum())
    assert share[10.0] < 0.5 * share[0.0]


# the penalty's effect is checked on the single-strand max-pool model (the fast-path
# architecture); the default's strand averaging is a separate question
SINGLE_STRAND_MAX = {"global_pool": "max", "rc_average": False, "dropout": 0.0}


def test_penalty_inputs_must_match(tmp_path: Path) -> None:
    from seqlantern.io import SeqlanternError
    from seqlantern.train import train

    rng = np.random.default_rng(0)
    fa = tmp_path / "t.fa"
    write_fasta([(f"s{i}", "".join(rng.choice(list("ACGT"), 40))) for i in range(60)], fa)
    pd.DataFrame({"name": [f"s{i}" for i in range(60)], "y": rng.normal(size=60)}).to_csv(
        tmp_path / "y.tsv", sep="\t", index=False)  # fmt: skip
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    np.save(tmp_path / "other.npy", np.zeros((60, 4, 41), dtype=np.float32))
    with pytest.raises(SeqlanternError, match="differs"):
        train(tmp_path / "x.npy", tmp_path / "i.tsv", tmp_path / "y.tsv", tmp_path / "m.json",
              tmp_path / "m.tsv", tmp_path / "c.png", columns=["y"], epochs=1, equal_steps=False,
              penalty_spans=pd.DataFrame({"row": [0], "start": [0], "end": [5]}),
              penalty_weight=1.0, penalty_onehot=tmp_path / "other.npy")  # fmt: skip
