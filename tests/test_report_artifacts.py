"""Report and reliance on a library's constant parts: what a user of a flanked MPRA sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from conftest import ARTIFACTS, DEMO_MOTIFS
from seqlantern.constant import find_constant, read_constant, write_constant
from seqlantern.encode import encode_fasta, read_index
from seqlantern.io import load_npy, write_fasta
from seqlantern.report import _debias_skip, _span_matrix, render_report
from seqlantern.shortcuts import ShortcutParams, constant_reliance
from test_shortcuts import SpanWeights

FLANK5, FLANK3 = "AGGACCGGATCAACT", "CATTGCGTGAACCGA"  # lentiMPRA-like adapters


def _flanked(tmp_path: Path, n: int = 40) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(5)
    seqs = [(f"s{i}", FLANK5 + "".join(rng.choice(list("ACGT"), 60)) + FLANK3) for i in range(n)]
    write_fasta(seqs, tmp_path / "f.fa")
    encode_fasta(tmp_path / "f.fa", tmp_path / "x.npy", tmp_path / "i.tsv")
    x = np.asarray(load_npy(tmp_path / "x.npy", what="x"))
    idx = read_index(tmp_path / "i.tsv")
    write_constant(find_constant(x, idx), tmp_path / "c.tsv", tmp_path / "c.fa")
    return x, idx


def test_reliance_on_each_constant_region(tmp_path: Path) -> None:
    """The model that reads the 3' flank relies on it (ablation and insertion), not on the
    5' flank; both regions are measured although no element lies on either."""
    x, idx = _flanked(tmp_path)
    regions = read_constant(tmp_path / "c.tsv")
    assert [r.sequence for r in regions] == [FLANK5, FLANK3]
    model = SpanWeights(x.shape[2], [(FLANK3, 75)])
    tab = constant_reliance(model, x, idx, regions, np.arange(len(x)), target=0,
                            params=ShortcutParams(shuffles=4, backgrounds=6))  # fmt: skip
    by = tab.set_index("sequence")
    assert not bool(by.loc[FLANK5, "relied_on"]) and bool(by.loc[FLANK3, "relied_on"])
    assert by.loc[FLANK3, "ablation_low"] > 0 and by.loc[FLANK3, "insertion_low"] > 0
    assert by.loc[FLANK5, "ablation_effect"] == 0


def test_span_matrix_keeps_elements_at_the_sequence_end() -> None:
    attr = np.zeros((2, 4, 90), dtype=np.float32)
    attr[:, 2, 80:] = 1.0
    members = pd.DataFrame({"row": [0, 1], "start": [80, 80], "end": [90, 90]})
    mat = _span_matrix(members, attr, {0: 0, 1: 1})
    assert mat is not None and mat.shape == (10, 4) and np.allclose(mat[:, 2], 1.0)


def _flanked_report(tmp_path: Path) -> Path:
    """A report of 12 flanked sequences whose 3' flank elements are artifacts."""
    x, idx = _flanked(tmp_path, n=12)
    attr = (x * 0.1).astype(np.float32)
    attr[:, :, 80:] *= 10
    np.save(tmp_path / "a.npy", attr)
    pd.DataFrame({"name": idx["name"], "row": range(12), "pred_y": 1.0}).to_csv(
        tmp_path / "p.tsv", sep="\t", index=False)  # fmt: skip
    el = pd.DataFrame({
        "name": idx["name"], "row": range(12), "start": 80, "end": 90, "strand": ".",
        "score": 4.0, "pvalue": 1e-4, "label": "artifact", "motif_id": "NA",
        "motif_name": "NA", "motif_qvalue": 1.0, "motif_offset": 0,
        "artifact_name": "constant_start_75_90", "artifact_kind": "constant",
    })  # fmt: skip
    el.to_csv(tmp_path / "e.tsv", sep="\t", index=False)
    model = SpanWeights(x.shape[2], [(FLANK3, 75)])
    with torch.no_grad():
        rel = constant_reliance(model, x, idx, read_constant(tmp_path / "c.tsv"),
                                np.arange(12), target=0,
                                params=ShortcutParams(shuffles=3, backgrounds=4))  # fmt: skip
    rel.to_csv(tmp_path / "rel.tsv", sep="\t", index=False)
    (tmp_path / "spans.tsv").write_text("row\tstart\tend\tname\tkind\n3\t40\t52\tm13\tprimer\n")
    render_report(tmp_path / "r.html", elements=tmp_path / "e.tsv", index=tmp_path / "i.tsv",
                  onehot=tmp_path / "x.npy", attributions=tmp_path / "a.npy",
                  predictions=tmp_path / "p.tsv", motifs=DEMO_MOTIFS,
                  artifacts=[str(ARTIFACTS)], constant=tmp_path / "c.tsv",
                  constant_reliance=tmp_path / "rel.tsv",
                  debias_spans=tmp_path / "spans.tsv",
                  links=[str(tmp_path / "e.tsv")])  # fmt: skip
    return tmp_path / "r.html"


def test_report_lists_every_constant_region_and_logos_end_artifacts(tmp_path: Path) -> None:
    """Artifact elements on the 3' flank (the last 10 bp) get their logo, and both flanks
    are listed with their reliance, the 5' one although no element lies on it."""
    body = _flanked_report(tmp_path).read_text()
    a = body.index("<section id='artifacts'>")
    section = body[a : body.index("</section>", a)]
    assert FLANK5 in section and FLANK3 in section and "relied_on" in section
    assert section.count("<img") == 2  # position histogram and the flank's logo
    assert "div class='tw'" in section  # wide tables scroll inside the page
    assert "Debias not run: 1 of 12 inputs" in section  # the one-line reason, no table
    assert ">NaN<" not in body


def test_report_reads_answer_first_with_working_contents(tmp_path: Path) -> None:
    """Sections in the order a biologist reads them, every one in the table of
    contents, the element table sortable, the output files linked relative to the report."""
    body = _flanked_report(tmp_path).read_text()
    order = ["trust", "motifs", "artifacts", "elements", "examples", "model", "files"]
    pos = [body.index(f"<section id='{a}'>") if a != "trust" else body.index("id='trust'")
           for a in order]  # fmt: skip
    assert pos == sorted(pos)
    toc = body[body.index("<nav class='toc'>") : body.index("</nav>")]
    assert all(f"href='#{a}'" in toc for a in order)
    assert "<table id='elements' class='t sortable'>" in body and "<script>" in body
    assert "href='e.tsv'" in body  # relative to the report, which sits beside it


def test_report_in_a_real_browser(tmp_path: Path) -> None:
    """At 1,280 px: no horizontal page overflow, no console errors, every anchor
    resolves, every image decodes (headless Chromium)."""
    from browser import probe

    found = probe(_flanked_report(tmp_path))
    assert found["width"] == 1280 and found["overflow"] <= 0, found
    assert found["errors"] == [] and found["missing_anchors"] == [], found
    assert found["images"] >= 3 and found["bad_images"] == 0, found
    assert found["toc_links"] >= 6, found


def test_browser_probe_sees_what_a_reader_would(tmp_path: Path) -> None:
    """The probe itself fails on each fault it is meant to catch."""
    from browser import probe

    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>"
        "<nav class='toc'><a href='#nowhere'>x</a></nav>"
        "<table><tr>" + "<td>wide_cell_without_a_scroll_container</td>" * 60 + "</tr></table>"
        "<img src='data:image/png;base64,bm90IGEgcG5n'/>"
        "<script>undefinedFunction();</script></body></html>"
    )
    found = probe(page)
    assert found["overflow"] > 0 and found["missing_anchors"] == ["nowhere"]
    assert found["bad_images"] == 1 and any("undefinedFunction" in e for e in found["errors"])


def test_debias_with_nothing_to_debias_is_one_line() -> None:
    from seqlantern.report import _debias_html

    def table(n: int) -> pd.DataFrame:
        return pd.DataFrame({"metric": ["sequences", "sequences_with_artifact",
                                        "artifact_ablation_reduction"],
                             "before": [591, n, np.nan], "after": [591, n, 2.84],
                             "change": [0, 0, np.nan]})  # fmt: skip

    few = _debias_html(table(3))
    assert "nothing to debias" in few and "<table" not in few and "2.84" not in few
    assert "<table" in _debias_html(table(200))


def test_report_tables_show_no_raw_nan(tmp_path: Path) -> None:
    from seqlantern.report import _table

    html = _table(pd.DataFrame({"group": ["motif:X"], "match_qvalue": [np.nan]}))
    assert "NaN" not in html and "nan" not in html and "–" in html


def test_progress_lines_at_each_tenth(capsys: pytest.CaptureFixture[str]) -> None:
    from seqlantern.io import Progress

    p = Progress("attribute", 1000)
    for done in range(0, 1001, 37):
        p.update(done)
    p.update(1000)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10 and lines[-1] == "[attribute] 1,000 / 1,000 (100%)"
    assert all(line.startswith("[attribute] ") for line in lines)


def test_top_groups_are_largest_first_with_the_artifacts(tmp_path: Path) -> None:
    """The first screen's top groups: by size (numbers, not text: '9' < '584'), artifact
    groups always among them."""
    from seqlantern.io import read_tsv
    from seqlantern.report import _glance_html

    pd.DataFrame({
        "group": [f"g{i}" for i in range(12)],
        "name": ["ASCL", "flank", "KLF", "POU", "ETS", *[f"m{i}" for i in range(7)]],
        "label": ["motif", "artifact", *["motif"] * 10],
        "elements": [9, 584, 245, 35, 31, 20, 19, 18, 17, 16, 15, 14],
        "sequences": [9, 583, 199, 32, 28, 20, 19, 18, 17, 16, 15, 14],
    }).to_csv(tmp_path / "g.tsv", sep="\t", index=False)  # fmt: skip
    html = _glance_html(read_tsv(tmp_path / "g.tsv", what="groups"))
    order = [n for n in ("flank", "KLF", "POU", "ETS", "m0", "ASCL") if f">{n}<" in html]
    assert order == ["flank", "KLF", "POU", "ETS", "m0"]  # ASCL (9) is not in the top 8
    assert html.index(">flank<") < html.index(">KLF<") < html.index(">m0<")


@pytest.mark.parametrize(
    ("cfg", "reason"),
    [
        ({"model": {"checkpoint": "m.pt"}, "debias": {"enabled": True}}, "model was loaded"),
        ({"debias": {"enabled": False}}, "debias.enabled is false"),
        ({"results_dir": "r/targets/Dev", "shared_dir": "r", "debias": {"enabled": False}},
         "one target of attribution.target: all"),
    ],
)  # fmt: skip
def test_debias_skip_names_the_reason_that_applies(tmp_path: Path, cfg: dict, reason: str) -> None:
    """The report says which one condition kept debias from running, not all of them."""
    import yaml

    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    line = _debias_skip(tmp_path / "c.yaml")
    assert reason in line and line.count(";") <= 1
