"""Self-contained HTML report (figures embedded as base64 PNG, opens offline).

Answer first (see :func:`render_report` for the sections): the trust verdict, what the
model relies on (motifs by archetype cluster, de novo groups, artifacts and shortcuts),
a sortable per-element table, example sequences, diagnostics, the model, output files
and the configuration, with a table of contents.
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


def _logo(ax: Any, mat: np.ndarray, title: str, *, ylabel: str = "", ticks: Any = None) -> None:
    """A sequence logo; ``ylabel`` names the units (attribution or bits), ``ticks`` the
    positions to mark (none by default: motif columns need no ruler)."""
    import logomaker

    df = pd.DataFrame(mat, columns=list("ACGT"))
    logomaker.Logo(df, ax=ax, color_scheme="classic")
    ax.set_title(title, fontsize=9)
    if ticks is None:
        ax.set_xticks([])
    else:
        ax.set_xticks(ticks)
        ax.tick_params(axis="x", labelsize=7)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=8)


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


def _debias_skip(config: Any) -> str:
    """Why the debias retraining did not run, read from the run's configuration copy.

    The report names the one reason that applies (a loaded model, ``debias.enabled:
    false``, a per-target sub-run) rather than listing every condition, so a user knows
    which key to change, or that there is nothing to change.
    """
    import yaml

    cfg: dict[str, Any] = {}
    if config and Path(config).is_file():
        loaded = yaml.safe_load(Path(config).read_text())
        cfg = loaded if isinstance(loaded, dict) else {}
    model = cfg.get("model") or {}
    if model.get("checkpoint") or model.get("import_path"):
        return ("the model was loaded (model.checkpoint / model.import_path); debias "
                "retrains a model that this workflow trained.")  # fmt: skip
    if cfg.get("shared_dir") and cfg.get("shared_dir") != cfg.get("results_dir"):
        return ("this is one target of attribution.target: all; debias runs only in "
                "single-target runs (attribution.target: <name>).")  # fmt: skip
    if not (cfg.get("debias") or {}).get("enabled", True):
        return "debias.enabled is false in the configuration."
    return ("it needs a model trained by this workflow, debias.enabled and a single "
            "attributed target (not attribution.target: all).")  # fmt: skip


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


_SORT_JS = """
document.querySelectorAll('table.sortable th').forEach(function (th, i) {
  th.title = 'click to sort';
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0], asc = th.dataset.o !== 'a';
    th.dataset.o = asc ? 'a' : 'd';
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (x, y) {
      var a = x.cells[i].textContent, b = y.cells[i].textContent;
      var na = parseFloat(a), nb = parseFloat(b);
      var v = (!isNaN(na) && !isNaN(nb)) ? na - nb : a.localeCompare(b);
      return asc ? v : -v;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  });
});
document.querySelectorAll('input.filter').forEach(function (inp) {
  inp.addEventListener('input', function () {
    var q = inp.value.toLowerCase(), t = document.getElementById(inp.dataset.table);
    Array.prototype.forEach.call(t.tBodies[0].rows, function (r) {
      r.style.display = r.textContent.toLowerCase().indexOf(q) >= 0 ? '' : 'none';
    });
  });
});
"""

ELEMENT_TABLE_COLUMNS = [
    "name", "chrom", "genome_start", "genome_end", "start", "end", "label", "decision",
    "shortcut", "motif_cluster", "motif_name", "motif_qvalue", "artifact_name", "score",
    "pvalue", "effect", "effect_low", "effect_high", "local_estimate", "local_mismatch",
    "group", "sequence",
]  # fmt: skip


def _glance_html(gt: pd.DataFrame, n: int = 8) -> str:
    """The largest element groups, artifacts always included, beside the verdict.

    The first screen must answer "what does the model rely on, and is it biology?":
    each row gives the group, its label, size and, when measured, the prediction drop
    when its elements are shuffled (95% interval) and whether it is a shortcut.
    """
    if gt.empty:
        return ""
    gt = gt.assign(elements=pd.to_numeric(gt["elements"], errors="coerce"))
    gt = gt.sort_values("elements", ascending=False, kind="stable")
    art = gt[gt["label"] == "artifact"].head(n // 2)
    rest = gt[gt["label"] != "artifact"].head(n - len(art))
    top = pd.concat([art, rest]).sort_values("elements", ascending=False, kind="stable")
    tab = pd.DataFrame({"group": top["name"].astype(str), "label": top["label"],
                        "elements": top["elements"], "sequences": top["sequences"]})  # fmt: skip
    if "effect" in top.columns:
        tab["effect [95% CI]"] = [
            "–" if not np.isfinite(e) else f"{e:.3g} [{lo:.3g}, {hi:.3g}]"
            for e, lo, hi in zip(top["effect"], top["effect_low"], top["effect_high"],
                                 strict=True)]  # fmt: skip
        tab["shortcut"] = top["shortcut"].astype(str).map({"True": "yes", "False": "no"})
    return ("<p><b>Top groups</b> (largest first, artifact groups always shown; "
            "<i>effect</i>: prediction drop when the group's elements are shuffled; "
            "details under <a href='#motifs'>known motifs</a>, "
            "<a href='#artifacts'>artifacts</a>):</p>" + _table(tab))  # fmt: skip


def _elements_table(el: pd.DataFrame, limit: int) -> str:
    """The per-element table: sortable (click a header) and filterable, offline.

    A few lines of inline JavaScript rather than a generated site (datavzrd): the report
    stays one self-contained file that opens from a cluster's scratch space or an e-mail
    attachment, and the full table is the linked TSV.
    """
    if el.empty:
        return "<p>No elements.</p>"
    top = el.iloc[np.argsort(-el["score"].abs().to_numpy(), kind="stable")[:limit]]
    top = top[[c for c in ELEMENT_TABLE_COLUMNS if c in top.columns]]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in top.columns)

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "–" if not np.isfinite(v) else f"{v:.4g}"
        return html.escape(str(v)) if str(v) not in ("NA", "nan") else "–"

    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>"
                   for r in top.itertuples(index=False))  # fmt: skip
    what = (f"the {len(top)} with the largest |attribution| of {len(el)}" if len(top) < len(el)
            else f"all {len(el)}")  # fmt: skip
    return (f"<p>Elements: {what} (every element: <code>elements.tsv</code>, linked under "
            "Output files). Click a column header to sort; type to filter.</p>"
            "<input class='filter' data-table='elements' placeholder='filter rows' "
            "size='40'/><div class='tw tall'><table id='elements' class='t sortable'>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>")  # fmt: skip


def _example_rows(el: pd.DataFrame, preds: pd.DataFrame, n: int) -> list[tuple[int, str]]:
    """Up to ``n`` attributed sequences, each showing one of the largest groups.

    For each group in order of size (motif clusters, artifacts, de novo groups alike;
    the largest artifact group second, so that a shortcut is always shown), the sequence
    holding its strongest member, skipping sequences already shown; then the
    highest predictions fill the rest. A few top predictions alone would all show the same
    dominant element (on the demo, five of six showed the adapter).
    """
    attributed = {int(r): i for i, r in enumerate(preds["row"])}
    chosen: list[tuple[int, str]] = []
    used: set[int] = set()
    if "group" in el.columns and not el.empty:
        g = el[el["group"].astype(str) != "NA"]
        names = list(g["group"].value_counts().index)
        art = [k for k in names if str(k).startswith("artifact:")]
        if art and names.index(art[0]) > 1:  # the largest artifact group second
            names.remove(art[0])
            names.insert(1, art[0])
        for name in names:
            m = g[g["group"] == name]
            m = m.iloc[np.argsort(-m["score"].abs().to_numpy(), kind="stable")]
            for row in m["row"].astype(int):
                if row in attributed and row not in used:
                    chosen.append((attributed[row], f"strongest member of {name}"))
                    used.add(row)
                    break
            if len(chosen) >= n:
                return chosen
    pred_cols = [c for c in preds.columns if c.startswith("pred_")]
    order = (np.argsort(-preds[pred_cols[0]].astype(float).to_numpy(), kind="stable")
             if pred_cols else np.arange(len(preds)))  # fmt: skip
    for i in order:
        if len(chosen) >= n:
            break
        if int(preds["row"].iloc[i]) not in used:
            chosen.append((int(i), "high prediction"))
            used.add(int(preds["row"].iloc[i]))
    return chosen


def label_levels(starts: list[float], widths: list[float]) -> list[int]:
    """The text row (0, 1, ...) of each label so that no two labels on a row overlap.

    Labels are placed left to right; each takes the lowest row whose last label ends
    before it starts (interval-graph colouring: the fewest rows for this order).
    """
    ends: list[float] = []
    levels = [0] * len(starts)
    for i in sorted(range(len(starts)), key=lambda k: starts[k]):
        for lv, e in enumerate(ends):
            if e <= starts[i]:
                ends[lv] = starts[i] + widths[i]
                levels[i] = lv
                break
        else:
            ends.append(starts[i] + widths[i])
            levels[i] = len(ends) - 1
    return levels


def _ticks(length: int) -> np.ndarray:
    step = next((s for s in (10, 25, 50, 100, 250, 500) if length / s <= 12), 1000)
    return np.arange(0, length + 1, step)


def _section(anchor: str, title: str, body: str) -> tuple[str, str, str]:
    return anchor, title, f"<section id='{anchor}'><h2>{html.escape(title)}</h2>{body}</section>"


def _files_html(links: list[str], out: Path) -> str:
    """Relative links to the run's outputs (they sit beside ``results/report/``)."""
    import os

    items = []
    for f in links:
        rel = os.path.relpath(Path(f).resolve(), out.resolve().parent)
        items.append(f"<li><a href='{html.escape(rel)}'>{html.escape(str(f))}</a></li>")
    return ("<p>In IGV or the UCSC browser open the <code>.browser.bed</code> files or the "
            "tracks (<code>attribution.bw</code>, <code>elements.bb</code>; see the README, "
            "\"Which file to open\"); the detail BEDs and TSV tables hold every column."
            "</p><ul>"
            + "".join(items) + "</ul>")  # fmt: skip


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
    element_rows: int = 2000,
    links: list[str] | None = None,
    erf_growth: str | Path | None = None,
    erf_growth_fit: str | Path | None = None,
    patterns: str | Path | None = None,
    pattern_matrices: str | Path | None = None,
    pattern_members: str | Path | None = None,
    training_comparison: str | Path | None = None,
) -> None:
    """Write the HTML report (atomically).

    Sections, answer first: the trust verdict (:mod:`seqlantern.trust`: the model against
    its k-mer baseline, seqlet calls against shuffled controls (``calibration``), gradient
    x input against ISM (``methods``), attribution on every exact hit of the ``artifacts``
    libraries and on the ``constant`` regions); what the model relies on (motif clusters
    with logos beside their database match, de novo groups, artifacts and shortcuts with
    effects and intervals); the per-element table (sortable, filterable); example
    sequences chosen to show each large group; diagnostics (methods, ERF); the model
    (metrics, learning curve, why training stopped, truth evaluation); output files
    (``links``); the configuration. A table of contents links every section. The verdict
    is also printed (the rule's log).
    """
    plt = _plt()
    out = Path(out)
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
    n_seq = len(preds)
    sections = []
    # 1. the verdict
    trust = _trust_section(metrics, calibration, methods, debias, artifacts, constant, fdr, x,
                           idx, attr, preds, el)  # fmt: skip
    counts = el["label"].value_counts()
    glance = (
        f"<p>{n_seq} sequences attributed; {len(el)} elements: "
        + ", ".join(f"<b>{counts.get(k, 0)}</b> {k}" for k in ("motif", "artifact", "unexplained"))
        + "</p>"
    )
    if "decision" in el.columns:
        dc = el["decision"].value_counts()
        n_short = int((el["shortcut"].astype(str) == "True").sum())
        glance += (
            "<p>Decision (match + ablation effect): "
            + ", ".join(f"<b>{dc.get(k, 0)}</b> {k}" for k in ("plausible", "artifact",
                                                                 "junction", "unexplained"))
            + f"; <b>{n_short}</b> artifact elements are shortcuts (the prediction depends "
            "on them).</p>"
        )  # fmt: skip
        if "local_mismatch" in el.columns:
            n_mis = int((el["local_mismatch"].astype(str) == "True").sum())
            scale = float("nan")
            if dataset and Path(dataset).is_file():
                dsv = read_tsv(dataset, what="dataset")
                dd = dict(zip(dsv["metric"], dsv["value"], strict=True))
                # an empty run writes no value (NA or blank): no scale to state
                scale = float(pd.to_numeric(dd.get("local_effect_scale"), errors="coerce"))
            how = ("" if not np.isfinite(scale) else
                   f"Measured effects are typically <b>{scale:.2f}&times;</b> what the "
                   "gradient predicts for removing an element (1: the map's magnitudes are "
                   "faithful; below 1 it overstates effects, as an exponential first layer "
                   "does; above 1 it understates them, as saturation does). ")  # fmt: skip
            glance += (f"<p>Locality: {how}For <b>{n_mis}</b> of {len(el)} elements the "
                       "map misleads beyond that (column <code>local_mismatch</code>: "
                       "saturation or interactions at that element).</p>")  # fmt: skip
    gt = None
    if groups and Path(groups).is_file():
        gt = read_tsv(groups, what="groups",
                      floats=("mean_score", "median_qvalue", "match_qvalue"))  # fmt: skip
        for c in gt.columns:
            if c.startswith(("effect", "insertion")):
                gt[c] = pd.to_numeric(gt[c], errors="coerce")
        glance += _glance_html(gt)
    trust = (
        trust.replace("<!--glance-->", glance, 1) if "<!--glance-->" in trust else (trust + glance)
    )
    # the trust panel brings its own section and heading
    sections.append(("trust", "Can these maps be trusted?", trust))
    # 2. what the model relies on: patterns, motifs (de novo groups without patterns),
    # artifacts
    pat_html = _patterns_html(patterns, pattern_matrices, pattern_members, db,
                              int(x.shape[2]), top_motifs, plt)  # fmt: skip
    if pat_html:
        sections.append(_section("patterns", "What the model relies on: patterns", pat_html))
    sections.append(_section("motifs", "What the model relies on: known motifs",
                             _motif_html(el, db, attr, attr_row, top_motifs, plt)))  # fmt: skip
    denovo = "" if pat_html else _denovo_html(el, gt, db, attr, attr_row, top_motifs, plt)
    if denovo:
        sections.append(_section("denovo", "What the model relies on: de novo groups", denovo))
    sections.append(_section(
        "artifacts", "What the model relies on: artifacts and shortcuts",
        _artifact_html(el, gt, attr, attr_row, x, idx, n_seq, dataset, debias, debias_spans,
                       debias_min_share, constant, constant_reliance, plt, config)))  # fmt: skip
    if gt is not None:
        sections.append(_section(
            "groups", "All element groups",
            "<p>Known-motif clusters, artifacts, then de novo clusters of unexplained "
            "elements (first 60 rows; all in <code>groups.tsv</code>).</p>"
            + _table(gt.head(60))))  # fmt: skip
    # 3. per element
    sections.append(_section("elements", "Elements", _elements_table(el, element_rows)))
    sections.append(_section("examples", "Example sequences",
                             _examples_html(el, preds, idx, attr, examples, plt)))  # fmt: skip
    if training_comparison and Path(training_comparison).is_file():
        sections.append(_section("training", "Training with attributions",
                                 _training_html(training_comparison)))  # fmt: skip
    # 4. diagnostics
    diag = _diagnostics_html(methods, curves, erf, erf_profile, plt)
    diag += _erf_growth_html(erf_growth, erf_growth_fit, plt)
    if diag:
        sections.append(_section("diagnostics", "Diagnostics: attribution methods", diag))
    # 5. model
    sections.append(_section("model", "Model", _model_html(metrics, curve, evaluation, idx)))
    if links:
        sections.append(_section("files", "Output files", _files_html(links, out)))
    if config and Path(config).is_file():
        sections.append(
            _section(
                "config",
                "Configuration",
                "<pre>" + html.escape(Path(config).read_text()) + "</pre>",
            )
        )
    toc = ("<nav class='toc'><ol>"
           + "".join(f"<li><a href='#{a}'>{html.escape(t)}</a></li>" for a, t, _ in sections)
           + "</ol></nav>")  # fmt: skip
    foot = ("<p><small>A dash (–) in a table: not applicable or not measured (e.g. no "
            "interval with fewer than two values, no database comparison for a known-motif "
            "group).</small></p>")  # fmt: skip
    style = ("<style>body{font-family:sans-serif;max-width:1100px;margin:auto;padding:0 8px}"
             "table.t{border-collapse:collapse;font-size:12px}"
             "table.t td,table.t th{padding:2px 8px;border-bottom:1px solid #ddd;text-align:left}"
             "table.sortable th{cursor:pointer;position:sticky;top:0;background:#f6f8fa}"
             "div.tw{overflow-x:auto;max-width:100%}div.tall{max-height:520px;overflow-y:auto}"
             "img{max-width:100%}pre{white-space:pre-wrap;overflow-wrap:anywhere}"
             "nav.toc{background:#f6f8fa;padding:4px 12px;font-size:14px}"
             "nav.toc ol{margin:2px 0;padding:0;list-style:none;display:flex;flex-wrap:wrap}"
             "nav.toc li{margin-right:14px}h1{margin:8px 0}"
             "</style>")  # fmt: skip
    body = "<h1>seqlantern report</h1>" + toc + "\n".join(s for _, _, s in sections) + foot
    doc = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width'><title>seqlantern report</title>"
        + style
        + "</head><body>"
        + body
        + "<script>"
        + _SORT_JS
        + "</script></body></html>"
    )
    with atomic_outputs(out) as (tmp,):
        tmp.write_text(doc)


def _motif_html(
    el: pd.DataFrame,
    db: dict[str, Motif],
    attr: Any,
    attr_row: dict[int, int],
    top_motifs: int,
    plt: Any,
) -> str:
    """Motif elements by archetype cluster; single-element clusters folded into "other"."""
    mot = el[el["label"] == "motif"]
    if mot.empty:
        return "<p>No element matched a database motif.</p>"
    key = mot["motif_name"].astype(str)
    by_cluster = False
    if "motif_cluster" in mot.columns:  # motifs without a cluster keep their own name
        cl = mot["motif_cluster"].astype(object).fillna("NA").astype(str)
        has = ~cl.isin(["NA", "", "nan"])
        by_cluster = bool(has.any())
        key = cl.where(has, key)
    mot = mot.assign(_key=key)
    rows = []
    for k, g in mot.groupby("_key", sort=False):
        counts = g["motif_id"].value_counts(sort=False)
        best = sorted(counts.index, key=lambda m: (-counts[m], str(m)))[0]
        names = g.drop_duplicates("motif_id")["motif_name"].astype(str)
        fam = g.loc[g["motif_id"] == best, "motif_family"] if "motif_family" in g else None
        rows.append({"name": k,
                     "family": str(fam.iloc[0]) if fam is not None else "NA",
                     "best_member": best,
                     "best_member_name": g.loc[g["motif_id"] == best, "motif_name"].iloc[0],
                     "members": ", ".join(sorted(names)[:8])
                                + (" …" if names.nunique() > 8 else ""),
                     "elements": len(g), "sequences": g["name"].nunique(),
                     "mean_attribution": g["score"].mean(),
                     "median_match_qvalue": g["motif_qvalue"].median()})  # fmt: skip
    summary = pd.DataFrame(rows).sort_values(["elements", "name"], ascending=[False, True],
                                             kind="stable")  # fmt: skip
    single = summary[summary["elements"] == 1]
    shown = summary[summary["elements"] > 1]
    if len(single) > 1:
        other = {
            "name": f"other ({len(single)} clusters, one element each)",
            "family": "–",
            "best_member": "–",
            "best_member_name": "–",
            "members": ", ".join(single["name"].astype(str)),
            "elements": len(single),
            "sequences": int(mot[mot["_key"].isin(single["name"])]["name"].nunique()),
            "mean_attribution": float(single["mean_attribution"].mean()),
            "median_match_qvalue": float(single["median_match_qvalue"].median()),
        }
        table = pd.concat([shown, pd.DataFrame([other])], ignore_index=True)  # fmt: skip
    else:
        table, shown = summary, summary
    out = (
        "<p>Elements matched to a database motif, one row per "
        + ("archetype cluster (redundant motifs of one specificity together; "
           "<i>members</i>: the motifs its elements match; <i>best_member</i>: the one most "
           "of them match)" if by_cluster else "database motif")
        + ". Clusters with a single element are folded into <i>other</i>. "
        "<i>median_match_qvalue</i> is the motif-match q-value (TOMTOM, over the "
        "database), not the call FDR of the seqlets. Logos: left, the mean attribution of "
        "the elements aligned on the motif (units: attribution, the model's output per "
        "base); right, the database motif (bits).</p>" + _table(table.head(50))
    )  # fmt: skip
    for r in shown.head(top_motifs).itertuples(index=False):
        m = db[r.best_member]
        sel = mot[mot["motif_id"] == r.best_member]
        agg = aggregate_motif_attribution(sel, m, attr, attr_row)
        fig, axes = plt.subplots(1, 2, figsize=(9, 1.6))
        _logo(axes[0], agg, f"{r.name}: mean attribution of {len(sel)} {m.name} elements",
              ylabel="attribution")  # fmt: skip
        _logo(axes[1], m.pwm * information_content(m.pwm)[:, None],
              f"{m.id} {m.name} (database)", ylabel="bits")  # fmt: skip
        out += (f"<h3>{html.escape(str(r.name))} (best member {html.escape(m.name)}, "
                f"{r.best_member}; family {html.escape(str(r.family))})</h3>"
                + _png(fig))  # fmt: skip
    return out


def _patterns_html(
    patterns: str | Path | None,
    matrices: str | Path | None,
    members: str | Path | None,
    db: dict[str, Motif],
    length: int,
    top: int,
    plt: Any,
) -> str:
    """Patterns (seqlantern patterns): CWM, hCWM and best-match logos, member counts per
    sign, and where the members sit in their records."""
    if not patterns or not Path(patterns).is_file():
        return ""
    pt = read_tsv(patterns, what="patterns", floats=("match_qvalue", "mean_similarity"))
    if pt.empty:
        return (
            "<p>No pattern: too few seqlets with a shared contribution profile "
            "(<code>patterns.min_members</code>).</p>"
        )
    mats = read_tsv(matrices, what="pattern matrices") if matrices else None
    mem = read_tsv(members, what="pattern members") if members else None
    out = (
        "<p>Every significant seqlet, clustered by its hypothetical-contribution "
        "profile (aligned, both strands, sign kept; TF-MoDISco-style, "
        "<code>results/patterns/</code>), largest first. Left to right: the CWM (mean "
        "attribution of the aligned members), the hCWM (what the model would score for "
        "each base), the best database match (bits) and where the members sit in "
        "their records. Labels: <i>artifact</i> when most members are artifact "
        "elements, <i>motif</i> when the match passes q &le; "
        "<code>annotate.motif_qvalue</code>, else <i>unexplained</i>.</p>"
    )
    out += _table(pt[["pattern", "label", "members", "positive", "negative", "sequences",
                      "consensus", "match_name", "match_family", "match_qvalue",
                      "artifact_name"]].head(60))  # fmt: skip
    for r in pt.head(top).itertuples(index=False):
        if mats is None:
            break
        m = mats[mats["pattern"] == r.pattern]
        cwm = m[m["kind"] == "cwm"][list("ACGT")].to_numpy(float)
        hcwm = m[m["kind"] == "hcwm"][list("ACGT")].to_numpy(float)
        if len(cwm) == 0:
            continue
        match = db.get(str(r.match_id))
        fig, axes = plt.subplots(1, 4, figsize=(14, 1.7),
                                 gridspec_kw={"width_ratios": [3, 3, 3, 2]})  # fmt: skip
        _logo(axes[0], cwm, f"{r.pattern} CWM ({r.members} members: {r.positive}+ / "
              f"{r.negative}-)", ylabel="attribution")  # fmt: skip
        _logo(axes[1], hcwm, "hCWM", ylabel="hypothetical")
        if match is not None:
            _logo(axes[2], match.pwm * information_content(match.pwm)[:, None],
                  f"{match.id} {match.name} (q={r.match_qvalue:.2g})", ylabel="bits")  # fmt: skip
        else:
            axes[2].axis("off")
            axes[2].set_title("no database match", fontsize=9)
        if mem is not None:
            sel = mem[mem["pattern"] == r.pattern]
            centre = 0.5 * (pd.to_numeric(sel["window_start"]) + pd.to_numeric(sel["window_end"]))
            axes[3].hist(centre, bins=np.linspace(0, max(length, 1), 21), color="#4a6fa5")
            axes[3].set_title("member position (bp)", fontsize=9)
            axes[3].tick_params(labelsize=7)
        else:
            axes[3].axis("off")
        fig.tight_layout()
        label = f"{r.pattern}: {r.label}" + (
            f" ({r.artifact_name})" if r.label == "artifact" else
            f" ({r.match_name})" if r.label == "motif" else "")  # fmt: skip
        out += f"<h3>{html.escape(label)}</h3>" + _png(fig)
    return out


def _training_html(path: str | Path) -> str:
    """The training variants side by side (seqlantern compare-training)."""
    from seqlantern.guidance import TRAINING_COLUMNS, teacher_summary

    with open(path) as fh:
        header = fh.readline().rstrip("\n").split("\t")
    numeric = [c for c in TRAINING_COLUMNS if c in header and c not in ("variant", "teacher")]
    t = read_tsv(path, what="training comparison", floats=numeric)

    lines = teacher_summary(t)
    students = ("<p><b>Distillation from more than one teacher.</b> " + " ".join(
        html.escape(x) + ("." if not x.endswith(".") else "") for x in lines) + "</p>"
        if lines else "")  # fmt: skip
    t = t.dropna(axis=1, how="all")
    return (
        "<p>The plain model and each variant trained with one attribution-guided "
        "option (same split, seed and settings), measured on the same test sequences "
        "with gradient &times; input: accuracy; faithfulness (deletion/insertion gain); "
        "map stability under the reverse complement and small shifts; the mean "
        "prediction drop when the 10 most salient positions are set to N (and 10 random "
        "ones); with planted truth, the AUROC of |attribution| for planted sites and the "
        "share on artifacts; with a feedback BED, the share inside its M- regions; for "
        "a distilled student, the correlation of its maps with the teacher's. Full table: "
        "<code>results/variants/comparison.tsv</code>.</p>" + _table(t) + students
    )


def _denovo_html(
    el: pd.DataFrame,
    gt: pd.DataFrame | None,
    db: dict[str, Motif],
    attr: Any,
    attr_row: dict[int, int],
    top_motifs: int,
    plt: Any,
) -> str:
    """De novo groups: aligned mean attribution beside the best database match's logo."""
    if "group" not in el.columns:
        return ""
    from seqlantern.groups import aligned_denovo_matrix

    denovo = el[el["group"].astype(str).str.startswith("denovo_")]
    if denovo.empty:
        return ""
    out = ("<p>Clusters of elements that matched no motif on their own (members of a "
           "cluster that matches one as a whole are labelled motif), largest first; "
           "right: the group's best database match (bits) when it has one.</p>")  # fmt: skip
    sizes = denovo["group"].value_counts()
    sizes = sizes.iloc[np.lexsort((sizes.index.astype(str), -sizes.to_numpy()))]
    for g in sizes.index[:top_motifs]:
        members = denovo[denovo["group"] == g]
        agg = aligned_denovo_matrix(members, attr, attr_row)
        title = f"{g}: mean attribution of {len(members)} elements"
        match = None
        if gt is not None and (gt["group"] == g).any():
            r = gt[gt["group"] == g].iloc[0]
            if str(r.get("match_id", "NA")) in db:
                match = db[str(r["match_id"])]
                title += f"; best match {r['match_name']} (q={r['match_qvalue']:.2g})"
        if match is not None:
            fig, axes = plt.subplots(1, 2, figsize=(9, 1.6))
            _logo(axes[0], agg, title, ylabel="attribution")
            _logo(axes[1], match.pwm * information_content(match.pwm)[:, None],
                  f"{match.id} {match.name} (database)", ylabel="bits")  # fmt: skip
        else:
            fig, ax = plt.subplots(figsize=(4.5, 1.6))
            _logo(ax, agg, title + "; no database match", ylabel="attribution")
        out += f"<h3>{html.escape(str(g))}</h3>" + _png(fig)
    return out


def _artifact_html(
    el: pd.DataFrame,
    gt: pd.DataFrame | None,
    attr: Any,
    attr_row: dict[int, int],
    x: Any,
    idx: pd.DataFrame,
    n_seq: int,
    dataset: Any,
    debias: Any,
    debias_spans: Any,
    debias_min_share: float,
    constant: Any,
    constant_reliance: Any,
    plt: Any,
    config: Any = None,
) -> str:
    parts = [_constant_html(constant, constant_reliance)]
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
    else:
        line = f"Debias (retraining without the artifact spans) not run: {_debias_skip(config)}"
        print(f"[report] {line}", flush=True)
        parts.append(f"<p>{html.escape(line)}</p>")
    if art.empty:
        parts.append("<p>No element matched an artifact source.</p>")
        return "".join(parts)
    total_abs = {}
    for row in art["row"].unique():
        total_abs[row] = float(np.abs(np.asarray(attr[attr_row[int(row)]])).sum())
    art = art.assign(share=[abs(s) / max(total_abs[r], 1e-12)
                            for s, r in zip(art["score"], art["row"], strict=True)])  # fmt: skip
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
                                            "effect_high", "insertion_effect", "insertion_low",
                                            "insertion_high", "shortcut"]]  # fmt: skip
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
            _logo(ax, agg_m, f"{name}: mean attribution of {len(members)} elements",
                  ylabel="attribution")  # fmt: skip
            parts.append(_png(fig))
    return "".join(parts)


def _examples_html(
    el: pd.DataFrame,
    preds: pd.DataFrame,
    idx: pd.DataFrame,
    attr: Any,
    examples: int,
    plt: Any,
) -> str:
    pred_cols = [c for c in preds.columns if c.startswith("pred_")]
    colours = {"motif": "tab:green", "artifact": "tab:red", "unexplained": "tab:grey"}
    out = (
        "<p>One sequence per large group (its strongest member), then the highest "
        "predictions. Shaded: elements (green motif, red artifact, grey unexplained); "
        "bars: attribution of the observed base; x: position in the sequence (bp).</p>"
    )
    for i, why in _example_rows(el, preds, examples):
        row = int(preds["row"].iloc[i])
        a = np.asarray(attr[i]).T
        length = a.shape[0]
        fig, ax = plt.subplots(figsize=(12, 1.9))
        pred = float(preds[pred_cols[0]].iloc[i]) if pred_cols else float("nan")
        where = idx.iloc[row]
        loc = (f" {where['chrom']}:{where['start']}-{where['end']}({where['strand']})"
               if where["coords"] == "genome" else "")  # fmt: skip
        _logo(ax, a, f"{preds['name'].iloc[i]}{loc} (prediction {pred:.3g}; {why})",
              ylabel="attribution", ticks=_ticks(length))  # fmt: skip
        mine = el[el["row"] == row].sort_values("start", kind="stable")
        labels = [
            str(
                e.motif_name
                if e.label == "motif"
                else e.artifact_name
                if e.label == "artifact"
                else "?"
            )
            for e in mine.itertuples(index=False)
        ]
        bp_per_char = length / 150  # 12-inch axis, 7-pt text: ~150 characters across
        centres = [(e.start + e.end) / 2 for e in mine.itertuples(index=False)]
        widths = [len(t) * bp_per_char + 1 for t in labels]
        levels = label_levels([c - w / 2 for c, w in zip(centres, widths, strict=True)], widths)
        for e, text, c, lv in zip(mine.itertuples(index=False), labels, centres, levels,
                                  strict=True):  # fmt: skip
            ax.axvspan(e.start - 0.5, e.end - 0.5, color=colours.get(e.label, "tab:grey"),
                       alpha=0.15)  # fmt: skip
            ax.annotate(text, (c, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(0, 2 + 9 * lv), textcoords="offset points", ha="center",
                        va="bottom", fontsize=7)  # fmt: skip
        if levels:
            ax.set_title(ax.get_title(), fontsize=9, pad=12 + 9 * max(levels))
        out += _png(fig)
    return out


def _diagnostics_html(methods: Any, curves: Any, erf: Any, erf_profile: Any, plt: Any) -> str:
    if not (methods and Path(methods).is_file()):
        return ""
    mt = read_tsv(methods, what="method comparison")
    out = ("<p>Same model, same sequences (a seeded sample: <code>diagnostics.sequences</code>). "
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
        out += (f"<p><b>Saturation check: {'WARNING' if flag else 'ok'}.</b> Gradient x input "
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
        out += _png(fig)
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
        out += _table(read_tsv(erf, what="receptive field")) + _png(fig)
    return out


def _erf_growth_html(table: Any, fit: Any, plt: Any) -> str:
    """Receptive-field growth law: width over depth against the theoretical field."""
    if not (table and fit and Path(table).is_file() and Path(fit).is_file()):
        return ""
    t = read_tsv(table, what="erf growth", ints=("depth", "theoretical_rf"), floats=("erf_sd",))
    f = read_tsv(fit, what="erf growth fit", floats=("value",))
    d = dict(zip(f["metric"], f["value"], strict=True))
    m = t.groupby("depth")[["erf_sd", "theoretical_rf"]].mean()
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.loglog(m.index, m["erf_sd"], "o-", label="effective (sd of |gradient|)")
    ax.loglog(m.index, m["theoretical_rf"], "k--", label="theoretical receptive field")
    ax.set_xlabel("depth (conv blocks)")
    ax.set_ylabel("width (bp)")
    ax.legend(fontsize=7)
    return (
        "<h3>Receptive field over depth</h3><p>Random conv + ReLU stacks: the effective "
        f"receptive field grows like depth<sup>{d['exponent']:.2f}</sup> (95% interval "
        f"{d['exponent_low']:.2f}-{d['exponent_high']:.2f}; deeper half "
        f"{d['exponent_deep']:.2f}, {d['exponent_deep_low']:.2f}-"
        f"{d['exponent_deep_high']:.2f}), the theoretical one like "
        f"depth<sup>{d['theoretical_exponent']:.2f}</sup>: a deep model's output depends "
        "mostly on a central window much narrower than its receptive field "
        "(about sqrt(depth), Luo et al. 2016).</p>" + _png(fig)
    )  # fmt: skip


def _model_html(metrics: Any, curve: Any, evaluation: Any, idx: pd.DataFrame) -> str:
    out = ""
    if metrics and Path(metrics).is_file():
        mt = read_tsv(metrics)
        out += ("<p>Test metrics of the model and of the k-mer baseline fitted on the same "
                "split (rows <code>kmer_*</code>).</p>" + _table(mt))  # fmt: skip
        loaded = mt["model"].astype(str).eq("loaded_model")
        if loaded.any():
            out += ("<p>The model was loaded, not trained in this run: it is scored on this "
                    "run's test split, and the baseline is fitted on its training and "
                    "validation splits (<code>seqlantern score-model</code>).</p>")  # fmt: skip
        elif "stopped" in mt.columns:
            cnn = mt[~mt["model"].astype(str).str.startswith("kmer")]
            if len(cnn):
                why = str(cnn["stopped"].iloc[0])
                reason = {"patience": "early stopping (no better validation loss for "
                          "<code>train.patience</code> epochs; the best epoch's weights kept)",
                          "epochs": "the epoch limit (<code>train.epochs</code>)",
                          "max_minutes": "the time budget (<code>train.max_minutes</code>)"
                          }.get(why, html.escape(why))  # fmt: skip
                out += (f"<p>Training stopped after {html.escape(str(cnn['epochs'].iloc[0]))} "
                        f"epochs: {reason}.</p>")  # fmt: skip
    else:
        out += ("<p>Model loaded, not trained in this run, and not scored: no measured "
                "targets (<code>data.targets</code>) for its outputs.</p>")  # fmt: skip
    if "duplicate_of" in idx.columns:
        n_dup = int((idx["duplicate_of"].astype(object).fillna("").astype(str) != "").sum())
        if n_dup:
            out += (f"<p>{n_dup} records repeat another record's sequence or its reverse "
                    "complement; each was kept in the split of the record it repeats "
                    "(index column <code>duplicate_of</code>).</p>")  # fmt: skip
    if curve and Path(curve).is_file():
        out += ("<p>Learning curve (loss per epoch, train and validation).</p>"
                "<img alt='learning curve' src='data:image/png;base64,"
                + base64.b64encode(Path(curve).read_bytes()).decode() + "'/>")  # fmt: skip
    if evaluation and Path(evaluation).is_file():
        ev = read_tsv(evaluation)
        out += ("<h3>Evaluation against planted truth</h3>"
                + _table(ev[~ev["metric"].str.contains(":")])
                + "<details><summary>per motif</summary>"
                + _table(ev[ev["metric"].str.contains(":")]) + "</details>")  # fmt: skip
    return out
