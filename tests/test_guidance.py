"""Training with attributions: each option does its job on tiny data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlantern.guidance import (
    consistency_penalty,
    elements_to_feedback,
    feedback_penalty,
    mask_spans,
    random_spans,
    read_feedback,
    salient_spans,
)
from seqlantern.io import SeqlanternError


def _x(n: int = 4, length: int = 30, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return torch.from_numpy(np.eye(4, dtype=np.float32)[rng.integers(0, 4, (n, length))]
                            .transpose(0, 2, 1).copy())  # fmt: skip


def test_the_masked_span_is_the_most_salient_one() -> None:
    attr = torch.zeros(3, 30)
    attr[0, 4:9] = 1.0  # a 5-bp peak
    attr[1, 20:25] = -2.0  # negative attribution counts by magnitude
    attr[2, 10] = 5.0
    attr[2, 12:16] = 1.0
    starts = salient_spans(attr, 5)
    assert starts.tolist() == [4, 20, 10]
    x = _x(3)
    masked = mask_spans(x, starts, 5, fill="zeros", rng=np.random.default_rng(0))
    assert masked[0, :, 4:9].sum() == 0 and masked[0, :, 9:].sum() == x[0, :, 9:].sum()
    shuffled = mask_spans(x, starts, 5, fill="shuffle", rng=np.random.default_rng(0))
    # shuffle keeps the span's composition and leaves the rest alone
    assert torch.equal(shuffled[1, :, 20:25].sum(dim=1), x[1, :, 20:25].sum(dim=1))
    assert torch.equal(shuffled[1, :, :20], x[1, :, :20])
    r = random_spans(1000, 30, 5, np.random.default_rng(1))
    assert r.min() >= 0 and r.max() <= 25 and len(set(r.tolist())) > 15


def test_consistency_is_zero_for_an_rc_symmetric_model() -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 3, 5)

    def asym(x: torch.Tensor) -> torch.Tensor:
        return torch.exp(conv(x)).mean(dim=(1, 2))[:, None]

    def sym(x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (asym(x) + asym(torch.flip(x, dims=[1, 2])))

    x = _x()
    rng = np.random.default_rng(0)
    assert float(consistency_penalty(sym, x, ["rc"], rng=rng).detach()) < 1e-10
    pen = consistency_penalty(asym, x, ["rc"], rng=rng)
    assert float(pen.detach()) > 1e-3
    # the penalty is differentiable in the weights (double backprop)
    (g,) = torch.autograd.grad(pen, conv.weight)
    assert float(g.abs().sum()) > 0
    with pytest.raises(SeqlanternError, match="rc or shift"):
        consistency_penalty(sym, x, ["flip"], rng=rng)


def test_consistency_cannot_be_lowered_by_shrinking_the_model() -> None:
    """The penalty is a ratio of the maps' difference to their size: scaling the model's
    output leaves it unchanged and its gradient along the output scale is zero. (With a
    detached denominator, shrinking every gradient lowered the penalty, and on the demo
    the network collapsed to a constant output instead of learning.)"""
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(4, 3, 5)
    scale = torch.tensor(1.0, requires_grad=True)

    def model(x: torch.Tensor) -> torch.Tensor:
        return scale * torch.exp(conv(x)).mean(dim=(1, 2))[:, None]

    x = _x()
    for t in (["rc"], ["shift"]):
        pen = consistency_penalty(model, x, t, rng=np.random.default_rng(0))
        (d_scale,) = torch.autograd.grad(pen, scale)
        assert float(pen.detach()) > 1e-3 and abs(float(d_scale)) < 1e-5 * float(pen.detach())
        with torch.no_grad():
            scale.fill_(0.01)
        small = consistency_penalty(model, x, t, rng=np.random.default_rng(0))
        assert float(small.detach()) == pytest.approx(float(pen.detach()), rel=1e-4)
        with torch.no_grad():
            scale.fill_(1.0)


def test_feedback_penalty_has_no_gradient_outside_the_masks() -> None:
    x = _x(2, 20)
    grad = torch.randn(2, 4, 20, requires_grad=True)
    irr = torch.zeros(2, 20)
    irr[0, 2:6] = 1
    rel = torch.zeros(2, 20)
    pen = feedback_penalty(grad, x, irr, rel, weight_irrelevant=1.0, weight_relevant=0.0)
    (g,) = torch.autograd.grad(pen, grad)
    assert float(g[0, :, 2:6].abs().sum()) > 0
    outside = torch.ones(2, 20, dtype=torch.bool)
    outside[0, 2:6] = False
    assert float(g.permute(0, 2, 1)[outside].abs().sum()) == 0.0
    # M+ only: rows without a relevant region contribute nothing
    rel[1, 10:15] = 1
    pen = feedback_penalty(grad, x, torch.zeros(2, 20), rel, weight_irrelevant=0.0,
                           weight_relevant=1.0)  # fmt: skip
    (g,) = torch.autograd.grad(pen, grad)
    assert float(g[0].abs().sum()) == 0.0 and float(g[1].abs().sum()) > 0


def _index(tmp: Path, n: int = 3, length: int = 20) -> pd.DataFrame:
    return pd.DataFrame({"name": [f"s{i}" for i in range(n)],
                         "chrom": [f"s{i}" for i in range(n)], "start": 0, "end": length,
                         "strand": "+"})  # fmt: skip


def test_feedback_bed_and_its_errors(tmp_path: Path) -> None:
    idx = _index(tmp_path)
    bed = tmp_path / "f.bed"
    bed.write_text("track name=x\ns0\t2\t6\tM-\ns1\t10\t15\tM+\ns1\t0\t3\tirrelevant\n")
    fb = read_feedback(bed, idx, 20)
    assert fb.irrelevant[0][2:6].all() and fb.irrelevant[0].sum() == 4
    assert fb.relevant[1][10:15].all() and fb.irrelevant[1][:3].all()
    for text, needle in (("s0\t2\t6\tmaybe\n", "neither M- (irrelevant) nor M+"),
                         ("chrX\t2\t6\tM-\n", "'chrX' is neither a sequence name"),
                         ("s0\t2\t6\tM-\ns0\t4\t8\tM+\n", "overlaps an M- region"),
                         ("# nothing\n", "has no region"),
                         ("s0\t6\t2\tM-\n", "line 1: need 0 <= start < end")):  # fmt: skip
        bed.write_text(text)
        with pytest.raises(SeqlanternError, match=r"f\.bed") as ex:
            read_feedback(bed, idx, 20)
        assert needle in str(ex.value) and "\n" not in str(ex.value)


def test_genomic_feedback_lands_on_every_overlapping_window(tmp_path: Path) -> None:
    idx = pd.DataFrame({"name": ["w0", "w1"], "chrom": ["chr1", "chr1"], "start": [100, 110],
                        "end": [120, 130], "strand": ["+", "-"]})  # fmt: skip
    bed = tmp_path / "g.bed"
    bed.write_text("chr1\t112\t116\tM-\n")
    fb = read_feedback(bed, idx, 20)
    assert np.flatnonzero(fb.irrelevant[0]).tolist() == [12, 13, 14, 15]
    # the minus-strand window reads the genome backwards: 110..130 -> positions 19..0
    assert np.flatnonzero(fb.irrelevant[1]).tolist() == [14, 15, 16, 17]


def test_elements_become_a_feedback_bed(tmp_path: Path) -> None:
    el = pd.DataFrame({"name": ["a", "b", "c"], "start": [1, 5, 9], "end": [4, 8, 12],
                       "label": ["artifact", "motif", "artifact"]})  # fmt: skip
    el.to_csv(tmp_path / "e.tsv", sep="\t", index=False)
    n = elements_to_feedback(tmp_path / "e.tsv", tmp_path / "m.bed",
                             where={"label": "artifact"}, name="M-")  # fmt: skip
    assert n == 2
    assert (tmp_path / "m.bed").read_text() == "a\t1\t4\tM-\nc\t9\t12\tM-\n"
    with pytest.raises(SeqlanternError, match="no column 'kind'"):
        elements_to_feedback(tmp_path / "e.tsv", tmp_path / "x.bed", where={"kind": "x"},
                             name="M-")  # fmt: skip
    assert not (tmp_path / "x.bed").exists()


def _tiny_library(d: Path, n: int = 600, length: int = 60, seed: int = 0) -> dict[str, Path]:
    """Activity = a planted GATA site in the insert (10-30) plus a 'barcode' GGGGGG at
    44-50 that tracks the activity (the shortcut an expert would mark M-)."""
    from seqlantern.encode import encode_fasta

    rng = np.random.default_rng(seed)
    recs, ys = [], []
    for i in range(n):
        s = list(rng.choice(list("ACGT"), length))
        y = 0.0
        if rng.random() < 0.5:
            p = int(rng.integers(10, 24))
            s[p : p + 6] = list("AGATAA")
            y += 1.0
        if (y > 0) == (rng.random() < 0.9):  # the barcode agrees with the site 90% of the time
            s[44:50] = list("GGGGGG")
            y += 0.5
        recs.append(f">s{i}\n{''.join(s)}\n")
        ys.append(f"s{i}\t{y + rng.normal(0, 0.1):.4f}\n")
    (d / "f.fa").write_text("".join(recs))
    (d / "t.tsv").write_text("name\tactivity\n" + "".join(ys))
    encode_fasta(d / "f.fa", d / "x.npy", d / "i.tsv")
    (d / "m.bed").write_text("".join(f"s{i}\t44\t50\tM-\n" for i in range(n)))
    return {"onehot": d / "x.npy", "index": d / "i.tsv", "targets": d / "t.tsv",
            "bed": d / "m.bed"}  # fmt: skip


def _train(lib: dict[str, Path], out: Path, **kw: object) -> Path:
    from seqlantern.train import train

    out.mkdir(parents=True, exist_ok=True)
    train(lib["onehot"], lib["index"], lib["targets"], out / "model.json", out / "metrics.tsv",
          out / "curve.png", columns=["activity"], epochs=8, equal_steps=False, baseline=False,
          kmer_fallback=False, model_kwargs={"filters": [16], "dense": 8}, seed=0,
          learning_rate=0.005, **kw)  # type: ignore[arg-type]  # fmt: skip
    return out / "model.json"


def _share_in(model_json: Path, lib: dict[str, Path], lo: int, hi: int) -> float:
    from seqlantern.guidance import input_gradient
    from seqlantern.models import load_checkpoint

    model, _ = load_checkpoint(model_json)
    x = torch.from_numpy(np.load(lib["onehot"])[:200])
    a = (input_gradient(model, x, create_graph=False) * x).sum(dim=1).abs()
    return float(a[:, lo:hi].sum() / a.sum())


def test_feedback_lowers_attribution_inside_m_minus(tmp_path: Path) -> None:
    lib = _tiny_library(tmp_path, n=1200)
    plain = _share_in(_train(lib, tmp_path / "plain"), lib, 44, 50)
    fed = _share_in(_train(lib, tmp_path / "fed", feedback_bed=lib["bed"],
                           feedback_weight_irrelevant=50.0), lib, 44, 50)  # fmt: skip
    # the plain model uses the barcode (above its 10% share of positions); feedback halves it
    assert plain > 0.12 and fed < 0.6 * plain, (plain, fed)


def test_guided_training_is_deterministic_and_recorded(tmp_path: Path) -> None:
    import json

    lib = _tiny_library(tmp_path, n=300)
    opts = {"salient_mask": {"probability": 0.5, "span": 6, "fill": "shuffle"},
            "consistency": {"weight": 0.5, "transforms": ["rc", "shift"]},
            "feedback_bed": lib["bed"]}  # fmt: skip
    a = _train(lib, tmp_path / "a", **opts)
    b = _train(lib, tmp_path / "b", **opts)
    assert (a.with_suffix(".safetensors").read_bytes()
            == b.with_suffix(".safetensors").read_bytes())  # fmt: skip
    meta = json.loads(a.read_text())
    g = meta.get("guidance") or meta.get("meta", {}).get("guidance")
    assert g["salient_mask"]["span"] == 6 and g["consistency"]["transforms"] == ["rc", "shift"]
    assert g["feedback"]["irrelevant_sequences"] == 300
    plain = _train(lib, tmp_path / "p")
    assert "guidance" not in plain.read_text()


def test_feedback_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqlantern.cli import main

    pd.DataFrame({"name": ["a", "b"], "start": [1, 5], "end": [4, 8],
                  "label": ["artifact", "motif"]}).to_csv(tmp_path / "e.tsv", sep="\t",
                                                          index=False)  # fmt: skip
    args = ["feedback", "--elements", str(tmp_path / "e.tsv"), "--out", str(tmp_path / "m.bed")]
    assert main([*args, "--where", "label=artifact", "--name", "M-"]) == 0
    assert (tmp_path / "m.bed").read_text() == "a\t1\t4\tM-\n"
    assert main([*args, "--where", "label"]) == 1
    assert "give column=value" in capsys.readouterr().err


def test_compare_training_measures_every_variant(tmp_path: Path) -> None:
    """Plain, salient masking, random masking and students of two teachers on one test
    set: every metric of the table is filled; a student follows its teacher's maps; the
    summary sets each teacher's map quality beside its student."""
    from seqlantern.guidance import TRAINING_COLUMNS, compare_training, distill, teacher_summary

    lib = _tiny_library(tmp_path, n=1000)
    plain = _train(lib, tmp_path / "plain")
    sal = _train(lib, tmp_path / "sal", salient_mask={"probability": 1.0, "span": 6})
    ran = _train(lib, tmp_path / "ran", salient_mask={"probability": 1.0, "span": 6,
                                                      "mode": "random"})  # fmt: skip
    st, st2 = tmp_path / "student", tmp_path / "student_sal"
    for teacher, where in ((plain, st), (sal, st2)):
        distill(teacher, lib["onehot"], lib["index"], where / "model.json", where / "m.tsv",
                where / "c.png", student_options={"filters": [8], "dense": 4}, shuffles=1,
                epochs=8, equal_steps=False, learning_rate=0.005)  # fmt: skip
    truth = tmp_path / "truth.tsv"
    seqs = (tmp_path / "f.fa").read_text().split(">")[1:]
    rows = []
    for rec in seqs:
        name, s = rec.split("\n")[0], rec.split("\n")[1]
        p = s.find("AGATAA", 10, 31)
        if p >= 0:
            rows.append(f"{name}\t{p}\t{p + 6}\tfunctional\n")
        if s[44:50] == "GGGGGG":
            rows.append(f"{name}\t44\t50\tartifact\n")
    truth.write_text("name\tstart\tend\tkind\n" + "".join(rows))
    t = compare_training({"plain": plain, "salient_mask": sal, "random_mask": ran,
                          "distill": st / "model.json", "distill_sal": st2 / "model.json"},
                         lib["onehot"], lib["index"], lib["targets"], "activity",
                         tmp_path / "cmp.tsv", teachers={"distill": "plain",
                         "distill_sal": "salient_mask"}, truth=truth,
                         feedback_bed=lib["bed"], n=100)  # fmt: skip
    assert list(t.columns) == TRAINING_COLUMNS and list(t["variant"]) == [
        "plain", "salient_mask", "random_mask", "distill", "distill_sal"]  # fmt: skip
    for c in (
        "test_pearson",
        "deletion_gain",
        "stability_rc",
        "salient_mask_drop",
        "random_mask_drop",
        "planted_site_auroc",
        "artifact_share",
        "m_minus_share",
    ):
        assert t[c].notna().all(), c
    assert t["teacher_map_correlation"].notna().sum() == 2
    assert t.set_index("variant").loc["distill", "teacher_map_correlation"] > 0.3
    # each student beside its own teacher's map quality, and which teacher taught best
    lines = teacher_summary(t)
    assert len(lines) == 3 and lines[0].startswith("distill: teacher plain (planted-site AUROC")
    assert lines[1].startswith("distill_sal: teacher salient_mask")
    auroc = t.set_index("variant")["planted_site_auroc"]
    cleanest = "plain" if auroc["plain"] >= auroc["salient_mask"] else "salient_mask"
    assert f"best maps ({cleanest})" in lines[2]
    assert teacher_summary(t[t["variant"] != "distill_sal"]) == []
    # the report reads the written table back (text columns) and still sets them side by side
    from seqlantern.report import _training_html

    section = _training_html(tmp_path / "cmp.tsv")
    assert "Distillation from more than one teacher" in section
    assert "distill_sal: teacher salient_mask" in section


def test_bad_feedback_and_teacher_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqlantern.cli import main
    from seqlantern.encode import encode_fasta

    lib = _tiny_library(tmp_path, n=200)
    out = tmp_path / "out"
    base = ["train", "--onehot", str(lib["onehot"]), "--index", str(lib["index"]),
            "--targets", str(lib["targets"]), "--columns", "activity", "--epochs", "1",
            "--no-equal-steps", "--no-baseline", "--out-model", str(out / "model.json"),
            "--metrics", str(out / "m.tsv"), "--curve", str(out / "c.png")]  # fmt: skip
    (tmp_path / "bad.bed").write_text("s1\t2\t9\tmaybe\n")
    assert main([*base, "--feedback-bed", str(tmp_path / "bad.bed")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "bad.bed: line 1" in err
    assert not out.exists() or not any(out.iterdir())
    # a teacher for 60-bp input, a library of 80-bp sequences
    teacher = [
        "--out-model",
        str(tmp_path / "t/model.json"),
        "--metrics",
        str(tmp_path / "t/m.tsv"),
        "--curve",
        str(tmp_path / "t/c.png"),
    ]
    assert main([*base[:-6], *teacher]) == 0
    (tmp_path / "long.fa").write_text("".join(f">l{i}\n{'ACGT' * 20}\n" for i in range(30)))
    encode_fasta(tmp_path / "long.fa", tmp_path / "lx.npy", tmp_path / "li.tsv")
    code = main(["distill", "--teacher", str(tmp_path / "t/model.json"), "--onehot",
                 str(tmp_path / "lx.npy"), "--index", str(tmp_path / "li.tsv"), "--out-model",
                 str(tmp_path / "s/model.json"), "--metrics", str(tmp_path / "s/m.tsv"),
                 "--curve", str(tmp_path / "s/c.png")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1 and len(err.splitlines()) == 1 and "60-bp input" in err, err
    assert not (tmp_path / "s").exists()


def test_artifact_feedback_marks_every_input(tmp_path: Path) -> None:
    """--onehot mode: the library's adapter hits and constant regions of *every* input
    (not only the attributed ones) become M- regions."""
    from seqlantern.cli import main
    from seqlantern.encode import encode_fasta

    rng = np.random.default_rng(0)
    flank = "ACGTTGCAGGTCAAGT"
    recs = "".join(f">r{i}\n{flank}{''.join(rng.choice(list('ACGT'), 40))}\n" for i in range(50))
    (tmp_path / "f.fa").write_text(recs)
    encode_fasta(tmp_path / "f.fa", tmp_path / "x.npy", tmp_path / "i.tsv")
    (tmp_path / "c.tsv").write_text(
        "name\tanchor\tstart\tend\tsequence\tshare\tcoverage\n"
        f"constant_5prime_1\tstart\t0\t16\t{flank}\t1.0\t1.0\n")  # fmt: skip
    (tmp_path / "a.fa").write_text(">none source=x kind=adapter\nGGGGGGGGGGGGGGGGGGGG\n")
    assert main(["feedback", "--onehot", str(tmp_path / "x.npy"), "--index",
                 str(tmp_path / "i.tsv"), "--artifacts", str(tmp_path / "a.fa"), "--constant",
                 str(tmp_path / "c.tsv"), "--out", str(tmp_path / "m.bed")]) == 0  # fmt: skip
    bed = pd.read_csv(tmp_path / "m.bed", sep="\t", header=None)
    assert bed[0].nunique() == 50 and set(bed[3]) == {"M-"}
    assert (bed[1] == 0).all() and (bed[2] == 16).all()
