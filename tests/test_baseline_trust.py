"""k-mer baseline, ensembles, deterministic training, split hygiene and the trust panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqlantern.baseline import (
    canonical_columns,
    fit_baseline,
    fit_baseline_model,
    kmer_features,
    predict_baseline,
)
from seqlantern.encode import encode_fasta, one_hot, read_index, reverse_complement
from seqlantern.io import SeqlanternError
from seqlantern.models import Ensemble, KmerLinear, SeqCNN, load_checkpoint
from seqlantern.train import _blend_with_baseline, blend_metric_rows, predict, train
from seqlantern.trust import (
    artifact_check,
    artifact_reliance,
    calls_check,
    model_check,
    verdict,
)


def _onehot(seqs: list[str]) -> np.ndarray:
    return np.stack([one_hot(s) for s in seqs])


def test_canonical_kmer_counts_by_hand() -> None:
    # AACGT: 2-mers AA AC CG GT; canonical pairs AA/TT, AC/GT, CG/CG -> AC counted twice
    col = canonical_columns(2)
    assert col.max() + 1 == 10  # 16 2-mers, 4 palindromes: (16 + 4) / 2
    f = kmer_features(_onehot(["AACGT"]), ks=(2,))[0] * 4  # frequencies x 4 windows
    code = {a + b: 4 * "ACGT".index(a) + "ACGT".index(b) for a in "ACGT" for b in "ACGT"}
    assert f[col[code["AA"]]] == 1 and f[col[code["TT"]]] == 1
    assert f[col[code["AC"]]] == 2 and f[col[code["GT"]]] == 2
    assert f[col[code["CG"]]] == 1 and f.sum() == 4


def test_kmer_features_are_strand_symmetric_and_skip_n() -> None:
    rng = np.random.default_rng(0)
    s = "".join("ACGT"[i] for i in rng.integers(0, 4, 60))
    a = kmer_features(_onehot([s, reverse_complement(s)]))
    np.testing.assert_allclose(a[0], a[1], rtol=1e-6)
    with_n = kmer_features(_onehot(["ACGTNACGT"]), ks=(5,))[0]
    assert with_n.sum() == 0  # every 5-mer window crosses the N


def test_baseline_learns_a_kmer_rule() -> None:
    rng = np.random.default_rng(1)
    seqs = ["".join("ACGT"[i] for i in rng.integers(0, 4, 50)) for _ in range(600)]
    y = np.array([[s.count("GATA") + s.count("TATC")] for s in seqs], dtype=np.float32)
    x = _onehot(seqs)
    rows = np.arange(600)
    pred = fit_baseline(x, y, rows[:400], rows[400:500], rows[500:])
    assert np.corrcoef(pred[:, 0], y[500:, 0])[0, 1] > 0.8


def test_kmer_module_predicts_like_the_baseline() -> None:
    rng = np.random.default_rng(2)
    seqs = ["".join("ACGT"[i] for i in rng.integers(0, 4, 40)) for _ in range(500)]
    seqs[3] = seqs[3][:10] + "N" + seqs[3][11:]  # an N breaks the k-mers across it
    y = np.array([[s.count("GATA") + s.count("TATC"), s.count("CG")] for s in seqs],
                 dtype=np.float32)  # fmt: skip
    x = _onehot(seqs)
    rows = np.arange(500)
    fit = fit_baseline_model(x, y, rows[:300], rows[300:400])
    module = KmerLinear.from_fit(fit)
    got = module(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(got, predict_baseline(fit, x, rows), atol=2e-5)
    # a base's gradient is the sum of the weights of the k-mers covering it: changing a
    # G of a GATA raises the first target's prediction less than the gradient says
    # nothing about; it must at least point the right way at the GATA's bases
    i = next(j for j, s in enumerate(seqs) if "GATA" in s)
    p = seqs[i].index("GATA")
    xt = torch.from_numpy(x[i : i + 1]).requires_grad_(True)
    module(xt)[0, 0].backward()
    assert xt.grad is not None
    g = (xt.grad[0] * xt[0]).sum(0).detach().numpy()
    assert g[p : p + 4].sum() > np.median(g)


class _Oracle(torch.nn.Module):
    """A 'network' that predicts the GATA count exactly (better than any baseline)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seqs = ["".join("ACGT"[i] for i in row.argmax(0).tolist()) for row in x]
        return torch.tensor([[s.count("GATA") + s.count("TATC")] for s in seqs],
                            dtype=torch.float32)  # fmt: skip


def test_blend_only_where_the_baseline_wins() -> None:
    rng = np.random.default_rng(4)
    seqs = ["".join("ACGT"[i] for i in rng.integers(0, 4, 40)) for _ in range(500)]
    y = np.array([[s.count("GATA") + s.count("TATC")] for s in seqs], dtype=np.float32)
    y += rng.normal(0, 0.3, y.shape).astype(np.float32)
    x = _onehot(seqs)
    rows = np.arange(500)
    fit = fit_baseline_model(x, y, rows[:300], rows[300:400])
    assert _blend_with_baseline(_Oracle(), fit, x, y, rows[300:400], ["t"]) is None

    class Noise(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x[:, 0, :3].sum(1, keepdim=True)  # unrelated to the target

    out = _blend_with_baseline(Noise(), fit, x, y, rows[300:400], ["t"])
    assert out is not None
    blend, info = out
    assert info["t"]["valid_pearson_kmer"] > info["t"]["valid_pearson_network"]
    va = rows[300:400]
    mse = {name: float(np.mean((p[:, 0] - y[va, 0]) ** 2)) for name, p in
           (("blend", predict(blend, x, va)), ("kmer", predict_baseline(fit, x, va)))}  # fmt: skip
    assert mse["blend"] <= mse["kmer"] + 1e-6  # least squares on these rows


def test_training_ships_a_blend_when_the_network_is_below_baseline(
    demo_small: dict[str, Path], tmp_path: Path
) -> None:
    # one epoch of a tiny network cannot match the k-mer baseline on the demo's motifs
    m = _train(demo_small, tmp_path, epochs=1, kmer_fallback=True, seed=5)
    assert list(m["model"]) == ["cnn+kmer_ridge_1-6", "network_only:cnn", "kmer_ridge_1-6"]
    shipped, alone, _ = (float(v) for v in m["pearson"])
    assert shipped > alone
    model, meta = load_checkpoint(tmp_path / "m.json")
    assert meta["architecture"] == "blend" and meta["kwargs"]["network"] == "cnn"
    assert meta["blend"]["activity"]["kmer_weight"] > 0
    idx = read_index(demo_small["index"])
    te = np.flatnonzero(idx["split"].to_numpy() == "test")
    x = np.load(demo_small["onehot"], mmap_mode="r")
    y = pd.read_csv(demo_small["targets"], sep="\t").set_index("name").loc[
        idx["name"].to_numpy()[te], "activity"].to_numpy()  # fmt: skip
    r = np.corrcoef(predict(model, x, te)[:, 0], y)[0, 1]
    assert abs(r - shipped) < 1e-4  # the checkpoint is the model that was scored
    xt = torch.from_numpy(np.asarray(x[te[:2]])).requires_grad_(True)
    model(xt).sum().backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all()
    # the attribute stage takes the blend like any checkpoint
    from seqlantern.cli import main

    assert main(["attribute", "--onehot", str(demo_small["onehot"]), "--index",
                 str(demo_small["index"]), "--model", str(tmp_path / "m.json"), "--out",
                 str(tmp_path / "a.npy"), "--predictions", str(tmp_path / "p.tsv"),
                 "--which", "test"]) == 0  # fmt: skip
    a = np.load(tmp_path / "a.npy")
    assert a.shape == (len(te), 4, x.shape[2]) and np.isfinite(a).all() and np.abs(a).sum() > 0


def test_no_blend_under_a_penalty_on_the_original_inputs(
    demo_small: dict[str, Path], tmp_path: Path
) -> None:
    # the same weak network as above, but trained with an attribution penalty on its own
    # inputs: a k-mer part would not be held to the penalty, so none is added
    spans = pd.DataFrame({"row": [0, 1], "start": [0, 0], "end": [10, 10]})
    m = _train(demo_small, tmp_path, epochs=1, kmer_fallback=True, seed=5,
               penalty_spans=spans, penalty_weight=1.0)  # fmt: skip
    assert list(m["model"]) == ["cnn", "kmer_ridge_1-6"]


def test_ensemble_is_the_mean_of_its_members() -> None:
    torch.manual_seed(0)
    e = Ensemble(2, members=3, base="cnn", length=40, filters=[8], dense=4).eval()
    x = torch.from_numpy(_onehot(["ACGT" * 10, "GGGA" * 10]))
    want = torch.stack([m(x) for m in e.members]).mean(0)
    torch.testing.assert_close(e(x), want)


def test_rc_average_model_is_strand_symmetric() -> None:
    torch.manual_seed(0)
    m = SeqCNN(1, length=40, filters=[8], dense=4, rc_average=True,
               global_pool="maxavg", batch_norm=True).eval()  # fmt: skip
    x = torch.from_numpy(_onehot(["ACGTTGCAAGGCTTAA" * 2 + "ACGTACGT"]))
    torch.testing.assert_close(m(x), m(x.flip(1, 2)))


def _train(demo: dict[str, Path], d: Path, **kw: object) -> pd.DataFrame:
    return train(demo["onehot"], demo["index"], demo["targets"], d / "m.json", d / "met.tsv",
                 d / "c.png", columns=["activity"],
                 model_kwargs={"filters": [8], "dense": 4},
                 **{"equal_steps": False, "kmer_fallback": False, **kw})  # type: ignore[arg-type]  # fmt: skip


def test_training_is_byte_identical_and_reports_baseline(
    demo_small: dict[str, Path], tmp_path: Path
) -> None:
    outs = []
    for k in range(2):
        m = _train(demo_small, tmp_path / str(k), epochs=2, ensemble=2, seed=3)
        outs.append((tmp_path / str(k) / "m.safetensors").read_bytes())
        assert list(m["model"]) == ["cnn_ensemble_2", "kmer_ridge_1-6"]
        assert m["stopped"].iloc[0] == "epochs" and np.isfinite(m["pearson"]).all()
    assert outs[0] == outs[1]
    model, meta = load_checkpoint(tmp_path / "0" / "m.json")
    assert meta["architecture"] == "ensemble" and len(model.members) == 2  # type: ignore[arg-type]
    hist = pd.read_csv(tmp_path / "0" / "history.tsv", sep="\t")
    assert sorted(hist["member"].unique()) == [0, 1]


def test_max_minutes_stop_is_recorded(demo_small: dict[str, Path], tmp_path: Path) -> None:
    m = _train(demo_small, tmp_path, epochs=5, max_minutes=1e-9, baseline=False)
    assert list(m["stopped"]) == ["max_minutes"] and list(m["epochs"]) == [1]


def test_bad_training_options_are_one_line_errors(
    demo_small: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(SeqlanternError, match="epochs, patience, ensemble"):
        _train(demo_small, tmp_path, epochs=0)
    with pytest.raises(SeqlanternError, match="lr_schedule"):
        _train(demo_small, tmp_path, lr_schedule="cosine")
    assert not (tmp_path / "m.json").exists()


def test_reverse_complements_and_duplicates_share_a_split(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seqs = ["".join("ACGT"[i] for i in rng.integers(0, 4, 40)) for _ in range(300)]
    recs = [(f"s{i}", s) for i, s in enumerate(seqs)]
    recs += [(f"rc{i}", reverse_complement(seqs[i])) for i in range(100)]
    recs += [(f"dup{i}", seqs[i].lower()) for i in range(100, 150)]
    fa = tmp_path / "x.fa"
    fa.write_text("".join(f">{n}\n{s}\n" for n, s in recs))
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv")
    idx = read_index(tmp_path / "i.tsv").set_index("name")
    for i in range(100):
        assert idx.loc[f"rc{i}", "split"] == idx.loc[f"s{i}", "split"]
        assert idx.loc[f"rc{i}", "duplicate_of"] == f"s{i}"
    for i in range(100, 150):
        assert idx.loc[f"dup{i}", "split"] == idx.loc[f"s{i}", "split"]
    assert (idx["split"] == "test").any()  # random splits are still made


def test_split_file_sets_every_split(tmp_path: Path) -> None:
    from seqlantern.encode import SplitSpec, read_split_file

    fa = tmp_path / "x.fa"
    fa.write_text(">a\nACGTACGTACGTACGTACGTAC\n>b\nTTTTACGTACGTACGTACGTAC\n")
    sp = tmp_path / "split.tsv"
    sp.write_text("name\tvalue\tsplit\na\t1\ttest\nb\t2\tTrain\n")
    encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv",
                 split=SplitSpec(given=read_split_file(sp)))  # fmt: skip
    assert read_index(tmp_path / "i.tsv")["split"].tolist() == ["test", "train"]
    sp.write_text("name\tsplit\na\ttest\nb\tholdout\n")
    with pytest.raises(SeqlanternError, match=r"split.tsv: line 3: split 'holdout'"):
        read_split_file(sp)
    sp.write_text("name\tsplit\na\ttest\n")
    with pytest.raises(SeqlanternError, match=r"record b\): not in the split file"):
        encode_fasta(fa, tmp_path / "y.npy", tmp_path / "j.tsv",
                     split=SplitSpec(given=read_split_file(sp)))  # fmt: skip
    assert not (tmp_path / "y.npy").exists()


def _metrics(cnn: float, base: float) -> pd.DataFrame:
    return pd.DataFrame({"model": ["cnn", "kmer_ridge_1-6"], "split": "test",
                         "target": "activity", "pearson": [cnn, base]})  # fmt: skip


def test_trust_panel_flags_a_model_below_its_baseline() -> None:
    (bad,) = model_check(_metrics(0.2, 0.45))
    assert bad.level == "fail" and "model below baseline" in bad.message
    (good,) = model_check(_metrics(0.8, 0.6))
    assert good.level == "ok"
    level, line = verdict([bad, good])
    assert level == "fail" and line.startswith("DO NOT TRUST") and "below baseline" in line


def test_blend_rows_name_only_the_blended_targets() -> None:
    net = pd.DataFrame({"model": "cnn", "target": ["Dev", "Hk"], "pearson": [0.21, 0.46]})
    shipped = net.assign(pearson=[0.43, 0.46])
    rows = blend_metric_rows(net, shipped, {"Dev"}, "cnn+kmer_ridge_1-6")
    assert list(zip(rows["model"], rows["target"], strict=True)) == [
        ("cnn+kmer_ridge_1-6", "Dev"),
        ("cnn", "Hk"),
        ("network_only:cnn", "Dev"),
    ]
    checks = model_check(
        pd.concat(
            [
                rows,
                pd.DataFrame(
                    {"model": "kmer_ridge_1-6", "target": ["Dev", "Hk"], "pearson": [0.42, 0.42]}
                ),
            ]
        )
    )
    assert [c.level for c in checks] == ["ok", "caution", "ok"]  # no blend note for Hk


def test_trust_panel_says_when_the_model_is_a_blend() -> None:
    m = pd.DataFrame({"model": ["cnn+kmer_ridge_1-6", "network_only:cnn", "kmer_ridge_1-6"],
                      "split": "test", "target": "activity", "pearson": [0.46, 0.2, 0.44]})  # fmt: skip
    checks = model_check(m)
    assert [c.level for c in checks] == ["ok", "caution"]
    assert "0.460 vs baseline 0.440" in checks[0].message
    assert "0.200 alone" in checks[1].message and "k-mer weights" in checks[1].message


def test_trust_panel_flags_no_calls_and_hidden_artifacts() -> None:
    cal = pd.DataFrame({"fdr_level": [0.05, 1.0], "calls": [0, 500],
                        "control_calls_per_copy": [0, 480], "estimated_fdr": [np.nan, 0.96],
                        "candidates": [500, 500]})  # fmt: skip
    (c,) = calls_check(cal, fdr=0.05, n_calls=0)
    assert c.level == "fail" and "no seqlet passes FDR 0.05" in c.message
    # an adapter at the last 10 of 40 bp carrying most of the attribution
    attr = np.zeros((3, 4, 40), dtype=np.float32)
    attr[:, 0, :] = 0.1
    attr[:, 0, 30:] = 2.0
    spans = pd.DataFrame({"row": [0, 1, 2], "start": 30, "end": 40, "name": "truseq",
                          "kind": "adapter"})  # fmt: skip
    rel = artifact_reliance(attr, np.arange(3), spans, 40)
    assert rel["position_share"].iloc[0] == pytest.approx(0.25)
    assert rel["attribution_share"].iloc[0] == pytest.approx(20 / 23, rel=1e-5)
    (a,) = artifact_check(rel, None, n_artifact_elements=0)
    assert a.level == "fail" and "NO element was called on it" in a.message
    # the same attribution spread evenly: no reliance
    flat = artifact_reliance(np.full_like(attr, 0.1), np.arange(3), spans, 40)
    assert artifact_check(flat, None, 0)[0].level == "ok"


def test_report_opens_with_the_trust_verdict(
    tmp_path: Path, demo_small: dict[str, Path], trained_small: Path
) -> None:
    from conftest import ARTIFACTS, DEMO_MOTIFS
    from seqlantern.cli import main

    d = str(tmp_path)
    assert main(["attribute", "--onehot", str(demo_small["onehot"]), "--index",
                 str(demo_small["index"]), "--model", str(trained_small), "--out",
                 f"{d}/a.npy", "--predictions", f"{d}/p.tsv"]) == 0  # fmt: skip
    (tmp_path / "s.tsv").write_text(
        "name\trow\tseqlet_id\tstart\tend\tsign\tscore\tmax_abs\tpvalue\n"
    )
    assert main(["annotate", "--seqlets", f"{d}/s.tsv", "--onehot", str(demo_small["onehot"]),
                 "--attributions", f"{d}/a.npy", "--predictions", f"{d}/p.tsv", "--index",
                 str(demo_small["index"]), "--motifs", str(DEMO_MOTIFS), "--artifacts",
                 str(ARTIFACTS), "--out", f"{d}/e.tsv"]) == 0  # fmt: skip
    cal = "fdr_level\tcalls\tcontrol_calls_per_copy\testimated_fdr\tcandidates\n"
    cases = {
        "bad": (_metrics(0.21, 0.44), cal + "0.05\t0\t0\tNA\t300\n1\t300\t290\t0.967\t300\n"),
        "good": (_metrics(0.85, 0.61), cal + "0.05\t200\t6\t0.03\t300\n1\t300\t90\t0.3\t300\n"),
    }
    html = {}
    for case, (metrics, calibration) in cases.items():
        metrics.to_csv(tmp_path / f"{case}.tsv", sep="\t", index=False)
        (tmp_path / f"{case}_cal.tsv").write_text(calibration)
        assert main(["report", "--elements", f"{d}/e.tsv", "--index", str(demo_small["index"]),
                     "--onehot", str(demo_small["onehot"]), "--attributions", f"{d}/a.npy",
                     "--predictions", f"{d}/p.tsv", "--motifs", str(DEMO_MOTIFS),
                     "--metrics", f"{d}/{case}.tsv", "--calibration", f"{d}/{case}_cal.tsv",
                     "--fdr", "0.05", "--out", f"{d}/{case}.html"]) == 0  # fmt: skip
        html[case] = (tmp_path / f"{case}.html").read_text()
    body = html["bad"].split("<body>")[1]
    assert body.index("Can these maps be trusted?") < body.index("<h2>", 1 + body.index("<h2>"))
    assert "Verdict: DO NOT TRUST" in body and "model below baseline" in body
    assert "no seqlet passes FDR 0.05" in body
    assert "DO NOT TRUST" not in html["good"] and "below baseline" not in html["good"]
    assert "Verdict: maps can be read" in html["good"]


def test_calls_check_says_when_most_signal_is_below_the_cutoff() -> None:
    cal = pd.DataFrame({"fdr_level": [0.05, 1.0], "calls": [50, 1000],
                        "control_calls_per_copy": [2.0, 500.0], "estimated_fdr": [0.04, 0.5],
                        "candidates": [1000, 1000]})  # fmt: skip
    (c,) = calls_check(cal, fdr=0.05, n_calls=50)
    assert c.level == "caution" and "~500 candidates with signal" in c.message
    cal.loc[0, "calls"] = 400
    assert calls_check(cal, fdr=0.05, n_calls=400)[0].level == "ok"
    # the cut-off merge-seqlets raised (seqlets.extend_fdr) is the row reported
    cal = pd.DataFrame({"fdr_level": [0.05, 0.12, 1.0], "calls": [50, 700, 1000],
                        "control_calls_per_copy": [2.0, 80.0, 500.0],
                        "estimated_fdr": [0.04, 0.114, 0.5], "candidates": 1000,
                        "chosen": ["", "yes", ""]})  # fmt: skip
    (c,) = calls_check(cal, fdr=0.05, n_calls=700)
    assert c.message.startswith("700 seqlets pass q <= 0.12 (seqlets.fdr 0.05 raised")
    assert "11.4% false" in c.message


def test_small_libraries_get_the_reference_step_budget() -> None:
    from seqlantern.train import step_scale

    assert step_scale(16_000, 128) == 1.0 and step_scale(1_000_000, 128) == 1.0
    assert step_scale(2_000, 128) == pytest.approx(125 / 16)  # 16 batches vs 125
    assert step_scale(10, 128) == 125.0


def test_a_loaded_model_is_scored_like_a_trained_one(
    demo_small: dict[str, Path], trained_small: Path, tmp_path: Path
) -> None:
    """seqlantern score-model on a checkpoint gives the train stage's own test metrics
    (same split, same predictions, same baseline fit), and the trust panel judges it."""
    from seqlantern.cli import main
    from seqlantern.score import MODEL_ROW

    out = tmp_path / "score.tsv"
    code = main(["score-model", "--onehot", str(demo_small["onehot"]), "--index",
                 str(demo_small["index"]), "--targets", str(demo_small["targets"]),
                 "--model", str(trained_small), "--metrics", str(out), "--threads", "1"])  # fmt: skip
    assert code == 0
    got = pd.read_csv(out, sep="\t")
    want = pd.read_csv(trained_small.with_name("metrics.tsv"), sep="\t")
    assert list(got["model"]) == [MODEL_ROW, "kmer_ridge_1-6"]
    for mine, theirs in (("loaded_model", "cnn"), ("kmer_ridge_1-6", "kmer_ridge_1-6")):
        g, w = got[got["model"] == mine].iloc[0], want[want["model"] == theirs].iloc[0]
        assert g["target"] == w["target"] == "activity" and g["n"] == w["n"]
        assert g["pearson"] == pytest.approx(w["pearson"], abs=1e-6)
    checks = model_check(got)
    assert [c.name for c in checks] == ["model"] and "activity" in checks[0].message


def test_a_loaded_model_below_the_baseline_fails_the_trust_panel(
    demo_small: dict[str, Path], tmp_path: Path
) -> None:
    """A model that predicts noise: scored far below the k-mer baseline, and the panel
    says so with advice for a model you brought (not train.ensemble)."""
    from seqlantern.score import score_model

    class Noise(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            # a fixed function of the sequence that carries no signal: the base at one position
            return x[:, :1, 7].clone()

    m = score_model(demo_small["onehot"], demo_small["index"], demo_small["targets"], Noise(),
                    {"targets": ["activity"]}, tmp_path / "m.tsv", seed=0)  # fmt: skip
    model, base = m.iloc[0], m.iloc[1]
    assert model["model"] == "loaded_model" and model["pearson"] < base["pearson"] - 0.2
    (check,) = model_check(m)
    assert check.level == "fail" and "model below baseline" in check.message
    assert "A model you brought" in check.message and "train.ensemble" not in check.message


def test_outputs_pair_with_target_columns_by_name_or_order(
    demo_small: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from seqlantern.score import pair_outputs, score_model

    assert pair_outputs(["hk", "dev"], 2, ["dev", "hk"]) == [(0, "hk"), (1, "dev")]
    assert pair_outputs(["other", "dev"], 2, ["dev"]) == [(1, "dev")]
    assert pair_outputs(None, 2, ["dev", "hk"]) == [(0, "dev"), (1, "hk")]
    assert pair_outputs(None, 3, ["dev", "hk"]) == []
    # nothing pairs: the header only, and the log says how to fix it
    two = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.LazyLinear(2))
    m = score_model(demo_small["onehot"], demo_small["index"], demo_small["targets"], two,
                    {"targets": ["plus", "minus"]}, tmp_path / "m.tsv")  # fmt: skip
    assert m.empty and (tmp_path / "m.tsv").read_text().startswith("model\tsplit\ttarget")
    assert "matches a target column" in capsys.readouterr().out
    (check,) = model_check(pd.read_csv(tmp_path / "m.tsv", sep="\t"))
    assert check.level == "caution"
    with pytest.raises(SeqlanternError, match="targets table not found"):
        score_model(demo_small["onehot"], demo_small["index"], tmp_path / "none.tsv", two,
                    {}, tmp_path / "x.tsv")  # fmt: skip
