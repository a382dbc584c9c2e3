"""A k-mer count baseline that every trained model is compared with.

Why: a CNN that predicts no better than counting short words has not learned anything a
biologist needs an attribution map for, and its maps are noise with a confident face. A
ridge (regression) or logistic (binary) model on canonical k-mer counts of both strands
is the classic, cheap, well-understood reference (gkm-SVM's and many MPRA papers'
baseline): it sees composition and short motifs but no arrangement. Comparing on the
same split tells the user whether the CNN adds anything, and the trust panel of the
report says so in one line.

The features are counts of canonical k-mers (a k-mer and its reverse complement share a
column) for every ``k`` in ``ks``, divided by the number of valid windows so that
padded or N-rich sequences are comparable, then standardised on the training rows. The
penalty is chosen on the validation rows from a fixed grid, so the fit is deterministic.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqlantern.io import RowSource, SeqlanternError

DEFAULT_KS = (1, 2, 3, 4, 5, 6)
ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 13))
MAX_TRAIN_ROWS = 100_000


def canonical_columns(k: int) -> np.ndarray:
    """Column of every k-mer code (base-4, ``A=0 … T=3``) after merging reverse complements.

    Returns an int array of length ``4**k`` mapping a k-mer's code to its canonical
    column ``0 … n_k - 1``; a k-mer and its reverse complement map to the same column.
    """
    codes = np.arange(4**k)
    digits = (codes[:, None] // 4 ** np.arange(k - 1, -1, -1)) % 4
    rc = ((3 - digits[:, ::-1]) * 4 ** np.arange(k - 1, -1, -1)).sum(axis=1)
    canon = np.minimum(codes, rc)
    _, column = np.unique(canon, return_inverse=True)
    return column.astype(np.int64)


def kmer_features(x: np.ndarray, *, ks: Sequence[int] = DEFAULT_KS) -> np.ndarray:
    """Canonical k-mer frequencies of one-hot sequences.

    Parameters
    ----------
    x
        One-hot ``(n, 4, L)``; all-zero (N or padding) columns break k-mers.
    ks
        Word lengths.

    Returns
    -------
    float32 ``(n, sum of canonical k-mer counts)``: per sequence, each canonical k-mer's
    count divided by the number of valid windows of that length.
    """
    x = np.asarray(x)
    n, _, length = x.shape
    valid = x.sum(axis=1) > 0
    base = np.where(valid, x.argmax(axis=1), 0).astype(np.int64)
    blocks = []
    for k in ks:
        if k > length:
            raise SeqlanternError(f"k-mer baseline: k={k} is longer than the sequences ({length})")
        col = canonical_columns(k)
        width = int(col.max()) + 1
        w = length - k + 1
        code = np.zeros((n, w), dtype=np.int64)
        ok = np.ones((n, w), dtype=bool)
        for j in range(k):
            code = code * 4 + base[:, j : j + w]
            ok &= valid[:, j : j + w]
        flat = np.where(ok, np.arange(n)[:, None] * width + col[code], n * width)
        counts = np.bincount(flat.ravel(), minlength=n * width + 1)[: n * width]
        freq = counts.reshape(n, width).astype(np.float32)
        freq /= np.maximum(ok.sum(axis=1, keepdims=True), 1).astype(np.float32)
        blocks.append(freq)
    return np.concatenate(blocks, axis=1)


def _features(x: RowSource, rows: np.ndarray, ks: Sequence[int], batch: int = 4096) -> np.ndarray:
    out = [kmer_features(np.asarray(x[np.sort(rows[i : i + batch])]), ks=ks)
           for i in range(0, len(rows), batch)]  # fmt: skip
    return np.concatenate(out) if out else np.zeros((0, 0), np.float32)


@dataclass
class BaselineFit:
    """A fitted k-mer baseline as a linear model on canonical k-mer frequencies.

    ``predict(f) = ((f - mean) / scale) @ coef.T + intercept`` per target, with ``f``
    from :func:`kmer_features` (logistic: the log-odds). Kept so that the same linear
    model can be rebuilt as a differentiable module (:class:`seqlantern.models.KmerLinear`).
    """

    ks: tuple[int, ...]
    mean: np.ndarray  # (F,)
    scale: np.ndarray  # (F,)
    coef: np.ndarray  # (T, F)
    intercept: np.ndarray  # (T,)
    task: str

    def decision(self, features: np.ndarray) -> np.ndarray:
        """Linear predictions (log-odds for binary tasks), ``(n, T)``."""
        z = (features - self.mean) / self.scale
        return z @ self.coef.T + self.intercept

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Predictions (probabilities for binary tasks), ``(n, T)``."""
        d = self.decision(features)
        return 1 / (1 + np.exp(-d)) if self.task == "binary" else d


def fit_baseline_model(
    x: RowSource,
    y: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    *,
    task: str = "regression",
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 0,
    max_train_rows: int = MAX_TRAIN_ROWS,
) -> BaselineFit:
    """Fit the k-mer baseline per target (see :func:`fit_baseline` for the options)."""
    import warnings

    tr = np.sort(train_rows)
    if len(tr) > max_train_rows:
        tr = np.sort(np.random.default_rng(seed).choice(tr, max_train_rows, replace=False))
    va = np.sort(valid_rows)
    ftr, fva = (_features(x, r, ks) for r in (tr, va))
    mu = ftr.mean(axis=0)
    sd = ftr.std(axis=0)
    sd[sd == 0] = 1.0
    ftr, fva = ((f - mu) / sd for f in (ftr, fva))
    coef = np.zeros((y.shape[1], ftr.shape[1]))
    intercept = np.zeros(y.shape[1])
    with warnings.catch_warnings():
        # small penalties on more k-mers than rows are ill-conditioned by design; the
        # validation loss then rejects them, so the solver's warning is noise here
        warnings.simplefilter("ignore")
        _fit_targets(ftr, fva, y, tr, va, coef, intercept, task)
    return BaselineFit(ks=tuple(ks), mean=mu.astype(np.float64), scale=sd.astype(np.float64),
                       coef=coef, intercept=intercept, task=task)  # fmt: skip


def predict_baseline(fit: BaselineFit, x: RowSource, rows: np.ndarray) -> np.ndarray:
    """Predictions of a fitted baseline for ``np.sort(rows)``, float32 ``(n, T)``."""
    return fit.predict(_features(x, np.sort(np.asarray(rows)), fit.ks)).astype(np.float32)


def fit_baseline(
    x: RowSource,
    y: np.ndarray,
    train_rows: np.ndarray,
    valid_rows: np.ndarray,
    eval_rows: np.ndarray,
    *,
    task: str = "regression",
    ks: Sequence[int] = DEFAULT_KS,
    seed: int = 0,
    max_train_rows: int = MAX_TRAIN_ROWS,
) -> np.ndarray:
    """Fit the k-mer baseline per target and predict ``eval_rows``.

    Parameters
    ----------
    x
        One-hot ``(N, 4, L)`` (a memory map is fine: rows are read in blocks).
    y
        Targets ``(N, T)`` for every row of ``x``.
    train_rows, valid_rows, eval_rows
        Row numbers; each is read in sorted order, and ``y`` is indexed the same way.
    task
        ``regression`` (ridge, penalty picked by validation MSE) or ``binary`` (L2
        logistic regression, penalty picked by validation log-loss).
    ks
        k-mer lengths.
    seed
        Seeds the subsample of training rows when there are more than
        ``max_train_rows`` (the baseline is a reference, not the product: its cost stays
        bounded on genome-scale libraries).

    Returns
    -------
    Predictions ``(len(eval_rows), T)`` for ``np.sort(eval_rows)`` (probabilities for
    binary tasks).
    """
    fit = fit_baseline_model(x, y, train_rows, valid_rows, task=task, ks=ks, seed=seed,
                             max_train_rows=max_train_rows)  # fmt: skip
    return predict_baseline(fit, x, np.sort(eval_rows))


def _fit_targets(
    ftr: np.ndarray,
    fva: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    coef: np.ndarray,
    intercept: np.ndarray,
    task: str,
) -> None:
    from sklearn.linear_model import LogisticRegression, Ridge

    for j in range(y.shape[1]):
        best, best_model = np.inf, None
        for alpha in ALPHAS:
            model: Ridge | LogisticRegression
            if task == "binary":
                model = LogisticRegression(C=1.0 / alpha, max_iter=2000)
                model.fit(ftr, y[tr, j])
                p = np.clip(model.predict_proba(fva)[:, 1], 1e-7, 1 - 1e-7)
                yv = y[va, j]
                loss = -np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
            else:
                model = Ridge(alpha=alpha * len(tr) / 1000.0, solver="cholesky")
                model.fit(ftr, y[tr, j])
                loss = float(np.mean((model.predict(fva) - y[va, j]) ** 2))
            if loss < best - 1e-12:
                best, best_model = loss, model
        assert best_model is not None
        coef[j] = np.ravel(best_model.coef_)
        intercept[j] = float(np.ravel(best_model.intercept_)[0])


def describe(ks: Sequence[int] = DEFAULT_KS, task: str = "regression") -> str:
    """Short name of the baseline used in tables (``kmer_ridge_1-6``)."""
    kind = "logistic" if task == "binary" else "ridge"
    return f"kmer_{kind}_{min(ks)}-{max(ks)}"
