"""Test metrics of a model you bring, beside the k-mer baseline, when the data has
measured targets.

Why: a trained run reports its network's test Pearson/AUROC against a k-mer ridge fitted
on the same split, and the report's trust panel fails a model below that baseline (its
maps may only show composition the baseline already explains). A model loaded with
``model.checkpoint`` or ``model.import_path`` had no such check: on data it was not
trained for it can be worse than the baseline, and the maps of a model that predicts
nothing are not evidence. When ``data.targets`` is given, this stage scores the loaded
model on the run's test split (the validation split when there is no test split) and fits
the baseline on the run's training and validation splits, so the trust panel judges it
as it judges a trained one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from torch import nn

from seqlantern.baseline import describe as describe_baseline
from seqlantern.baseline import fit_baseline_model, predict_baseline
from seqlantern.encode import read_index
from seqlantern.io import SeqlanternError, load_npy, write_tsv
from seqlantern.train import metrics_table, predict, read_targets

MODEL_ROW = "loaded_model"
"""The ``model`` column of the loaded model's rows in ``metrics.tsv``."""


def pair_outputs(
    output_names: list[str] | None, n_outputs: int, columns: list[str]
) -> list[tuple[int, str]]:
    """Which model output is compared with which target column.

    Outputs named like a column of the targets table are compared with it (any order);
    unnamed outputs are compared in order with the table's columns when their numbers
    agree. Anything else pairs nothing (the caller says so and scores nothing).
    """
    if output_names:
        return [(i, n) for i, n in enumerate(output_names) if n in columns]
    if n_outputs == len(columns):
        return list(enumerate(columns))
    return []


def score_model(
    onehot: str | Path,
    index: str | Path,
    targets_tsv: str | Path,
    model: nn.Module,
    meta: dict[str, Any],
    metrics_tsv: str | Path,
    *,
    name_column: str = "name",
    task: str = "regression",
    seed: int = 0,
    baseline: bool = True,
    device: str = "cpu",
) -> pd.DataFrame:
    """Score ``model`` (as :func:`seqlantern.models.load_model` returns it) on the test
    split of ``index`` and write ``metrics.tsv`` in the train stage's layout: one row per
    compared target for the model (``model`` = :data:`MODEL_ROW`) and, with
    ``baseline``, one for the k-mer baseline fitted on the training and validation
    splits. Nothing to compare (no paired output, no test or validation rows) writes the
    header only and prints why. The targets table's columns other than ``name_column``
    are the candidates (:func:`pair_outputs`).
    """
    from seqlantern.models import n_outputs

    idx = read_index(index)
    x = load_npy(onehot, what="one-hot")
    split = idx["split"].to_numpy()
    tr, va, te = (np.flatnonzero(split == s) for s in ("train", "valid", "test"))
    eval_rows, eval_split = (te, "test") if len(te) else (va, "valid")
    if not Path(targets_tsv).is_file():
        raise SeqlanternError(f"{targets_tsv}: targets table not found (data.targets)")
    header = pd.read_csv(targets_tsv, sep="\t", nrows=0).columns
    columns = [str(c) for c in header if c != name_column]
    names = meta.get("targets")
    n_out = n_outputs(model, int(x.shape[2]))
    pairs = pair_outputs(list(names) if names else None, n_out, columns)
    empty = pd.DataFrame(columns=["model", "split", "target", "pearson" if task ==
                                  "regression" else "auroc", "epochs", "stopped"])  # fmt: skip
    if not pairs or not len(eval_rows):
        why = ("no test or validation sequences" if not len(eval_rows) else
               f"no model output ({', '.join(map(str, names or [])) or f'{n_out} unnamed'}) "
               f"matches a target column ({', '.join(columns)}); name the outputs with "
               "model.targets")  # fmt: skip
        print(f"[score] not scored: {why}", flush=True)
        write_tsv(empty, metrics_tsv)
        return empty
    used = [c for _, c in pairs]
    y = read_targets(targets_tsv, idx["name"], used, name_column=name_column, task=task)
    ysel = y[np.sort(eval_rows)]
    print(f"[score] the loaded model on {len(eval_rows)} {eval_split} sequences: "
          f"{', '.join(used)}", flush=True)  # fmt: skip
    pred = predict(model.to(device), x, eval_rows, device=device)[:, [i for i, _ in pairs]]
    metrics = metrics_table(ysel, pred, used, task)
    metrics.insert(0, "split", eval_split)
    metrics.insert(0, "model", MODEL_ROW)
    metrics["epochs"], metrics["stopped"] = 0, ""
    if baseline and len(tr) >= 10 and len(va) >= 2:
        print("[score] k-mer baseline fitted on the training and validation splits", flush=True)
        fit = fit_baseline_model(x, y, tr, va, task=task, seed=seed)
        bm = metrics_table(ysel, predict_baseline(fit, x, eval_rows), used, task)
        bm.insert(0, "split", eval_split)
        bm.insert(0, "model", describe_baseline(task=task))
        bm["epochs"], bm["stopped"] = 0, ""
        metrics = pd.concat([metrics, bm], ignore_index=True)
    elif baseline:
        print(f"[score] no baseline: too few training sequences ({len(tr)} train, "
              f"{len(va)} valid)", flush=True)  # fmt: skip
    for line in metrics.to_string(index=False).splitlines():
        print(f"[score] {line}", flush=True)
    write_tsv(metrics, metrics_tsv)
    return metrics
