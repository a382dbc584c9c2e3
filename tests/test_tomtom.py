"""TOMTOM comparison: exact p-values, calibration, oracle agreement."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.stats import kstest

from conftest import JASPAR
from seqlantern.motifs import Motif, read_meme, revcomp_pwm
from seqlantern.tomtom import MotifIndex, _standardise, compare, compare_many


def _tiny_db(rng: np.random.Generator) -> list[Motif]:
    return [Motif(f"M{k}", f"m{k}", rng.dirichlet(np.ones(4) * 0.5, 3)) for k in range(3)]


def _tomtom_bins(s: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """TOMTOM's integer scores, re-derived: an integer number of bins per unit from
    floor(smallest score); and each row's median bin (of its ceil(C/2)-th smallest)."""
    i_min = np.floor(s.min())
    scale = max(np.floor(n_bins / max(s.max() - i_min, 1.0)), 1.0)
    g = np.clip(np.floor((s - i_min) * scale + 0.5), 0, n_bins).astype(int)
    med = np.sort(g, axis=1)[:, (s.shape[1] + 1) // 2 - 1]
    return g, i_min + med / scale


@pytest.mark.parametrize("n_bins", [20, 20_000])
def test_pvalue_equals_brute_force_enumeration(n_bins: int) -> None:
    """A width-3 query against width-3 motifs, full overlap only: one offset per strand.

    The null is every triple of database columns (with replacement), enumerated; the
    p-value of the best of two strands is 1 - (1 - P(sum >= s*))^2. 20,000 bins make the
    sums too large for the int16 layout, so the int32 one is tested too.
    """
    rng = np.random.default_rng(0)
    motifs = _tiny_db(rng)
    db = MotifIndex.build(motifs)
    query = rng.dirichlet(np.ones(4), 3)
    res = compare_many([query], db, min_overlap=3, n_bins=n_bins)
    # independent re-derivation of the integer scores
    s = _standardise(query) @ db.std.T / 4  # (3, C)
    g, _ = _tomtom_bins(s, n_bins)
    sums = np.array([g[0, a] + g[1, b] + g[2, c]
                     for a, b, c in itertools.product(range(g.shape[1]), repeat=3)])  # fmt: skip
    for k in range(len(motifs)):
        fwd = sum(g[i, db.starts[k] + i] for i in range(3))
        rev = sum(g[i, db.starts[k + 3] + i] for i in range(3))
        sf = np.mean(sums >= max(fwd, rev))
        expected = 1 - (1 - sf) ** 2
        assert res.pvalues[0, k] == pytest.approx(expected, rel=1e-9)
        assert res.strands[0, k] == (1 if rev > fwd else 0)


def test_pvalue_over_offsets_equals_enumeration() -> None:
    """A width-4 query on width-3 motifs with min_overlap 2: four offsets per strand,
    each with its own span of query columns and medians for the overhang. The p-value
    of the best complete score s* is 1 - prod over offsets and strands of P(span sum +
    overhang medians < s*), each span's distribution enumerated."""
    rng = np.random.default_rng(4)
    motifs = _tiny_db(rng)
    db = MotifIndex.build(motifs)
    query = rng.dirichlet(np.ones(4), 4)
    res = compare_many([query], db, min_overlap=2, n_bins=20)
    s = _standardise(query) @ db.std.T / 4
    g, _ = _tomtom_bins(s, 20)
    med_b = np.sort(g, axis=1)[:, (g.shape[1] + 1) // 2 - 1]
    cols = range(g.shape[1])
    for k in range(len(motifs)):
        best, spans = -1, []
        for o in range(-3, 3):  # query column i aligns to motif column i + o
            aligned = [i for i in range(4) if 0 <= i + o < 3]
            if len(aligned) < 2:
                continue
            over = sum(med_b[i] for i in range(4) if i not in aligned)
            spans.append((aligned, over))
            for t in (k, k + 3):
                sc = sum(g[i, db.starts[t] + i + o] for i in aligned) + over
                best = max(best, sc)
        cdf = 1.0
        for aligned, over in spans:
            sums = np.array([sum(g[i, c] for i, c in zip(aligned, combo, strict=True))
                             for combo in itertools.product(cols, repeat=len(aligned))])  # fmt: skip
            cdf *= np.mean(sums + over < best) ** 2
        assert res.pvalues[0, k] == pytest.approx(1 - cdf, rel=1e-9)


@pytest.mark.parametrize("score", ["pearson", "euclidean"])
def test_pvalues_with_mixed_widths_equal_direct_convolution(score: str) -> None:
    """Motifs of five widths in mixed order, a wider query, both strands: every offset
    of every target, and the span distributions built by plain np.convolve of the
    columns' histograms (no pruning, no grouping by width). The kernel groups targets
    by width and skips sums too low to matter; neither may change a p-value, the best
    offset or the strand (a palindrome ties its strands: the forward one is reported)."""
    rng = np.random.default_rng(7)
    widths = [3, 5, 2, 4, 3, 6, 4, 2, 5, 3]
    motifs = [Motif(f"M{k}", f"m{k}", rng.dirichlet(np.ones(4) * 0.4, w))
              for k, w in enumerate(widths)]  # fmt: skip
    half = rng.dirichlet(np.ones(4) * 0.4, 2)
    motifs.append(Motif("PAL", "palindrome", np.concatenate([half, revcomp_pwm(half)])))
    widths.append(4)
    db = MotifIndex.build(motifs)
    kk, m, n_bins, min_overlap = len(motifs), 5, 30, 2
    query = rng.dirichlet(np.ones(4) * 0.5, m)
    query[2] = motifs[3].pwm[1]  # something to find
    res = compare_many([query], db, min_overlap=min_overlap, n_bins=n_bins, score=score)
    if score == "pearson":
        s = _standardise(query) @ db.std.T / 4
    else:
        s = -np.sqrt(((query[:, None, :] - db.prob[None, :, :]) ** 2).sum(-1))
    g, _ = _tomtom_bins(s, n_bins)
    med_b = np.sort(g, axis=1)[:, (g.shape[1] + 1) // 2 - 1]
    hist = [np.bincount(g[i], minlength=n_bins + 1) / g.shape[1] for i in range(m)]
    for k in range(kk):
        n = widths[k]
        need = min(min_overlap, m, n)
        best, where, spans = -1, None, []
        for t, strand in ((k, 0), (k + kk, 1)):
            for o in range(-(m - 1), n):
                aligned = [i for i in range(m) if 0 <= i + o < n]
                if len(aligned) < need:
                    continue
                over = sum(med_b[i] for i in range(m) if i not in aligned)
                if strand == 0:
                    spans.append((aligned, over))
                sc = sum(g[i, db.starts[t] + i + o] for i in aligned) + over
                if sc > best:
                    best, where = sc, (o, strand)
        cdf = 1.0
        for aligned, over in spans:
            pmf = np.ones(1)
            for i in aligned:
                pmf = np.convolve(pmf, hist[i])
            below = pmf[: max(0, min(len(pmf), best - over))].sum()
            cdf *= below**2
        assert res.pvalues[0, k] == pytest.approx(max(1 - cdf, np.finfo(float).tiny), rel=1e-9)
        assert (res.offsets[0, k], res.strands[0, k]) == where


def test_kernel_layout_groups_columns_by_width() -> None:
    """The kernel's column order: column j of target t (either strand) sits at
    kernel_start[t] + j * (number of targets of t's width), every column exactly once."""
    motifs = read_meme(JASPAR)[:200]
    db = MotifIndex.build(motifs)
    assert np.array_equal(np.sort(db.kernel_order), np.arange(len(db.prob)))
    counts = np.bincount(db.widths)
    for t in range(len(db.widths)):
        pos = db.kernel_start[t] + np.arange(db.widths[t]) * counts[db.widths[t]]
        assert np.array_equal(db.kernel_order[pos], db.starts[t] + np.arange(db.widths[t]))


def test_overhanging_columns_score_their_median() -> None:
    """Complete score: a width-5 query on a width-3 motif; with min_overlap 3 the query
    aligns only at offsets 0..-2, and the reported score adds the medians of the two
    overhanging columns: exactly (unbinned) for the best hit, from the integer scores
    (within half a bin per column) for every motif."""
    rng = np.random.default_rng(1)
    motifs = _tiny_db(rng)
    db = MotifIndex.build(motifs)
    query = rng.dirichlet(np.ones(4), 5)
    res = compare_many([query], db, min_overlap=3)
    assert set(res.overlaps[0]) == {3}
    assert set(res.offsets[0]) <= {0, -1, -2}
    s = _standardise(query) @ db.std.T / 4
    _, med = _tomtom_bins(s, 100)
    scale = np.floor(100 / max(s.max() - np.floor(s.min()), 1.0))
    best = res.hit(0).index
    for k in range(3):
        o = int(res.offsets[0, k])
        t = k + 3 * int(res.strands[0, k])
        aligned = [i for i in range(5) if 0 <= i + o < 3]
        expected = sum(s[i, db.starts[t] + i + o] for i in aligned) + sum(
            med[i] for i in range(5) if i not in aligned
        )
        if k == best:
            assert res.scores[0, k] == pytest.approx(expected, abs=1e-6)
        assert abs(res.scores[0, k] - expected) <= 5 * 0.5 / scale + 1e-6


@pytest.mark.parametrize("score", ["pearson", "euclidean"])
def test_random_and_shuffled_queries_give_uniform_pvalues(score: str) -> None:
    """Calibration against JASPAR 2026: random one-hot queries and column-shuffled JASPAR
    motifs. One random target per query keeps the p-values independent for the KS test.

    The tail is uniform (KS on p <= 0.5, and the rates at 0.05/0.01/0.001 are nominal);
    above 0.5 the p-values are conservative because a target's offsets are positively
    dependent while the max-over-offsets null treats them as independent (TOMTOM's
    choice), which can only make calls rarer.
    """
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    rng = np.random.default_rng(3)
    n = 300
    rand = [np.eye(4)[rng.integers(0, 4, rng.integers(8, 21))] for _ in range(n)]
    shuf = [ms[k].pwm[rng.permutation(ms[k].width)] for k in rng.choice(len(ms), n)]
    for queries in (rand, shuf):
        p = compare_many(queries, db, score=score).pvalues
        pick = p[np.arange(n), rng.integers(0, len(ms), n)]
        assert kstest(pick[pick <= 0.5] / 0.5, "uniform").pvalue > 0.01
        assert np.mean(pick > 0.5) >= 0.4  # conservative, never anti-conservative, above
        for alpha in (0.05, 0.01, 0.001):
            assert 0.5 * alpha <= np.mean(p <= alpha) <= 2 * alpha


def test_self_match_both_scores_and_strands() -> None:
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    for score in ("pearson", "euclidean"):
        res = compare_many([m.pwm for m in ms], db, score=score)
        first = np.array([res.hit(i).index for i in range(len(ms))])
        assert np.mean(first == np.arange(len(ms))) >= 0.99
    rng = np.random.default_rng(0)
    pick = rng.choice(len(ms), 50, replace=False)
    res = compare_many([revcomp_pwm(ms[k].pwm) for k in pick], db)
    hits = [res.hit(i) for i in range(len(pick))]
    assert all(h.index == k and h.offset == 0 for h, k in zip(hits, pick, strict=True))
    # palindromic motifs match as well on "+": most must be found on "-"
    assert np.mean([h.strand == "-" for h in hits]) >= 0.9


def test_weights_and_bad_queries() -> None:
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    ctcf = next(m for m in ms if m.name.upper() == "CTCF")
    rng = np.random.default_rng(2)
    noise = np.eye(4)[rng.integers(0, 4, 8)]
    query = np.vstack([noise, np.eye(4)[["ACGT".index(c) for c in ctcf.consensus()]], noise])
    w = np.r_[np.full(8, 0.1), np.ones(ctcf.width), np.full(8, 0.1)]
    _, weighted = compare(query, db, weights=w)
    assert ms[weighted.index].name.upper() == "CTCF" and weighted.qvalue < 1e-3
    with pytest.raises(ValueError, match="query 0"):
        compare_many([np.ones((3, 5))], db)
    with pytest.raises(ValueError, match="non-negative"):
        compare_many([np.eye(4)], db, weights=[-np.ones(4)])
    with pytest.raises(ValueError, match="score"):
        compare_many([np.eye(4)], db, score="kl")


def test_agrees_with_memelite_tomtom() -> None:
    """Oracle: memelite's TOMTOM (Euclidean, complete scores) on JASPAR-derived queries
    (noisy sub-matrices); top hits agree where memelite is confident."""
    memelite = pytest.importorskip("memelite")
    ms = read_meme(JASPAR)
    db = MotifIndex.build(ms)
    rng = np.random.default_rng(5)
    queries = []
    for k in rng.choice(len(ms), 150, replace=False):
        m = ms[k].pwm
        a = rng.integers(0, max(m.shape[0] - 6, 0) + 1)
        sub = m[a : a + rng.integers(6, 13)]
        queries.append(np.array([rng.dirichlet(r * 20 + 0.5) for r in sub]))
    p_ml = memelite.tomtom([q.T.copy() for q in queries], [m.pwm.T.copy() for m in ms])[0]
    ours = compare_many(queries, db, score="euclidean")
    top_ml = p_ml.argmin(axis=1)
    sig = p_ml[np.arange(len(queries)), top_ml] < 1e-4
    top = np.array([ours.hit(i).index for i in range(len(queries))])
    assert sig.sum() >= 50
    assert np.mean(top[sig] == top_ml[sig]) >= 0.9
