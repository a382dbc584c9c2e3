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
    import warnings

    tr = np.sort(train_rows)
    if len(tr) > max_train_rows:
        tr = np.sort(np.random.default_rng(seed).choice(tr, max_train_rows, replace=False))
    va, ev = np.sort(valid_rows), np.sort(eval_rows)
    ftr, fva, fev = (_features(x, r, ks) for r in (tr, va, ev))
    mu = ftr.mean(axis=0)
    sd = ftr.std(axis=0)
    sd[sd == 0] = 1.0
    ftr, fva, fev = ((f - mu) / sd for f in (ftr, fva, fev))
    preds = np.zeros((len(ev), y.shape[1]), dtype=np.float64)
    with warnings.catch_warnings():
        # small penalties on more k-mers than rows are ill-conditioned by design; the
        # validation loss then rejects them, so the solver's warning is noise here
        warnings.simplefilter("ignore")
        _fit_targets(ftr, fva, fev, y, tr, va, preds, task)
    return preds.astype(np.float32)


def _fit_targets(
    ftr: np.ndarray,
    fva: np.ndarray,
    fev: np.ndarray,
    y: np.ndarray,
    tr: np.ndarray,
    va: np.ndarray,
    preds: np.ndarray,
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
        if task == "binary":
            preds[:, j] = best_model.predict_proba(fev)[:, 1]
        else:
            preds[:, j] = best_model.predict(fev)


def describe(ks: Sequence[int] = DEFAULT_KS, task: str = "regression") -> str:
    """Short name of the baseline used in tables (``kmer_ridge_1-6``)."""
    kind = "logistic" if task == "binary" else "ridge"
    return f"kmer_{kind}_{min(ks)}-{max(ks)}"
