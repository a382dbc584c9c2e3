from __future__ import annotations

import numpy as np
import pytest

from conftest import ARTIFACTS, random_dna
from seqlantern.artifacts import ArtifactMatcher, read_artifacts
from seqlantern.io import SeqlanternError
from seqlantern.seqlets import (
    EmpiricalNull,
    LaplaceNull,
    SeqletParams,
    call_seqlets,
    sample_span_sums,
)
from seqlantern.simulate import TRUSEQ_READ1_ADAPTER


def _attr(n: int = 300, length: int = 120, seed: int = 0) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    per_pos = rng.laplace(0, 0.02, size=(n, length))
    planted = []
    for i in range(n):
        if i % 3 == 0:
            s = int(rng.integers(5, length - 20))
            per_pos[i, s : s + 10] += 0.3
            planted.append((i, s, s + 10, "+"))
        if i % 5 == 0:
            s = int(rng.integers(5, length - 20))
            if not any(p[0] == i and abs(p[1] - s) < 15 for p in planted):
                per_pos[i, s : s + 8] -= 0.3
                planted.append((i, s, s + 8, "-"))
    attr = np.zeros((n, 4, length), dtype=np.float32)
    attr[:, 0, :] = per_pos  # the observed base's channel
    return attr, planted


# the empirical null is fitted on data where a third of the sequences hold a peak, so its
# upper tail is made of real peaks and its p-values are conservative: a looser threshold
@pytest.mark.parametrize(("null", "pvalue"), [("laplace", 1e-3), ("empirical", 0.02)])
def test_seqlets_find_planted_peaks_both_signs(null: str, pvalue: float) -> None:
    attr, planted = _attr()
    names = [f"s{i}" for i in range(len(attr))]
    df = call_seqlets(attr, names, np.arange(len(attr)), SeqletParams(null=null, pvalue=pvalue))
    hits = 0
    for i, s, e, sign in planted:
        g = df[(df["row"] == i) & (df["sign"] == sign)]
        hits += bool(((np.minimum(g["end"], e) - np.maximum(g["start"], s)) >= 6).any())
    assert hits / len(planted) > 0.95
    # nearly every call is a planted peak
    matched = 0
    for r in df.itertuples():
        matched += any(p[0] == r.row and min(p[2], r.end) - max(p[1], r.start) > 0 for p in planted)
    assert matched / len(df) > 0.9
    assert (df["pvalue"] <= pvalue).all() and (df["end"] - df["start"] <= 30).all()
    assert np.sign(df["score"]).tolist() == [1 if s == "+" else -1 for s in df["sign"]]


def test_null_p_values() -> None:
    rng = np.random.default_rng(1)
    pp = rng.laplace(0, 1, size=(200, 100))
    spans = sample_span_sums(pp, range(1, 3), 10**6, rng)
    lap = LaplaceNull.fit(spans)
    emp = EmpiricalNull.fit(spans)
    # a sample of the spans (above max_spans) estimates the same null
    sub = LaplaceNull.fit(sample_span_sums(pp, range(1, 3), 5000, rng))
    assert abs(sub.scale[2] / lap.scale[2] - 1) < 0.05
    # on Laplace data both nulls agree on tail probabilities of single positions
    for q in (2.0, 4.0):
        assert abs(lap.sf(np.array([q]), 1)[0] - np.mean(pp > q)) < 0.01
        assert abs(emp.sf(np.array([q]), 1)[0] - np.mean(pp > q)) < 0.01
    assert abs(lap.sf(np.array([lap.isf(0.01, 2)]), 2)[0] - 0.01) < 1e-9


def test_seqlet_params_checked() -> None:
    attr, _ = _attr(n=10)
    with pytest.raises(SeqlanternError, match="null"):
        call_seqlets(attr, list("abcdefghij"), np.arange(10), SeqletParams(null="nope"))


def test_artifact_matcher_partial_and_mismatched() -> None:
    arts = read_artifacts(ARTIFACTS)
    assert {"truseq_read1_3prime_adapter", "nextera_tn5_mosaic_end", "poly_a"} <= {
        a.name for a in arts
    }
    m = ArtifactMatcher(arts)
    rng = np.random.default_rng(0)
    read = list(random_dna(40, rng) + TRUSEQ_READ1_ADAPTER[:20])
    read[47] = "A" if read[47] != "A" else "C"  # a sequencing error inside the adapter
    hit = m.best("".join(read))
    assert hit is not None and hit.name == "truseq_read1_3prime_adapter"
    assert hit.query_end == 60 and hit.query_start <= 41 and hit.score >= 14
    # reverse strand and poly-T (poly-A on the other strand)
    from seqlantern.encode import reverse_complement

    hit = m.best(
        random_dna(20, rng) + reverse_complement(TRUSEQ_READ1_ADAPTER) + random_dna(10, rng)
    )
    assert hit is not None and hit.strand == "-" and hit.score >= 30
    hit = m.best(random_dna(20, rng) + "T" * 16 + random_dna(20, rng))
    assert hit is not None and hit.name == "poly_a" and hit.score >= 16
    # random sequence scores far below the artifact threshold (12)
    scores = [getattr(m.best(random_dna(50, rng)), "score", 0) for _ in range(200)]
    assert np.mean(np.array(scores) >= 12) < 0.02


def test_null_median_is_numpys() -> None:
    """The Laplace null's one-partition median equals np.median (odd and even counts),
    so fitted nulls are unchanged; an empty sample gives NaN, not an error."""
    from seqlantern.seqlets import _median

    rng = np.random.default_rng(7)
    for n in (1, 2, 3, 4, 101, 4890):
        v = rng.laplace(size=n)
        assert _median(v) == np.median(v)
        assert _median(np.abs(v - _median(v))) == np.median(np.abs(v - np.median(v)))
    assert np.isnan(_median(np.zeros(0)))


def test_one_length_span_sums_and_table_order() -> None:
    """The window length's span sums alone (fitted before the calls) are exactly that
    length's entry of all lengths; the seqlet table's single-key sort is the lexsort."""
    from seqlantern.seqlets import _draw, _frame, _span_sums

    rng = np.random.default_rng(3)
    pp = rng.laplace(0, 1, size=(300, 80)).astype(np.float32)
    for max_spans in (10**6, 5000):  # every span, then a sample
        draw = _draw(pp, max_spans, np.random.default_rng(1))
        every = _span_sums(pp, range(3, 12), draw)
        assert set(every) == set(range(3, 12))
        for ell in (3, 7, 11):
            assert np.array_equal(_span_sums(pp, range(ell, ell + 1), draw)[ell], every[ell])
    n = 500
    a = {"track": rng.integers(0, 40, n), "sign": rng.choice([-1, 1], n),
         "start": rng.integers(0, 60, n), "score": rng.normal(size=n),
         "max_abs": rng.random(n), "pvalue": rng.random(n)}  # fmt: skip
    a["end"] = a["start"] + rng.integers(5, 20, n)
    a["start"][:50] = a["start"][50:100]  # equal keys: the sort must be stable
    a["end"][:50], a["track"][:50] = a["end"][50:100], a["track"][50:100]
    names = [f"s{i}" for i in range(40)]
    rows = rng.permutation(40) * 1000
    df = _frame(a, names, rows)
    order = np.lexsort((a["end"], a["start"], rows[a["track"]]))
    assert df["score"].tolist() == a["score"][order].tolist()
    assert df["seqlet_id"].tolist() == [
        f"{names[t]}:{s}-{e}" for t, s, e in zip(a["track"][order], a["start"][order],
                                                a["end"][order], strict=True)]  # fmt: skip
    # rows too large for one key fall back to the lexsort itself
    big = _frame(a, names, rows + 2**61)
    assert big["score"].tolist() == df["score"].tolist()
