"""The seqlet kernel against a plainly written reference caller.

``_greedy_calls`` is a tuned numba kernel (window sums by repeated passes, branch-free
candidate lists, stamped masks). :func:`reference_calls` below states the same rule as
directly as possible, one seqlet at a time, and the test requires identical calls on
random maps over a grid of options: a change to extension, trimming, masking or the
candidate order makes it fail.
"""

from __future__ import annotations

import numpy as np
import pytest

from seqlantern.seqlets import _greedy_calls


def reference_calls(
    pp: np.ndarray, window: int, min_len: int, max_len: int, flank: int,
    extend_fraction: float, threshold: float, signs: tuple[int, ...],
) -> list[tuple[int, int, int, int, float, float, float]]:  # fmt: skip
    """Greedy seqlets, one track and sign at a time, written for clarity not speed.

    For b = sign x track: every ``window``-bp window whose sum reaches ``threshold`` is
    a candidate. Take the strongest candidate (leftmost on ties) that does not overlap a
    masked position; grow it one base at a time towards the neighbour (left when both
    qualify and the left one is at least as large) that is unmasked and above
    ``extend_fraction`` x the window's mean, while shorter than ``max_len``; trim ends
    that are <= 0 while longer than ``min_len``; record it; mask it and ``flank`` bases
    on each side. Repeat until no candidate is left.
    """
    n, length = pp.shape
    w = min(window, length)
    out = []
    for t in range(n):
        row = [float(v) for v in pp[t]]
        for sgn in signs:
            b = [sgn * v for v in row]
            sums = []
            for j in range(length - w + 1):
                s = row[j]
                for r in range(1, w):
                    s += row[j + r]
                sums.append(sgn * s)
            candidates = [j for j in range(length - w + 1) if sums[j] >= threshold]
            masked = [False] * length
            while True:
                free = [j for j in candidates if not any(masked[j : j + w])]
                if not free:
                    break
                best = max(free, key=lambda j: (sums[j], -j))
                start, end = best, best + w
                level = extend_fraction * max(sums[best] / w, 0.0)
                while end - start < max_len:
                    left = start > 0 and not masked[start - 1] and b[start - 1] > level
                    right = end < length and not masked[end] and b[end] > level
                    if left and (not right or b[start - 1] >= b[end]):
                        start -= 1
                    elif right:
                        end += 1
                    else:
                        break
                while end - start > min_len and b[start] <= 0:
                    start += 1
                while end - start > min_len and b[end - 1] <= 0:
                    end -= 1
                score = 0.0
                for i in range(start, end):
                    score += b[i]
                peak = max(abs(v) for v in b[start:end])
                out.append((t, sgn, start, end, score, sums[best], peak))
                for i in range(max(start - flank, 0), min(end + flank, length)):
                    masked[i] = True
    return out


def _maps(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    """Laplace background with planted blocks of both signs and a few exact ties."""
    pp = rng.laplace(0, 0.2, size=(n, length))
    for t in range(n):
        for _ in range(rng.integers(0, 5)):
            w = int(rng.integers(3, 16))
            s = int(rng.integers(0, length - w))
            pp[t, s : s + w] += rng.choice([-1, 1]) * rng.uniform(0.3, 2.0)
    pp[0, 10:20] = 1.0  # equal windows: ties broken leftmost
    return np.round(pp, 3)


@pytest.mark.parametrize(
    "window,min_len,max_len,flank,extend,threshold,signs",
    [
        (7, 5, 30, 2, 0.2, 1.0, (1, -1)),
        (7, 5, 30, 0, 0.2, 1.0, (1, -1)),
        (5, 3, 12, 4, 0.0, 0.5, (1,)),
        (9, 9, 20, 1, 0.5, 2.0, (-1,)),
        (6, 2, 40, 3, 0.1, 0.2, (-1, 1)),
        (7, 7, 7, 2, 0.2, 1.0, (1, -1)),
    ],
)
def test_kernel_equals_reference(
    window: int, min_len: int, max_len: int, flank: int, extend: float, threshold: float,
    signs: tuple[int, ...],
) -> None:  # fmt: skip
    rng = np.random.default_rng(window * 100 + flank)
    pp = _maps(rng, 60, 120)
    got = _greedy_calls(pp, window, min_len, max_len, flank, extend, threshold,
                        np.array(signs))  # fmt: skip
    kernel = list(zip(*(a.tolist() for a in got), strict=True))
    ref = reference_calls(pp, window, min_len, max_len, flank, extend, threshold, signs)
    assert len(ref) > 40  # the maps give the rule something to do
    assert [c[:4] for c in kernel] == [c[:4] for c in ref]
    np.testing.assert_allclose(np.array([c[4:] for c in kernel]),
                               np.array([c[4:] for c in ref]), rtol=0, atol=1e-12)  # fmt: skip
    # the options matter on these maps: extension and masking are exercised
    assert any(c[3] - c[2] > window for c in ref) or max_len == window
