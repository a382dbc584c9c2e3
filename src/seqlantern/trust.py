"""The trust panel: may the maps be read at all, before anything is read from them?

Attributions of a model that has not learned the biology are noise with a confident face,
and a list of "3 plausible elements" says nothing about that. Four pieces of evidence
come first in the report (and in the ``render_report`` log), each with a verdict:

1. **Model vs baseline**: the CNN's test Pearson (AUROC for binary tasks) against a
   k-mer count baseline fitted on the same split (:mod:`seqlantern.baseline`). Below
   the baseline, the CNN has learned nothing beyond composition and short words that a
   map could show.
2. **Calls vs shuffled controls**: how many seqlets pass the FDR and how many the
   controls predict to be false at several levels (``calibration.tsv``); none passing
   means the maps are not distinguishable from those of shuffled sequences.
3. **Faithfulness / saturation**: whether gradient x input agrees with in-silico
   mutagenesis on the top positions (``compare_methods``).
4. **Reliance on artifact sources**: the share of attribution that lands on every
   artifact span found in the attributed sequences (exact adapter hits, and the
   library's constant regions), against the share of positions those spans cover, per
   source, whether or not a seqlet was called on them; with the prediction drop when
   the adapters are shuffled (``debias``).

Each check gives ``ok``, ``caution`` or ``fail``; the verdict is the worst of them.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqlantern.io import RowSource, read_tsv

LEVELS = ("ok", "caution", "fail")
BELOW_BASELINE_MARGIN = 0.0  # CNN metric below baseline metric by more than this: fail
WEAK_PEARSON = 0.2
ARTIFACT_EXCESS = 0.05  # attribution share above the spans' position share: reliance
SIGNAL_CALLED = 0.5  # calls at the FDR below this share of the excess candidates: caution


@dataclass(frozen=True)
class Check:
    """One piece of evidence: its name, level (ok/caution/fail) and one-line message."""

    name: str
    level: str
    message: str


def model_check(metrics: pd.DataFrame | None) -> list[Check]:
    """CNN vs k-mer baseline, per target (``metrics.tsv`` of the train stage)."""
    if metrics is None or metrics.empty:
        return [
            Check(
                "model",
                "caution",
                "model loaded, not trained here, and not scored: no measured targets "
                "(data.targets) for outputs it names (model.targets), so its accuracy "
                "is not checked here",
            )
        ]
    if "model" not in metrics.columns:
        metrics = metrics.assign(model="cnn")
    score = "pearson" if "pearson" in metrics.columns else "auroc"
    # the network trained in this run, or a model loaded and scored (seqlantern.score)
    cnn = metrics[metrics["model"].astype(str).str.startswith(("cnn", "loaded_model"))]
    base = metrics[metrics["model"].astype(str).str.startswith("kmer")]
    out = []
    for r in cnn.itertuples(index=False):
        t = str(r.target)
        v = float(getattr(r, score))
        b = base[base["target"].astype(str) == t]
        bv = float(b[score].iloc[0]) if len(b) else float("nan")
        split = str(getattr(r, "split", "test"))
        if not math.isfinite(v):
            out.append(
                Check(
                    "model",
                    "fail",
                    f"{t}: {score} is not defined on the {split} "
                    "split (constant predictions): the model learned nothing",
                )
            )
        elif math.isfinite(bv) and v < bv - BELOW_BASELINE_MARGIN:
            out.append(
                Check(
                    "model",
                    "fail",
                    f"{t}: model below baseline ({split} {score} {v:.3f} vs "
                    f"{bv:.3f} for {b['model'].iloc[0]}): attributions are not "
                    "interpretable; they may show composition the baseline "
                    "already explains. "
                    + (
                        "A model you brought: check it was trained for this assay and "
                        "these sequences, or train one here (no model.checkpoint/"
                        "import_path)"
                        if str(r.model) == "loaded_model"
                        else "Try train.ensemble, more data, or another architecture"
                    ),
                )
            )
        elif score == "pearson" and v < WEAK_PEARSON:
            out.append(
                Check(
                    "model",
                    "caution",
                    f"{t}: weak model ({split} Pearson {v:.3f}"
                    + (f", baseline {bv:.3f}" if math.isfinite(bv) else "")
                    + "): read the maps with care",
                )
            )
        else:
            out.append(
                Check(
                    "model",
                    "ok",
                    f"{t}: {split} {score} {v:.3f}"
                    + (f" vs baseline {bv:.3f}" if math.isfinite(bv) else " (no baseline fitted)"),
                )
            )
        if "+kmer" in str(r.model):
            alone = metrics[(metrics["model"].astype(str).str.startswith("network_only:"))
                            & (metrics["target"].astype(str) == t)]  # fmt: skip
            av = float(alone[score].iloc[0]) if len(alone) else float("nan")
            out.append(
                Check(
                    "model",
                    "caution",
                    f"{t}: the network alone was below the k-mer baseline on the validation "
                    f"split ({split} {score} {av:.3f} alone), so the model blends it with the "
                    "baseline (train.kmer_fallback): its maps also carry the k-mer weights "
                    "covering each base, i.e. composition as well as motifs",
                )
            )
    return out


def calls_check(calibration: pd.DataFrame | None, *, fdr: float, n_calls: int) -> list[Check]:
    """Seqlets at the chosen FDR and the controls' estimate of false calls."""
    if calibration is None or calibration.empty:
        return [Check("calls", "caution", f"{n_calls} seqlets; no calibration table")]
    if "fdr_level" not in calibration.columns:
        return [
            Check(
                "calls",
                "caution",
                f"{n_calls} seqlets called against a null fitted on "
                "the real maps (seqlets.null_model is not shuffled): no shuffled-control "
                "estimate of false calls; use null_model: shuffled for one",
            )
        ]
    lv = calibration["fdr_level"].to_numpy(dtype=float)
    row = calibration.iloc[int(np.argmin(np.abs(lv - fdr)))]
    if "chosen" in calibration.columns and (calibration["chosen"] == "yes").any():
        # the cut-off merge-seqlets used (seqlets.extend_fdr may have raised it)
        row = calibration[calibration["chosen"] == "yes"].iloc[0]
    cut = float(row["fdr_level"])
    label = f"FDR {fdr:g}"
    if cut > fdr:
        label = f"q <= {cut:.3g} (seqlets.fdr {fdr:g} raised by seqlets.extend_fdr)"
    every = calibration.iloc[int(np.argmax(lv))]
    cand = int(every["candidates"])
    all_fdr = float(every["estimated_fdr"]) if cand else float("nan")
    ratio = (
        f"; over all {cand} candidates the controls predict {all_fdr:.0%} to be false"
        if math.isfinite(all_fdr)
        else ""
    )
    if int(row["calls"]) == 0:
        return [
            Check(
                "calls",
                "fail",
                f"no seqlet passes {label}: the maps are not distinguishable from "
                f"shuffled controls{ratio}. Try train.ensemble, more data, or "
                "seqlets.null_model: laplace (calls without a false-discovery "
                "guarantee)",
            )
        ]
    est = float(row["estimated_fdr"])
    calls = int(row["calls"])
    msg = f"{calls} seqlets pass {label} (controls estimate {est:.1%} false){ratio}"
    # candidates beyond what the controls explain: the signal the maps carry at all
    excess = cand - float(every["control_calls_per_copy"])
    level = "caution" if math.isfinite(all_fdr) and all_fdr > 0.8 else "ok"
    if excess > 0 and calls < SIGNAL_CALLED * excess:
        level = "caution"
        msg += (
            f"; the controls leave ~{excess:.0f} candidates with signal, so most of it is "
            "below the FDR cut-off: see the calibration table for the trade-off, or "
            "strengthen the model (train.ensemble, more data)"
        )
    return [Check("calls", level, msg)]


def saturation_check(methods: pd.DataFrame | None) -> list[Check]:
    """Gradient x input vs ISM on the top positions (the compare_methods table)."""
    if methods is None or "method" not in methods.columns:
        return []
    gx = methods[methods["method"] == "gradient_x_input"]
    if gx.empty or "ism_topk_overlap" not in gx.columns:
        return []
    ov = float(gx["ism_topk_overlap"].iloc[0])
    dis = float(gx["ism_sign_disagreement"].iloc[0])
    if ov < 0.5 or dis > 0.2:
        return [
            Check(
                "faithfulness",
                "caution",
                f"gradient x input and ISM share {ov:.0%} of their top-10 positions and "
                f"disagree in sign on {dis:.0%}: the model is saturated or non-linear "
                "here; prefer ISM or expected gradients",
            )
        ]
    return [
        Check(
            "faithfulness",
            "ok",
            f"gradient x input agrees with ISM ({ov:.0%} of the "
            f"top-10 positions shared, {dis:.0%} sign disagreement)",
        )
    ]


def artifact_reliance(
    attr: RowSource, rows: np.ndarray, spans: pd.DataFrame, length: int
) -> pd.DataFrame:
    """Per artifact source: attribution share on its spans vs the positions they cover.

    Parameters
    ----------
    attr
        Attributions ``(n, 4, L)``, row ``i`` for encoded row ``rows[i]``.
    rows
        Encoded row of each attribution row.
    spans
        ``row start end name kind`` (every exact artifact hit in the library).
    length
        Sequence length.

    Returns
    -------
    ``source kind sequences attribution_share position_share excess``: over the
    attributed sequences carrying the source, the share of |attribution| on its spans,
    the share of positions they cover, and the difference (an artifact-blind model
    shows about 0).
    """
    pos = {int(r): i for i, r in enumerate(rows)}
    out = []
    for (name, kind), g in spans.groupby(["name", "kind"], sort=True):
        g = g[g["row"].isin(pos)]
        if g.empty:
            continue
        on = total = 0.0
        n_on = 0
        for r, gg in g.groupby("row"):
            a = np.abs(np.asarray(attr[pos[int(r)]], dtype=np.float64)).sum(axis=0)
            mask = np.zeros(length, dtype=bool)
            for s, e in zip(gg["start"], gg["end"], strict=True):
                mask[max(int(s), 0) : min(int(e), length)] = True
            on += float(a[mask].sum())
            total += float(a.sum())
            n_on += int(mask.sum())
        n_seq = int(g["row"].nunique())
        share = on / total if total > 0 else float("nan")
        frac = n_on / (n_seq * length)
        out.append(
            {
                "source": name,
                "kind": kind,
                "sequences": n_seq,
                "attribution_share": share,
                "position_share": frac,
                "excess": share - frac,
            }
        )
    return pd.DataFrame(
        out,
        columns=["source", "kind", "sequences", "attribution_share", "position_share", "excess"],
    )


def artifact_check(
    reliance: pd.DataFrame | None, debias: pd.DataFrame | None, n_artifact_elements: int
) -> list[Check]:
    """Reliance on artifact sources from sequence-level evidence, with or without seqlets."""
    out: list[Check] = []
    drop = float("nan")
    if debias is not None and "metric" in debias.columns:
        d = debias.set_index("metric")["before"]
        drop = float(d.get("artifact_ablation_drop", float("nan")))
    if reliance is None or reliance.empty:
        return out
    for r in reliance.itertuples(index=False):
        if r.excess > ARTIFACT_EXCESS:
            unseen = n_artifact_elements == 0
            out.append(
                Check(
                    "artifacts",
                    "fail" if unseen else "caution",
                    f"{r.source} ({r.kind}, {r.sequences} sequences): "
                    f"{r.attribution_share:.0%} of their attribution on spans that "
                    f"are {r.position_share:.0%} of their positions"
                    + (
                        f", prediction drop {drop:.3g} when all artifact spans are shuffled"
                        if math.isfinite(drop)
                        else ""
                    )
                    + (
                        "; NO element was called on it: the model relies on an "
                        "artifact the element tables do not show"
                        if unseen
                        else ": the model relies on it (see Artifacts and shortcuts)"
                    ),
                )
            )
        else:
            out.append(
                Check(
                    "artifacts",
                    "ok",
                    f"{r.source} ({r.sequences} sequences): "
                    f"{r.attribution_share:.0%} of attribution on {r.position_share:.0%}"
                    " of positions, no excess",
                )
            )
    return out


def verdict(checks: list[Check]) -> tuple[str, str]:
    """Overall level and a one-line verdict naming the failed checks first."""
    if not checks:
        return "caution", "no evidence available"
    worst = max(checks, key=lambda c: LEVELS.index(c.level)).level
    if worst == "ok":
        return "ok", "maps can be read: the model beats its baseline and calls beat controls"
    bad = [c for c in checks if c.level == worst]
    head = {"fail": "DO NOT TRUST", "caution": "READ WITH CARE"}[worst]
    return worst, f"{head}: " + " | ".join(c.message for c in bad)


def load_optional(path: str | Path | None, what: str) -> pd.DataFrame | None:
    """A table, or ``None`` when the path is not given or absent."""
    if path and Path(path).is_file():
        return read_tsv(path, what=what)
    return None


def panel_html(
    checks: list[Check],
    reliance: pd.DataFrame | None,
    calibration: pd.DataFrame | None = None,
) -> str:
    """The report's first section."""
    level, line = verdict(checks)
    colour = {"ok": "#1a7f37", "caution": "#9a6700", "fail": "#cf222e"}
    rows = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td style='color:{colour[c.level]};"
        f"font-weight:bold'>{c.level}</td><td>{html.escape(c.message)}</td></tr>"
        for c in checks
    )
    out = (
        f"<section id='trust'><h2>Can these maps be trusted?</h2>"
        f"<p class='verdict' style='border-left:6px solid {colour[level]};padding:6px'>"
        f"<b>Verdict: {html.escape(line)}</b></p>"
        f"<table class='t'><tr><th>check</th><th>level</th><th>evidence</th></tr>{rows}"
        "</table>"
    )
    out += "<!--glance-->"  # the report puts its counts and top groups here
    details = ""
    if calibration is not None and not calibration.empty:
        details += (
            "<p>Seqlet calls at several false-discovery levels (the trade-off to pick "
            "from: <code>seqlets.fdr</code>, raised up to <code>seqlets.extend_fdr</code> "
            "while the added calls are that clean; the row marked <i>chosen</i> is the "
            "cut-off used); <i>estimated_fdr</i> is the share of calls "
            "the shuffled controls predict to be false.</p>"
            + calibration.to_html(index=False, classes="t", border=0, na_rep="-")
        )
    if reliance is not None and not reliance.empty:
        tab = reliance.copy()
        for c in ("attribution_share", "position_share", "excess"):
            tab[c] = tab[c].map(lambda v: f"{v:.1%}")
        details += (
            "<p>Attribution on every exact artifact hit in the attributed sequences, per "
            "source (sequence-level evidence: independent of seqlet calls).</p>"
            + tab.to_html(index=False, classes="t", border=0)
        )
    if details:
        out += (
            "<details><summary>Evidence behind the checks: seqlet calls per FDR level, "
            "attribution on artifact hits</summary>" + details + "</details>"
        )
    out += (
        "<p class='note'>Two different q-values appear below: the seqlet <i>call</i> "
        "q-value (column <code>qvalue</code> of seqlets.tsv: FDR of the call against "
        "shuffled controls) and the motif-<i>match</i> q-value (<code>motif_qvalue</code>: "
        "TOMTOM's FDR of the match to the database, given the call).</p></section>"
    )
    return out
