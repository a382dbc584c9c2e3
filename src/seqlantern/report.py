"""Self-contained HTML report (figures embedded as base64 PNG, opens offline).

Sections: model metrics and learning curve; evaluation against truth when there is one;
matched motifs (aggregate attribution logo beside the database logo, with counts);
the artifact panel (which artifacts, how many sequences, mean attribution share, where
along the sequence); example sequences with their attribution tracks; the run's config.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqlantern.encode import read_index
from seqlantern.io import RowSource, atomic_outputs, load_npy, read_tsv
from seqlantern.motifs import Motif, information_content, read_motifs


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    _plt().close(fig)
    return "<img src='data:image/png;base64," + base64.b64encode(buf.getvalue()).decode() + "'/>"


def _logo(ax: Any, mat: np.ndarray, title: str) -> None:
    import logomaker

    df = pd.DataFrame(mat, columns=list("ACGT"))
    logomaker.Logo(df, ax=ax, color_scheme="classic")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])


def aggregate_motif_attribution(
    group: pd.DataFrame, motif: Motif, attr: RowSource, attr_row: dict[int, int]
) -> np.ndarray:
    """Mean attribution (W, 4) of a motif's elements, aligned in the motif's orientation.

    Elements matched on the minus strand are reverse-complemented first, so every instance
    adds to the same motif column and base.
    """
    w = motif.width
    total = np.zeros((w, 4))
    count = np.zeros(w)
    for r in group.itertuples(index=False):
        a = np.asarray(attr[attr_row[int(r.row)]])  # (4, L)
        off, start = int(r.motif_offset), int(r.start)
        for c in range(w):
            if r.strand == "-":
                p = start + (w - 1 - c) - off
            else:
                p = start + c - off
            if 0 <= p < a.shape[1]:
                col = a[:, p][::-1] if r.strand == "-" else a[:, p]
                total[c] += col
                count[c] += 1
    return total / np.maximum(count, 1)[:, None]


def _span_matrix(
    members: pd.DataFrame, attr: RowSource, attr_row: dict[int, int], width: int = 30
) -> np.ndarray | None:
    """Mean attribution (w, 4) of elements aligned at their start (for logos).

    ``w`` is the longest member (at most ``width``); a member near the sequence's end
    adds only the columns it has (no element is dropped for lack of room: artifacts of a
    3' flank are exactly those).
    """
    if members.empty:
        return None
    w = int(min(width, (members["end"] - members["start"]).max()))
    total, count = np.zeros((w, 4)), np.zeros(w)
    for r in members.head(200).itertuples(index=False):
        a = np.asarray(attr[attr_row[int(r.row)]])[:, int(r.start) : int(r.start) + w]
        total[: a.shape[1]] += a.T
        count[: a.shape[1]] += 1
    return total / np.maximum(count, 1)[:, None] if count.any() else None


def _table(df: pd.DataFrame) -> str:
    """An HTML table that scrolls sideways inside the page when it is too wide; a missing
    value shows as a dash (explained once, at the end of the report), never as NaN."""
    return ("<div class='tw'>"
            + df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, classes="t",
                         na_rep="–")
            + "</div>")  # fmt: skip


class _Selected:
    """Rows ``rows`` of a one-hot source, read lazily in slices (a RowSource)."""

    def __init__(self, x: Any, rows: np.ndarray) -> None:
        self.x, self.rows = x, rows
        self.shape = (len(rows), *x.shape[1:])
        self.dtype = np.dtype(np.float32)
        self.ndim = len(self.shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: Any) -> Any:
        want = np.atleast_1d(self.rows[key])
        order = np.argsort(want, kind="stable")
        out = np.empty((len(want), *self.shape[1:]), dtype=np.float32)
        out[order] = np.asarray(self.x[want[order]])
        return out


def _trust_section(
    metrics: str | Path | None,
    calibration: str | Path | None,
    methods: str | Path | None,
    debias: str | Path | None,
    artifacts: list[str] | None,
    constant: str | Path | None,
    fdr: float,
    x: Any,
    idx: pd.DataFrame,
    attr: Any,
    preds: pd.DataFrame,
    el: pd.DataFrame,
) -> str:
    from seqlantern.artifacts import read_artifacts
    from seqlantern.constant import read_constant
    from seqlantern.debias import find_artifact_spans
    from seqlantern.trust import (
        artifact_check,
        artifact_reliance,
        calls_check,
        load_optional,
        model_check,
        panel_html,
        saturation_check,
        verdict,
    )

    rows = preds["row"].to_numpy(dtype=np.int64)
    reliance = None
    regions = read_constant(constant) if constant and Path(constant).is_file() else []
    if artifacts or regions:
        lib = read_artifacts(*artifacts) if artifacts else []
        kinds = ("adapter", "primer", "vector", "artifact", "constant")
        spans = find_artifact_spans(
            _Selected(x, rows), idx.iloc[rows].reset_index(drop=True), lib, regions, kinds=kinds
        )
        reliance = artifact_reliance(attr, np.arange(len(rows)), spans, int(x.shape[2]))
    n_art = int((el["label"] == "artifact").sum()) if "label" in el.columns else 0
    cal = load_optional(calibration, "seqlet calibration")
    checks = (
        model_check(load_optional(metrics, "metrics"))
        + calls_check(cal, fdr=fdr, n_calls=len(el))
        + saturation_check(load_optional(methods, "method comparison"))
        + artifact_check(reliance, load_optional(debias, "debias comparison"), n_art)
    )
    level, line = verdict(checks)
    print(f"[report] trust verdict ({level}): {line}", flush=True)
    for c in checks:
        print(f"[report]   {c.name}: {c.level}: {c.message}", flush=True)
    return panel_html(checks, reliance, cal)


DEBIAS_MIN_SEQUENCES = 10


def _debias_html(table: pd.DataFrame) -> str:
    """The debias comparison, or one line saying why there was nothing to debias.

    With a handful of attributed sequences carrying an artifact span, the before/after
    shares and drops are noise (a relative reduction of 2.8 from a drop of 0.0004), and a
    table would read as a finding.
    """
    d = dict(zip(table["metric"], pd.to_numeric(table["before"], errors="coerce"), strict=True))
    n = int(d.get("sequences_with_artifact", 0) or 0)
    if n < DEBIAS_MIN_SEQUENCES:
        line = (f"Debias comparison not shown: only {n} attributed sequence(s) carry an "
                "adapter, primer or vector span, so there is nothing to debias (constant "
                "flanks are never masked: every input carries them).")  # fmt: skip
        print(f"[report] {line}", flush=True)
        return f"<p>{line}</p>"
    return (
        "<p>Debiased model (artifact spans neutralised in every training input, "
        "retrained with the same settings; the same sequences attributed): attribution "
        "share on artifact spans and accuracy before/after.</p>" + _table(table)
    )


def _constant_html(constant: str | Path | None, reliance: str | Path | None) -> str:
    """Every constant region of the library, with the model's measured reliance on it.

    Listed whether or not any element lies on it: a flank every input carries rarely
    yields seqlets, yet the model may still use it.
    """
    if not constant or not Path(constant).is_file():
        return ""
    from seqlantern.constant import read_constant

    regions = read_constant(constant)
    if not regions:
        return ("<p>Constant regions: none (no position where most inputs carry the same "
                "base).</p>")  # fmt: skip
    tab = pd.DataFrame({
        "name": [r.name for r in regions],
        "position": [f"bases {r.start + 1}-{r.end} from the record's "
                     + ("start" if r.anchor == "start" else "end") for r in regions],
        "sequence": [r.sequence for r in regions],
        "share": [r.share for r in regions], "coverage": [r.coverage for r in regions],
    })  # fmt: skip
    caption = ("<p>Constant regions of the library (<code>find_constant</code>): sequence "
               "that most inputs carry at the same place (cloning flanks, primers, "
               "barcodes). <i>share</i>: the smallest per-position share of the majority "
               "base; <i>coverage</i>: share of inputs that reach the region.")  # fmt: skip
    if reliance and Path(reliance).is_file():
        rel = read_tsv(reliance, what="constant reliance")
        keep = ["name", "sequences", "ablation_effect", "ablation_low", "ablation_high",
                "insertion_effect", "insertion_low", "insertion_high", "ablation_in_sd",
                "relied_on"]  # fmt: skip
        tab = tab.merge(rel[[c for c in keep if c in rel.columns]], on="name", how="left")
        caption += (" <i>ablation</i>: prediction drop when the region is replaced by "
                    "random bases in attributed sequences; <i>insertion</i>: prediction gain "
                    "when it is written into neutral (shuffled) backgrounds; 95% intervals; "
                    "<i>ablation_in_sd</i>: the drop in standard deviations of the "
                    "predictions. "
                    "<i>relied_on</i>: either interval excludes 0: the model uses the "
                    "region, which cannot be biology.")  # fmt: skip
    return caption + "</p>" + _table(tab)


def render_report(
    out: str | Path,
    *,
    elements: str | Path,
    index: str | Path,
    onehot: str | Path,
    attributions: str | Path,
    predictions: str | Path,
    motifs: str | Path,
    metrics: str | Path | None = None,
    curve: str | Path | None = None,
    evaluation: str | Path | None = None,
    config: str | Path | None = None,
    groups: str | Path | None = None,
    dataset: str | Path | None = None,
    debias: str | Path | None = None,
    methods: str | Path | None = None,
    curves: str | Path | None = None,
    erf: str | Path | None = None,
    erf_profile: str | Path | None = None,
    calibration: str | Path | None = None,
    artifacts: list[str] | None = None,
    constant: str | Path | None = None,
    fdr: float = 0.1,
    constant_reliance: str | Path | None = None,
    debias_spans: str | Path | None = None,
    debias_min_share: float = 0.01,
    examples: int = 6,
    top_motifs: int = 12,
) -> None:
    """Write the HTML report (atomically).

    The first section is the trust panel (:mod:`seqlantern.trust`): the model against
    its k-mer baseline, the seqlet calls against shuffled controls (``calibration``),
    gradient x input against ISM (``methods``) and the attribution on every exact hit of
    the ``artifacts`` libraries and on the ``constant`` regions (``find-constant``) in the
    attributed sequences; its verdict is also printed (the rule's log).
    """
    plt = _plt()
    el = read_tsv(elements, what="elements", ints=("start", "end", "row", "motif_offset"),
                  floats=("score", "motif_qvalue", "pvalue"))  # fmt: skip
    for c in ("effect", "effect_low", "effect_high"):
        if c in el.columns:
            el[c] = pd.to_numeric(el[c], errors="coerce")
    idx = read_index(index)
    x = load_npy(onehot, what="one-hot")
    attr = load_npy(attributions, what="attribution")
    preds = read_tsv(predictions, what="predictions", ints=("row",))
    attr_row = {int(r): i for i, r in enumerate(preds["row"])}
    db = {m.id: m for m in read_motifs(motifs)}
    parts = ["<h1>seqlantern report</h1>"]
    n_seq = len(preds)
    parts.append(_trust_section(metrics, calibration, methods, debias, artifacts, constant,
                                fdr, x, idx, attr, preds, el))  # fmt: skip
    counts = el["label"].value_counts()
    parts.append(
        f"<p>{n_seq} sequences attributed; {len(el)} elements: "
        + ", ".join(f"<b>{counts.get(k, 0)}</b> {k}" for k in ("motif", "artifact", "unexplained"))
        + "</p>"
    )
    if "decision" in el.columns:
        dc = el["decision"].value_counts()
        n_short = int((el["shortcut"].astype(str) == "True").sum())
        parts.append(
            "<p>Decision (match + ablation effect): "
            + ", ".join(f"<b>{dc.get(k, 0)}</b> {k}" for k in ("plausible", "artifact",
                                                                 "junction", "unexplained"))
            + f"; <b>{n_short}</b> artifact elements are shortcuts (the prediction depends "
            "on them).</p>"
        )  # fmt: skip
    # attribution methods compared: which map to trust, on evidence
    if methods and Path(methods).is_file():
        mt = read_tsv(methods, what="method comparison")
        parts.append(
            "<h2>Attribution methods compared</h2><p>Same model, same sequences. "
            "Deletion/insertion gain: area between the random-order curve and the map-order "
            "curve (higher = more faithful); stability: correlation of maps under reverse "
            "complement, 1-5 bp shifts and 3 mutations away from the top positions; ISM "
            "agreement: top-10 overlap and sign disagreement with in-silico mutagenesis. "
            "Rows are ranked by deletion gain.</p>" + _table(mt))  # fmt: skip
        gx = mt[mt["method"] == "gradient_x_input"]
        if len(gx):
            ov = float(gx["ism_topk_overlap"].iloc[0])
            dis = float(gx["ism_sign_disagreement"].iloc[0])
            flag = ov < 0.5 or dis > 0.2
            parts.append(
                f"<p><b>Saturation check: {'WARNING' if flag else 'ok'}.</b> Gradient x input "
                f"and ISM share {ov:.0%} of their top-10 positions and disagree in sign on "
                f"{dis:.0%} of them"
                + (": the model is saturated or strongly non-linear here, so gradient maps "
                   "are unreliable; prefer ISM or expected gradients.</p>" if flag
                   else ".</p>"))  # fmt: skip
        if curves and Path(curves).is_file():
            cv = read_tsv(curves, what="faithfulness curves", floats=("fraction", "prediction"))
            fig, axes = plt.subplots(1, 2, figsize=(10, 3))
            for ax, curve in zip(axes, ("deletion", "insertion"), strict=True):
                for k, (meth, g) in enumerate(cv[cv["curve"] == curve].groupby("method")):
                    mg = g[g["order"] == "map"].sort_values("fraction")
                    ax.plot(mg["fraction"], mg["prediction"], label=meth, color=f"C{k}")
                rg = cv[(cv["curve"] == curve) & (cv["order"] == "random")]
                rg = rg[rg["method"] == rg["method"].iloc[0]].sort_values("fraction")
                ax.plot(rg["fraction"], rg["prediction"], "k--", label="random order")
                ax.set_xlabel(
                    f"fraction of positions {'deleted' if curve == 'deletion' else 'inserted'}"
                )
                ax.set_ylabel("mean prediction")
                ax.set_title(curve)
            axes[1].legend(fontsize=7)
            parts.append(_png(fig))
        if erf and erf_profile and Path(erf_profile).is_file():
            pr = read_tsv(erf_profile, what="receptive field", ints=("block", "offset"),
                          floats=("gradient",))  # fmt: skip
            fig, ax = plt.subplots(figsize=(6, 2.2))
            for b, g in pr.groupby("block"):
                ax.plot(g["offset"], g["gradient"] / max(g["gradient"].max(), 1e-12),
                        label=f"block {b}")  # fmt: skip
            ax.set_xlabel("offset from the unit's centre (bp)")
            ax.set_ylabel("mean |gradient| (scaled)")
            ax.set_title("effective receptive field")
            ax.legend(fontsize=7)
            parts.append(_table(read_tsv(erf, what="receptive field")) + _png(fig))
    # groups first: what a biologist reads before single elements
    gt = None
    if groups and Path(groups).is_file():
        gt = read_tsv(groups, what="groups",
                      floats=("mean_score", "median_qvalue", "match_qvalue"))  # fmt: skip
        for c in gt.columns:
            if c.startswith(("effect", "insertion")):
                gt[c] = pd.to_numeric(gt[c], errors="coerce")
        parts.append("<h2>Element groups</h2><p>Known motifs, artifacts, then de novo clusters "
                     "of unexplained elements; logos below.</p>" + _table(gt.head(60)))  # fmt: skip
    # artifacts and shortcuts first: what the model relies on that is not biology
    parts.append("<h2>Artifacts and shortcuts</h2>")
    parts.append(_constant_html(constant, constant_reliance))
    art = el[el["label"] == "artifact"]
    if dataset and Path(dataset).is_file():
        ds = read_tsv(dataset, what="dataset")
        d = dict(zip(ds["metric"], ds["value"], strict=True))
        share = float(d.get("share_of_top_decile_signal_on_artifacts", "nan"))
        decided = d.get("artifact_decisions", d.get("artifact_elements", 0))
        parts.append(
            f"<p><b>{float(share) * 100:.1f}%</b> of the predicted signal of the top decile "
            f"(prediction above neutral shuffled backgrounds, "
            f"{int(float(d.get('top_decile_sequences', 0)))} "
            f"sequences, {int(float(d.get('top_decile_with_artifact', 0)))} with an artifact "
            "element) disappears when every artifact span is shuffled: the model's reliance "
            f"on artifacts. Shortcut elements: <b>{int(float(d.get('shortcut_elements', 0)))}"
            f"</b> of {int(float(decided or 0))} "
            "elements decided artifact or junction (the prediction depends on their artifact "
            "part).</p>"
        )  # fmt: skip
    if debias and Path(debias).is_file():
        parts.append(_debias_html(read_tsv(debias, what="debias comparison")))
    elif debias_spans and Path(debias_spans).is_file():
        sp = read_tsv(debias_spans, what="artifact spans", ints=("row",))
        n_rows = int(sp["row"].nunique()) if len(sp) else 0
        line = (f"Debias not run: {n_rows} of {len(idx)} inputs ({n_rows / max(len(idx), 1):.2%}) "
                "carry an adapter, primer or vector span, below debias.min_share "
                f"({debias_min_share:.0%}): a retrained model would differ from this one by "
                "chance alone. Constant flanks are never masked (every input carries them; "
                "see the constant regions above).")  # fmt: skip
        print(f"[report] {line}", flush=True)
        parts.append(f"<p>{line}</p>")
    if art.empty:
        parts.append("<p>No element matched an artifact source.</p>")
    else:
        total_abs = {}
        for row in art["row"].unique():
            total_abs[row] = float(np.abs(np.asarray(attr[attr_row[int(row)]])).sum())
        art = art.assign(share=[abs(s) / max(total_abs[r], 1e-12)
                                for s, r in zip(art["score"], art["row"], strict=True)]
                   )  # fmt: skip
        aggs = {"elements": ("name", "size"), "sequences": ("name", "nunique"),
               "mean_attribution": ("score", "mean"),
               "mean_attribution_share": ("share", "mean")}  # fmt: skip
        if "effect" in art.columns:
            art = art.assign(shortcut=art["shortcut"].astype(str) == "True")
            aggs.update({"mean_effect": ("effect", "mean"), "shortcuts": ("shortcut", "sum")})
        tab = (art.groupby(["artifact_name", "artifact_kind"]).agg(**aggs)
               .reset_index().sort_values("elements", ascending=False))  # fmt: skip
        tab["share_of_attributed_sequences"] = tab["sequences"] / n_seq
        parts.append(_table(tab))
        if gt is not None and "effect" in gt.columns:
            ga = gt[gt["label"] == "artifact"][["group", "elements", "effect", "effect_low",
                                                "effect_high", "insertion_effect",
                                                "insertion_low", "insertion_high",
                                                "shortcut"]]  # fmt: skip
            parts.append(
                "<p>Per artifact group: ablation effect (prediction drop when the "
                "span is shuffled) and insertion effect (gain when inserted into "
                "neutral backgrounds), with 95% intervals.</p>" + _table(ga)
            )
        fig, ax = plt.subplots(figsize=(6, 2))
        ax.hist(art["start"], bins=40, range=(0, x.shape[2]), color="firebrick")
        ax.set_xlabel("artifact element start (bp along the sequence)")
        ax.set_ylabel("elements")
        parts.append(_png(fig))
        for name in tab["artifact_name"].head(4):
            members = art[art["artifact_name"] == name]
            agg_m = _span_matrix(members, attr, attr_row)
            if agg_m is not None:
                fig, ax = plt.subplots(figsize=(6, 1.5))
                _logo(ax, agg_m, f"{name}: mean attribution of {len(members)} elements")
                parts.append(_png(fig))
    # model
    parts.append("<h2>Model</h2>")
    if metrics and Path(metrics).is_file():
        parts.append(
            "<p>Test metrics of the model and of the k-mer baseline fitted on the same "
            "split (rows <code>kmer_*</code>).</p>" + _table(read_tsv(metrics))
        )
    if "duplicate_of" in idx.columns:
        n_dup = int((idx["duplicate_of"].fillna("").astype(str) != "").sum())
        if n_dup:
            parts.append(
                f"<p>{n_dup} records repeat another record's sequence or its reverse "
                "complement; each was kept in the split of the record it repeats "
                "(index column <code>duplicate_of</code>).</p>"
            )
    else:
        parts.append("<p>Model loaded from a checkpoint: no training metrics in this run.</p>")
    if curve and Path(curve).is_file():
        parts.append("<img src='data:image/png;base64,"
                     + base64.b64encode(Path(curve).read_bytes()).decode() + "'/>")  # fmt: skip
    # evaluation
    if evaluation and Path(evaluation).is_file():
        ev = read_tsv(evaluation)
        parts.append("<h2>Evaluation against planted truth</h2>")
        parts.append(_table(ev[~ev["metric"].str.contains(":")]))
        parts.append("<details><summary>per motif</summary>"
                     + _table(ev[ev["metric"].str.contains(":")]) + "</details>")  # fmt: skip
    # motifs
    parts.append("<h2>Matched motifs</h2>")
    mot = el[el["label"] == "motif"]
    if mot.empty:
        parts.append("<p>No element matched a database motif.</p>")
    by_cluster = "motif_cluster" in mot.columns and bool(
        (~mot["motif_cluster"].fillna("NA").astype(str).isin(["NA", "", "nan"])).any()
    )
    key = mot["motif_name"].astype(str)
    if by_cluster:  # motifs without a cluster keep their own name
        cl = mot["motif_cluster"].fillna("NA").astype(str)
        key = cl.where(~cl.isin(["NA", "", "nan"]), key)
    mot = mot.assign(_key=key)
    rows = []
    for k, g in mot.groupby("_key", sort=False):
        counts = g["motif_id"].value_counts(sort=False)
        best = sorted(counts.index, key=lambda m: (-counts[m], str(m)))[0]
        rows.append({"name": k, "best_member": best,
                     "best_member_name": g.loc[g["motif_id"] == best, "motif_name"].iloc[0],
                     "members_matched": int(g["motif_id"].nunique()),
                     "elements": len(g), "sequences": g["name"].nunique(),
                     "mean_attribution": g["score"].mean(),
                     "median_match_qvalue": g["motif_qvalue"].median()})  # fmt: skip
    summary = pd.DataFrame(
        rows,
        columns=[
            "name",
            "best_member",
            "best_member_name",
            "members_matched",
            "elements",
            "sequences",
            "mean_attribution",
            "median_match_qvalue",
        ],
    )
    summary = summary.sort_values(["elements", "name"], ascending=[False, True], kind="stable")
    if not summary.empty:
        parts.append(
            "<p>One row per "
            + (
                "archetype cluster of the motif database (redundant motifs of one "
                "specificity together; <i>best_member</i>: the motif most of its elements "
                "match)"
                if by_cluster
                else "database motif"
            )
            + ". <i>median_match_qvalue</i> is the motif-match q-value (TOMTOM, over the "
            "database), not the call FDR of the seqlets.</p>" + _table(summary.head(50))
        )
    for r in summary.head(top_motifs).itertuples(index=False):
        m = db[r.best_member]
        sel = mot[mot["motif_id"] == r.best_member]
        agg = aggregate_motif_attribution(sel, m, attr, attr_row)
        fig, axes = plt.subplots(1, 2, figsize=(9, 1.6))
        _logo(axes[0], agg, f"{r.name}: mean attribution of {len(sel)} {m.name} elements")
        _logo(axes[1], m.pwm * information_content(m.pwm)[:, None], f"{m.id} {m.name} (database)")
        parts.append(f"<h3>{html.escape(str(r.name))} (best member {html.escape(m.name)}, "
                     f"{r.best_member})</h3>" + _png(fig))  # fmt: skip
    # de novo groups of unexplained elements
    if "group" in el.columns:
        from seqlantern.groups import aligned_denovo_matrix

        denovo = el[el["group"].astype(str).str.startswith("denovo_")]
        if not denovo.empty:
            parts.append(
                "<h2>De novo groups</h2><p>Clusters of elements that matched no "
                "motif on their own (members of a cluster that matches one as a "
                "whole are labelled motif).</p>"
            )
        sizes = denovo["group"].value_counts()
        for g in sizes.index[:top_motifs]:
            members = denovo[denovo["group"] == g]
            agg = aligned_denovo_matrix(members, attr, attr_row)
            fig, ax = plt.subplots(figsize=(4.5, 1.6))
            title = f"{g}: mean attribution of {len(members)} elements"
            if gt is not None and (gt["group"] == g).any():
                r = gt[gt["group"] == g].iloc[0]
                title += f"; best match {r['match_name']} (q={r['match_qvalue']:.2g})"
            _logo(ax, agg, title)
            parts.append(f"<h3>{html.escape(str(g))}</h3>" + _png(fig))
    # examples
    parts.append("<h2>Example sequences</h2>")
    pred_cols = [c for c in preds.columns if c.startswith("pred_")]
    order = (
        np.argsort(-preds[pred_cols[0]].astype(float).to_numpy()) if pred_cols else np.arange(n_seq)
    )
    for i in order[:examples]:
        row = int(preds["row"].iloc[i])
        a = np.asarray(attr[i]).T
        fig, ax = plt.subplots(figsize=(12, 1.5))
        pred = float(preds[pred_cols[0]].iloc[i]) if pred_cols else float("nan")
        where = idx.iloc[row]
        loc = (f" {where['chrom']}:{where['start']}-{where['end']}({where['strand']})"
               if where["coords"] == "genome" else "")  # fmt: skip
        _logo(ax, a, f"{preds['name'].iloc[i]}{loc} (prediction {pred:.3g})")
        colours = {"motif": "tab:green", "artifact": "tab:red", "unexplained": "tab:grey"}
        for e in el[el["row"] == row].itertuples(index=False):
            ax.axvspan(e.start - 0.5, e.end - 0.5, color=colours[e.label], alpha=0.15)
            label = (
                e.motif_name
                if e.label == "motif"
                else e.artifact_name
                if e.label == "artifact"
                else "?"
            )
            ax.text((e.start + e.end) / 2, ax.get_ylim()[1], str(label), ha="center",
                    va="bottom", fontsize=7)  # fmt: skip
        parts.append(_png(fig))
    parts.append(
        "<p><small>A dash (–) in a table: not applicable or not measured (e.g. no "
        "interval with fewer than two values, no database comparison for a known-motif "
        "group).</small></p>"
    )
    # config
    if config and Path(config).is_file():
        parts.append(
            "<h2>Configuration</h2><pre>" + html.escape(Path(config).read_text()) + "</pre>"
        )
    style = ("<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
             "table.t{border-collapse:collapse;font-size:12px}"
             "table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd}"
             "div.tw{overflow-x:auto;max-width:100%}img{max-width:100%}"
             "</style>")  # fmt: skip
    doc = ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>seqlantern report</title>"
           + style + "</head><body>" + "\n".join(parts) + "</body></html>")  # fmt: skip
    with atomic_outputs(out) as (tmp,):
        tmp.write_text(doc)
