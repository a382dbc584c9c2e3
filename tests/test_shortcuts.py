"""Shortcut tests: ablation and insertion effects, decisions, dataset-level reliance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqlantern.encode import one_hot
from seqlantern.io import SeqlanternError
from seqlantern.shortcuts import (
    ShortcutParams,
    mean_ci,
    run_shortcut_tests,
    shortcut_tests_file,
)

MOTIF, ADAPTER = "GATAAGGC", "AGATCGGAAG"


class PositionWeights(nn.Module):
    """output = sum of W * x: rewards MOTIF at 10-18 and ADAPTER at 50-60, nothing else."""

    def __init__(self, length: int, adapter_weight: float) -> None:
        super().__init__()
        w = torch.zeros(4, length)
        for seq, start, scale in ((MOTIF, 10, 1.0), (ADAPTER, 50, adapter_weight)):
            w[:, start : start + len(seq)] = scale * torch.from_numpy(one_hot(seq))
        self.register_buffer("w", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2))[:, None]


def _library(n: int = 40, length: int = 80) -> np.ndarray:
    rng = np.random.default_rng(0)
    seqs = []
    for i in range(n):
        s = list("".join(rng.choice(list("ACGT"), length)))
        s[10:18] = MOTIF
        if i % 2 == 0:
            s[50:60] = ADAPTER
        seqs.append(one_hot("".join(s)))
    return np.stack(seqs).astype(np.float32)


def _tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = []
    for r in range(0, 40, 2):  # motif + adapter in even rows, and an inert span
        rows.append((f"s{r}", r, 10, 18, "+", 5.0, "motif", "motif:M1", "NA"))
        rows.append((f"s{r}", r, 50, 60, "+", 3.0, "artifact", "artifact:truseq", "adapter"))
        rows.append((f"s{r}", r, 30, 38, "+", 1.0, "motif", "motif:M2", "NA"))
    el = pd.DataFrame(rows, columns=["name", "row", "start", "end", "sign", "score", "label",
                                     "group", "artifact_kind"])  # fmt: skip
    groups = pd.DataFrame({"group": ["motif:M1", "artifact:truseq", "motif:M2"],
                           "label": ["motif", "artifact", "motif"]})  # fmt: skip
    return el, groups


def test_mean_ci() -> None:
    m, lo, hi = mean_ci(np.array([1.0, 2.0, 3.0]))
    assert m == 2.0 and lo < 2.0 < hi and abs((hi - lo) / 2 - 4.303 / np.sqrt(3)) < 1e-3
    assert np.isnan(mean_ci(np.array([1.0]))[1])


def test_decisions_follow_the_model() -> None:
    x = _library()
    el, groups = _tables()
    model = PositionWeights(x.shape[2], adapter_weight=2.0)
    out, g, ds = run_shortcut_tests(model, x, el, groups, np.arange(40), target=0,
                                    params=ShortcutParams(shuffles=6, backgrounds=8))  # fmt: skip
    motif = out[(out["start"] == 10)]
    adapter = out[(out["start"] == 50)]
    inert = out[(out["start"] == 30)]
    assert (motif["decision"] == "plausible").all() and (motif["effect"] > 0).all()
    assert (adapter["decision"] == "artifact").all() and adapter["shortcut"].all()
    # a motif match the model ignores is not plausible
    assert (inert["effect"] == 0).all() and (inert["decision"] == "unexplained").all()
    assert inert["decision_reason"].str.contains("no measurable effect").all()
    gi = g.set_index("group")
    assert gi.loc["motif:M1", "insertion_low"] > 0  # inserting the motif raises predictions
    assert gi.loc["artifact:truseq", "shortcut"] and not gi.loc["motif:M2", "effect_low"] > 0
    # every top-decile sequence carries the adapter: its share of the signal is large
    assert ds["top_decile_with_artifact"] == ds["top_decile_sequences"] > 0
    assert 0.2 < ds["share_of_top_decile_signal_on_artifacts"] <= 1.0


def test_level_sets_every_interval() -> None:
    """shortcuts.level: a higher confidence level widens the intervals around the same
    effects (elements and groups)."""
    x = _library()
    el, groups = _tables()
    model = PositionWeights(x.shape[2], adapter_weight=2.0)
    runs = [run_shortcut_tests(model, x, el, groups, np.arange(40), target=0,
                               params=ShortcutParams(shuffles=6, backgrounds=8, level=lv))
            for lv in (0.6, 0.99)]  # fmt: skip
    (e1, g1, _), (e2, g2, _) = runs
    assert np.allclose(e1["effect"], e2["effect"]) and np.allclose(g1["effect"], g2["effect"])
    for a, b in ((e1, e2), (g1, g2)):
        lo, hi = "effect_low", "effect_high"
        w1, w2 = (a[hi] - a[lo]).to_numpy(), (b[hi] - b[lo]).to_numpy()
        ok = np.isfinite(w1) & (w1 > 0)
        assert ok.any() and (w2[ok] > w1[ok] * 1.5).all(), (lo, w1, w2)


def test_artifact_the_model_ignores_is_no_shortcut() -> None:
    x = _library()
    el, groups = _tables()
    model = PositionWeights(x.shape[2], adapter_weight=0.0)
    out, _, ds = run_shortcut_tests(model, x, el, groups, np.arange(40), target=0)
    adapter = out[out["start"] == 50]
    assert (adapter["decision"] == "artifact").all() and not adapter["shortcut"].any()
    assert adapter["decision_reason"].str.contains("no measurable effect").all()
    assert ds["top_decile_signal_lost"] == 0.0
    # deterministic for a fixed seed
    again, _, _ = run_shortcut_tests(model, x, el, groups, np.arange(40), target=0)
    pd.testing.assert_frame_equal(out, again)


def test_streamed_file_equals_in_memory(tmp_path: Path) -> None:
    """The CLI's path streams the elements table in blocks (memory flat in its size):
    any block size writes what the in-memory tests give, with the same groups, figures
    and counts."""
    x = _library()
    el, groups = _tables()
    model = PositionWeights(x.shape[2], adapter_weight=2.0)
    params = ShortcutParams(shuffles=4, backgrounds=6)
    out, g, ds = run_shortcut_tests(model, x, el, groups, np.arange(40), target=0,
                                    params=params)  # fmt: skip
    path = tmp_path / "el.tsv"
    el.to_csv(path, sep="\t", index=False)
    want = tmp_path / "want.tsv"
    out.to_csv(want, sep="\t", index=False, na_rep="NA", float_format="%.6g")
    for chunk in (7, 1000):
        got = tmp_path / f"got{chunk}.tsv"
        g2, ds2, counts = shortcut_tests_file(model, x, path, groups, np.arange(40), got,
                                              target=0, params=params, chunk=chunk)  # fmt: skip
        assert got.read_text() == want.read_text()
        pd.testing.assert_frame_equal(g, g2)
        assert ds == ds2
        assert counts == {
            **out["decision"].value_counts().to_dict(),
            "shortcut": int(out["shortcut"].sum()),
            "local_mismatch": int(out["local_mismatch"].sum()),
        }
    bad = el.copy()
    bad.loc[3, "row"] = 40  # beyond the library
    bad.to_csv(path, sep="\t", index=False)
    with pytest.raises(SeqlanternError, match="row 40 is beyond"):
        shortcut_tests_file(model, x, path, groups, np.arange(40), tmp_path / "o.tsv",
                            target=0, params=params)  # fmt: skip


FLANK, SITE = "CATTGCGTGAACCGA", "GATAAGG"  # constant flank at 0-15, a site at 15-22


class SpanWeights(nn.Module):
    """output = sum of W * x over the given (sequence, start) spans: the answer is known."""

    def __init__(self, length: int, spans: list[tuple[str, int]]) -> None:
        super().__init__()
        w = torch.zeros(4, length)
        for seq, start in spans:
            w[:, start : start + len(seq)] = torch.from_numpy(one_hot(seq))
        self.register_buffer("w", w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).sum(dim=(1, 2))[:, None]


@pytest.mark.parametrize(
    ("spans", "start", "label", "decision", "shortcut"),
    [
        ([(FLANK[10:], 10)], 10, "motif", "artifact", True),  # only the flank part counts
        ([(SITE, 15)], 10, "motif", "plausible", False),  # only the insert part counts
        ([(FLANK[10:], 10), (SITE, 15)], 10, "motif", "junction", True),  # both do
        # covered 10/13 by the flank (labelled artifact by overlap), yet the insert decides
        ([(SITE[:3], 15)], 5, "artifact", "plausible", False),
    ],
)
def test_junction_decided_by_measured_split(
    spans: list[tuple[str, int]], start: int, label: str, decision: str, shortcut: bool
) -> None:
    """An element half on a constant flank is labelled by which part carries the effect
    (ablating each part separately), not by an overlap fraction."""
    rng = np.random.default_rng(1)
    x = np.stack([one_hot(FLANK + SITE + "".join(rng.choice(list("ACGT"), 38)))
                  for _ in range(30)]).astype(np.float32)  # fmt: skip
    end = 22 if start == 10 else 18
    el = pd.DataFrame({
        "name": [f"s{r}" for r in range(30)], "row": range(30), "start": start, "end": end,
        "sign": "+", "score": 3.0, "label": label, "insert_label": "motif",
        "group": "g1", "artifact_kind": "constant", "artifact_start": 0, "artifact_end": 15,
    })  # fmt: skip
    groups = pd.DataFrame({"group": ["g1"], "label": [label]})
    model = SpanWeights(x.shape[2], spans)
    out, _, ds = run_shortcut_tests(model, x, el, groups, np.arange(30), target=0,
                                    params=ShortcutParams(shuffles=8, backgrounds=4))  # fmt: skip
    assert (out["decision"] == decision).all(), out["decision_reason"].unique()
    # the report's "N shortcuts of M elements decided artifact or junction" adds up
    assert ds["shortcut_elements"] == int(out["shortcut"].sum()) <= ds["artifact_decisions"]
    assert (out["shortcut"] == shortcut).all()
    assert out["artifact_part_effect"].notna().all() and out["insert_part_effect"].notna().all()
    # an element wholly inside the flank is no junction: no split is measured
    inside = el.assign(start=2, end=12, label="artifact")
    out2, _, _ = run_shortcut_tests(model, x, inside, groups, np.arange(30), target=0,
                                    params=ShortcutParams(shuffles=8, backgrounds=4))  # fmt: skip
    assert out2["artifact_part_effect"].isna().all() and (out2["decision"] == "artifact").all()


class Saturated(nn.Module):
    """output = 4 tanh(0.6 * matches to MOTIF at 10-18): flat (saturated) at a full site."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.lin = PositionWeights(length, adapter_weight=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4.0 * torch.tanh(0.6 * self.lin(x))


def _local_scores(model: nn.Module, x: np.ndarray, el: pd.DataFrame) -> np.ndarray:
    """Summed gradient x input over each element (gradient centred over bases, as the
    attribute stage does by default)."""
    xt = torch.from_numpy(x).requires_grad_(True)
    (g,) = torch.autograd.grad(model(xt).sum(), xt)
    a = ((g - g.mean(dim=1, keepdim=True)) * xt).sum(dim=1).detach().numpy()
    return np.array([a[r, s:e].sum() for r, s, e in zip(el["row"], el["start"], el["end"],
                                                         strict=True)])  # fmt: skip


class Mixed(nn.Module):
    """MOTIF at 10-18 counts linearly; ADAPTER at 50-60 through a saturated tanh."""

    def __init__(self, length: int) -> None:
        super().__init__()
        self.motif = PositionWeights(length, adapter_weight=0.0)
        both = PositionWeights(length, adapter_weight=1.0)
        self.register_buffer("w_adapter", both.w - self.motif.w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        adapter = (x * self.w_adapter).sum(dim=(1, 2))[:, None]
        return self.motif(x) + 4.0 * torch.tanh(0.6 * adapter)


def _motif_and_adapter_elements() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = [(f"s{r}", r, 10, 18, "+", 1.0, "motif", "motif:M1", "NA") for r in range(40)]
    rows += [(f"s{r}", r, 50, 60, "+", 1.0, "artifact", "artifact:truseq", "adapter")
             for r in range(0, 40, 2)]  # fmt: skip
    el = pd.DataFrame(rows, columns=["name", "row", "start", "end", "sign", "score", "label",
                                     "group", "artifact_kind"])  # fmt: skip
    groups = pd.DataFrame({"group": ["motif:M1", "artifact:truseq"],
                           "label": ["motif", "artifact"]})  # fmt: skip
    return el, groups


def test_local_estimate_of_a_linear_model_is_its_effect() -> None:
    """A linear model's gradient predicts what removing an element costs: scale 1, no
    flag. A saturated model's gradient understates every effect: the dataset scale says
    so. Where one kind of element saturates and the others do not, those are flagged
    and the reason says why."""
    x = _library()
    el, groups = _motif_and_adapter_elements()
    params = ShortcutParams(shuffles=16, backgrounds=4)
    lin = PositionWeights(x.shape[2], adapter_weight=1.0)
    out, _, ds = run_shortcut_tests(lin, x, el, groups, np.arange(40), target=0,
                                    params=params)  # fmt: skip
    assert np.allclose(out["local_estimate"], out["effect"])  # first order is exact
    assert not out["local_mismatch"].any() and ds["local_effect_scale"] == pytest.approx(1.0)
    assert ds["local_mismatch_share"] == 0.0
    sat = Saturated(x.shape[2])
    motif_only = el[el["label"] == "motif"]
    _, _, ds = run_shortcut_tests(sat, x, motif_only, groups.iloc[:1], np.arange(40),
                                  target=0, params=params)  # fmt: skip
    assert ds["local_effect_scale"] > 10  # the map understates every effect
    mixed = Mixed(x.shape[2])
    out, _, ds = run_shortcut_tests(mixed, x, el, groups, np.arange(40), target=0,
                                    params=params)  # fmt: skip
    adapter = out["label"] == "artifact"
    assert ds["local_effect_scale"] == pytest.approx(1.0, abs=0.05)
    assert not out.loc[~adapter, "local_mismatch"].any()
    assert out.loc[adapter, "local_mismatch"].mean() >= 0.9
    assert out.loc[adapter & out["local_mismatch"], "decision_reason"].str.contains(
        "the map misleads here").all()  # fmt: skip
