"""The Snakemake workflow itself, on a tiny configuration (marker: workflow)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import ROOT

pytestmark = [pytest.mark.workflow, pytest.mark.slow]


def _config(tmp: Path, **over: object) -> Path:
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    cfg["demo"].update(n=800, motifs=str(ROOT / cfg["demo"]["motifs"]))
    cfg["train"].update(epochs=2, equal_steps=False, options={"filters": [16], "dense": 8})
    cfg["diagnostics"].update(sequences=8, methods=["gradient_x_input", "ism"])
    # small batches: the ~80 test sequences then fill several shards when sharded
    cfg["attribution"].update(batch_size=16)
    cfg["annotate"].update(
        motifs=str(ROOT / "resources/motifs/demo_motifs.meme"),
        families=str(ROOT / cfg["annotate"]["families"]),
        artifacts=[str(ROOT / a) for a in cfg["annotate"]["artifacts"]],
    )
    for k, v in over.items():
        if isinstance(v, dict):
            cfg[k].update(v)  # type: ignore[attr-defined]
        else:
            cfg[k] = v
    path = tmp / "config.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _snakemake(tmp: Path, config: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake is not installed")
    cmd = ["snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp),
           "--configfile", str(config), "--cores", "2", *extra]  # fmt: skip
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900)


def test_workflow_demo_then_load_checkpoint(tmp_path: Path) -> None:
    run = _snakemake(tmp_path, _config(tmp_path))
    assert run.returncode == 0, run.stderr[-3000:]
    for f in ("results/report/report.html", "results/export/candidates.bed",
              "results/export/artifacts.bed", "results/evaluate/evaluation.tsv",
              "logs/train_model/train_model.log", "results/annotate/constant.tsv",
              "results/shortcuts/elements.tsv", "results/shortcuts/dataset.tsv",
              "results/debias/comparison.tsv", "logs/train_debiased/train_debiased.log",
              "results/methods/comparison.tsv", "results/methods/erf.tsv",
              "benchmarks/attribute_sequences/0.tsv"):  # fmt: skip
        assert (tmp_path / f).is_file(), f
    # long steps wrote progress into their logs (a line per tenth / per epoch)
    att = (tmp_path / "logs/attribute_sequences/0.log").read_text()
    assert "(100%)" in att and "[attribute" in att
    assert "epoch 1/" in (tmp_path / "logs/train_model/train_model.log").read_text()
    from browser import available, probe  # the demo's report as a reader sees it

    if available():  # without Chromium the rest of this test still runs
        found = probe(tmp_path / "results/report/report.html")
        assert found["overflow"] <= 0 and found["errors"] == [], found
        assert found["missing_anchors"] == [] and found["bad_images"] == 0, found
    # genome-browser tracks of the run, and Snakemake's own report of it
    import zipfile

    import pybigtools

    bb = pybigtools.open(str(tmp_path / "results/tracks/elements.bb"))
    n_bb = sum(len(list(bb.records(c))) for c in bb.chroms())
    n_bed = len((tmp_path / "results/export/all_elements.bed").read_text().splitlines())
    assert n_bb == n_bed > 0
    rep = _snakemake(tmp_path, _config(tmp_path), "--report", str(tmp_path / "report.zip"))
    assert rep.returncode == 0, rep.stderr[-3000:]
    names = "\n".join(zipfile.ZipFile(tmp_path / "report.zip").namelist())
    for f in ("report.html", "candidates.browser.bed", "all_elements.bed", "attribution.bw",
              "elements.bb", "elements.tsv", "groups.tsv", "learning_curve.png",
              "metrics.tsv", "comparison.tsv", "evaluation.tsv"):  # fmt: skip
        assert f in names, f
    ev = (tmp_path / "results/evaluate/evaluation.tsv").read_text()
    assert "artifact_shortcut" in ev and "functional_plausible" in ev
    assert "share_of_top_decile_signal_on_artifacts" in (
        tmp_path / "results/shortcuts/dataset.tsv").read_text()  # fmt: skip
    # second run: load the trained checkpoint instead of training, in 4 shards
    other = tmp_path / "load"
    other.mkdir()
    ckpt = tmp_path / "results/train/model.json"
    dry = _snakemake(other, _config(other, model={"checkpoint": str(ckpt)},
                                    attribution={"sequences": "valid"}), "-n")  # fmt: skip
    assert dry.returncode == 0 and "train_model" not in dry.stdout
    assert "train_debiased" not in dry.stdout  # debiasing needs the training data path
    assert "score_model" in dry.stdout  # a loaded model is scored on the measured targets
    cfg = _config(other, model={"checkpoint": str(ckpt)}, shards=4)
    run = _snakemake(other, cfg)
    assert run.returncode == 0, run.stderr[-3000:]
    assert (other / "results/report/report.html").is_file()
    assert not (other / "results/train").exists()
    # the loaded model's test metrics are the ones its training run reported
    score = pd.read_csv(other / "results/score/metrics.tsv", sep="\t")
    trained = pd.read_csv(tmp_path / "results/train/metrics.tsv", sep="\t")
    assert score["pearson"].iloc[0] == pytest.approx(trained["pearson"].iloc[0], abs=1e-6)
    assert "The model was loaded, not trained" in (
        other / "results/report/report.html").read_text()  # fmt: skip
    # every shard ran as its own job, and the outputs are those of the unsharded run
    sizes = [len((other / f"results/attribute/shards/{s}/predictions.tsv").read_text()
                 .splitlines()) - 1 for s in range(4)]  # fmt: skip
    assert sum(sizes) > 0 and sum(s > 0 for s in sizes) >= 3, sizes
    for f in ("results/export/candidates.bed", "results/export/artifacts.bed",
              "results/export/all_elements.bed", "results/seqlets/seqlets.tsv",
              "results/annotate/elements.tsv", "results/annotate/groups.tsv",
              "results/shortcuts/elements.tsv", "results/attribute/attributions.npy"):  # fmt: skip
        assert (other / f).read_bytes() == (tmp_path / f).read_bytes(), f


def test_workflow_rejects_bad_config(tmp_path: Path) -> None:
    cfg = _config(tmp_path, seqlets={"null_model": "gaussian"})
    run = _snakemake(tmp_path, cfg, "-n")
    assert run.returncode != 0 and "gaussian" in run.stderr + run.stdout


def test_config_typo_stops_before_any_job(tmp_path: Path) -> None:
    """An unknown key is an error naming the file, the key path and the closest key."""
    cfg = _config(tmp_path)
    data = yaml.safe_load(cfg.read_text())
    data["train"]["epoch"] = 50
    cfg.write_text(yaml.safe_dump(data))
    run = _snakemake(tmp_path, cfg, "-n")
    out = run.stderr + run.stdout
    assert run.returncode == 1 and "Traceback" not in out
    assert f"{cfg}: train.epoch: unknown key; did you mean train.epochs?" in out


def test_taxon_and_a_motif_file_are_one_choice(tmp_path: Path) -> None:
    """annotate.taxon picks the shipped collection; with another motif file set too, the
    run stops with one line naming both keys."""
    cfg = _config(tmp_path, annotate={"taxon": "fungi"})
    run = _snakemake(tmp_path, cfg, "-n")
    out = run.stderr + run.stdout
    assert run.returncode == 1 and "annotate.taxon (fungi) and annotate.motifs" in out
    assert "Traceback" not in out


def test_default_families_follow_the_motif_file(tmp_path: Path) -> None:
    """Insect motifs with the families key left at its (vertebrate) default use the insect
    table beside the motif file."""
    cfg = _config(
        tmp_path, annotate={"motifs": str(ROOT / "resources/motifs/JASPAR2026_CORE_insects.meme")}
    )
    run = _snakemake(tmp_path, cfg, "-n", "-p")
    out = run.stderr + run.stdout
    assert run.returncode == 0, out[-2000:]
    assert "JASPAR2026_CORE_insects.families.tsv" in out
    assert "JASPAR2026_CORE_vertebrates.families.tsv" not in out


def test_lint_is_clean() -> None:
    if shutil.which("snakemake") is None:
        pytest.skip("snakemake is not installed")
    run = subprocess.run(["snakemake", "--lint"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert run.returncode == 0 and "good condition" in run.stdout + run.stderr


def test_results_dir_keeps_runs_apart(tmp_path: Path) -> None:
    """With results_dir set, every output, log and benchmark of the run lies inside it, so
    an example never touches the demo's results/ (dry run: the planned paths)."""
    cfg = _config(tmp_path, results_dir="results/examples/mine")
    run = _snakemake(tmp_path, cfg, "-n", "--forceall")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-2000:]
    paths = [p.strip().rstrip(",") for line in out.splitlines()
             if line.strip().startswith(("output:", "log:", "benchmark:"))
             for p in line.split(":", 1)[1].split(",")]  # fmt: skip
    assert len(paths) > 30
    outside = [p for p in paths if p and not p.startswith("results/examples/mine/")]
    assert outside == [], outside[:5]


def test_tiling_needs_a_model(tmp_path: Path) -> None:
    """Tiles have no targets: asking to train on them is one line naming the keys."""
    genome = ROOT / "resources/genome/hg38_chr22_32000000_32300000.fa"
    cfg = _config(tmp_path, demo={"enabled": False},
                  data={"genome": str(genome), "tiling": {"window": 200, "stride": 100}})  # fmt: skip
    run = _snakemake(tmp_path, cfg, "-n")
    out = run.stderr + run.stdout
    assert run.returncode == 1 and "Traceback" not in out
    assert "data.tiling: tiles have no targets to train on; set model.checkpoint" in out
    cfg = _config(tmp_path, demo={"enabled": False}, model={"checkpoint": "m.json"},
                  data={"genome": str(genome), "tiling": {"window": 200, "stride": 100}})  # fmt: skip
    (tmp_path / "m.json").write_text("{}")
    dry = _snakemake(tmp_path, cfg, "-n", "-p")
    assert dry.returncode == 0, (dry.stdout + dry.stderr)[-2000:]
    assert "--tile-window 200 --tile-stride 100" in dry.stdout and "train_model" not in dry.stdout
    assert "score_model" not in dry.stdout  # tiles have no measured targets


def test_workflow_on_a_bpnet_profile_head(tmp_path: Path) -> None:
    """The whole workflow on bpnet-lite's BPNet (profile + counts heads), attributing the
    profile head through model.output (no training)."""
    pytest.importorskip("bpnetlite")
    import torch
    from bpnetlite.bpnet import BPNet

    kwargs = {"n_filters": 8, "n_layers": 2, "n_outputs": 2, "n_control_tracks": 0,
              "trimming": 10, "verbose": False}  # fmt: skip
    torch.manual_seed(0)
    torch.save(BPNet(**kwargs).state_dict(), tmp_path / "bpnet.pt")
    cfg = _config(tmp_path, model={"import_path": "bpnetlite.bpnet:BPNet",
                                   "weights": str(tmp_path / "bpnet.pt"), "kwargs": kwargs,
                                   "output": {"select": 0, "reduce": "profile"}},
                  diagnostics={"enabled": False})  # fmt: skip
    run = _snakemake(tmp_path, cfg)
    assert run.returncode == 0, run.stderr[-3000:]
    assert not (tmp_path / "results/train").exists()
    assert (tmp_path / "results/report/report.html").is_file()
    preds = (tmp_path / "results/attribute/predictions.tsv").read_text().splitlines()
    assert preds[0].split("\t")[:3] == ["name", "row", "pred_0"] and len(preds) > 10
    # the rule passed the head spec to every model stage
    dry = _snakemake(tmp_path, cfg, "-n", "-p", "--forceall")
    assert "--model-output" in dry.stdout and '"reduce": "profile"' in dry.stdout
    # every output of the counts head in one run: one sub-run per named output, no training
    model = {"import_path": "bpnetlite.bpnet:BPNet", "weights": str(tmp_path / "bpnet.pt"),
             "kwargs": kwargs, "output": {"select": 1}}  # fmt: skip
    both = _config(tmp_path, model={**model, "targets": ["plus", "minus"]},
                   attribution={"target": "all"}, diagnostics={"enabled": False})  # fmt: skip
    dry = _snakemake(tmp_path, both, "-n", "-p", "--forceall")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert "target_plus_attribute_sequences" in dry.stdout and "train_model" not in dry.stdout
    assert "--target plus" in dry.stdout and "--target minus" in dry.stdout
    assert "results/targets/minus/export/all_elements.bed" in dry.stdout
    unnamed = _config(tmp_path, model=model, attribution={"target": "all"})
    out = _snakemake(tmp_path, unnamed, "-n")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "attribution.target: all needs the names of the model's outputs" in out.stderr


def test_workflow_training_variants(tmp_path: Path) -> None:
    """compare_training: every variant trained, a student distilled from each of the two
    default teachers, one table and a report section (tiny demo, 2 epochs each)."""
    cfg = _config(tmp_path, compare_training={"enabled": True, "mask_probability": 1.0},
                  debias={"enabled": False}, diagnostics={"enabled": False},
                  tracks={"enabled": False}, patterns={"enabled": False})  # fmt: skip
    run = _snakemake(tmp_path, cfg)
    assert run.returncode == 0, run.stderr[-3000:]
    table = (tmp_path / "results/variants/comparison.tsv").read_text().splitlines()
    variants = [line.split("\t")[0] for line in table[1:]]
    assert variants == ["plain", "salient_mask", "random_mask", "consistency", "feedback",
                        "distill_plain", "distill_consistency"]  # fmt: skip
    assert "teacher_map_correlation" in table[0]
    report = (tmp_path / "results/report/report.html").read_text()
    assert "Training with attributions" in report
    assert "Distillation from more than one teacher" in report
    import json

    meta = json.loads((tmp_path / "results/variants/consistency/model.json").read_text())
    assert "guidance" in json.dumps(meta)


def test_workflow_every_target_in_one_run(tmp_path: Path) -> None:
    """attribution.target: all on a two-target library: one encoding and one training,
    then every later stage once per target in results/targets/<target>/, each with its
    own maps (of that target's output), elements, BED files and report."""
    import numpy as np
    import pandas as pd

    from seqlantern.simulate import write_demo

    cfg0 = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    write_demo(ROOT / cfg0["demo"]["motifs"], tmp_path / "lib.fa", tmp_path / "t.tsv",
               tmp_path / "truth.tsv", n=800, seed=3)  # fmt: skip
    t = pd.read_csv(tmp_path / "t.tsv", sep="\t")
    rng = np.random.default_rng(0)
    # a second assay that reads the same sequences differently (sign flipped, noisier)
    t["repressed"] = -t["activity"] + rng.normal(0, 0.5, len(t))
    t.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    cfg = _config(tmp_path, demo={"enabled": False},
                  data={"fasta": str(tmp_path / "lib.fa"), "targets": str(tmp_path / "t.tsv"),
                        "truth": str(tmp_path / "truth.tsv")},
                  train={"targets": ["activity", "repressed"]},
                  attribution={"target": "all"}, diagnostics={"enabled": False},
                  tracks={"enabled": False}, patterns={"enabled": False})  # fmt: skip
    run = _snakemake(tmp_path, cfg)
    assert run.returncode == 0, run.stderr[-3000:]
    res = tmp_path / "results"
    assert len(list((tmp_path / "logs").glob("train_model/*.log"))) == 1
    assert not (res / "targets/activity/encode").exists()  # encoded once, shared
    maps = {}
    for target in ("activity", "repressed"):
        d = res / "targets" / target
        for f in ("report/report.html", "export/candidates.bed", "export/all_elements.bed",
                  "shortcuts/elements.tsv", "evaluate/evaluation.tsv"):  # fmt: skip
            assert (d / f).is_file(), (target, f)
        maps[target] = np.load(d / "attribute/attributions.npy")
        run_cfg = yaml.safe_load((d / "report/config.yaml").read_text())
        assert run_cfg["attribution"]["target"] == target
        assert "Debias (retraining without the artifact spans) not run: this is one target" in (
            d / "report/report.html").read_text()  # fmt: skip
    a, r = maps["activity"].ravel(), maps["repressed"].ravel()
    assert a.shape == r.shape and np.corrcoef(a, r)[0, 1] < 0  # opposite assays, opposite maps
    # a target name that cannot name a folder, and compare_training with all: one line each
    bad = _config(tmp_path, demo={"enabled": False},
                  data={"fasta": str(tmp_path / "lib.fa"), "targets": str(tmp_path / "t.tsv")},
                  train={"targets": ["activity", "repressed"]},
                  attribution={"target": "all"}, compare_training={"enabled": True})  # fmt: skip
    out = _snakemake(tmp_path, bad, "-n")
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert "compare_training.enabled: not available with attribution.target: all" in out.stderr


def test_species_selects_the_motifs_every_matching_step_reads(tmp_path: Path) -> None:
    """annotate.species adds select_motifs; annotation, grouping, patterns and the report
    read its output instead of the whole collection."""
    cfg = _config(tmp_path, annotate={
        "motifs": str(ROOT / "resources/motifs/JASPAR2026_CORE_fungi.meme"),
        "families": str(ROOT / "resources/motifs/JASPAR2026_CORE_fungi.families.tsv"),
        "species": ["Saccharomyces cerevisiae"]})  # fmt: skip
    run = _snakemake(tmp_path, cfg, "-n", "-p")
    out = run.stderr + run.stdout
    assert run.returncode == 0, out[-2000:]
    assert "seqlantern select-motifs" in out and "--species 'Saccharomyces cerevisiae'" in out
    for command in ("seqlantern annotate", "seqlantern group-elements", "seqlantern report"):
        lines = [ln for ln in out.splitlines() if command in ln]
        assert lines and all("--motifs results/annotate/motifs.meme" in ln for ln in lines), command
