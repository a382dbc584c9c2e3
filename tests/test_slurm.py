"""The demo workflow through a real SLURM scheduler (marker: slurm).

Runs only where a SLURM cluster answers (``.ci/run`` starts a one-node cluster on
localhost as root: ``.ci/slurm.sh``); elsewhere it is skipped, unless
``SEQLANTERN_REQUIRE_SLURM=1`` says a cluster was started, in which case a missing one
fails the test instead of hiding it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from test_workflow import _config

pytestmark = [pytest.mark.slurm, pytest.mark.workflow, pytest.mark.slow]


def _cluster_up() -> bool:
    if shutil.which("sbatch") is None or shutil.which("sinfo") is None:
        return False
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                             timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and bool(re.search(r"idle|mixed|allocated", out.stdout))


def _plugin_installed() -> bool:
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return False
    return True


def test_demo_on_slurm(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    required = os.environ.get("SEQLANTERN_REQUIRE_SLURM") == "1"
    for ok, why in (
        (_cluster_up(), "no SLURM cluster answers (sinfo)"),
        (_plugin_installed(), "snakemake-executor-plugin-slurm is not installed"),
    ):
        if not ok:
            if required:
                pytest.fail(f"SEQLANTERN_REQUIRE_SLURM=1 but {why}")
            pytest.skip(why)
    # reduced demo, two shards: the scatter/gather rules run as separate SLURM jobs
    cfg = _config(tmp_path, shards=2, debias={"enabled": False},
                  diagnostics={"enabled": False})  # fmt: skip
    cmd = ["timeout", "-k", "30", "1200",
           "snakemake", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(cfg),
           "--workflow-profile", str(ROOT / "workflow" / "profiles" / "slurm"),
           # no slurmdbd here: sacct would wait forever, squeue answers
           "--slurm-status-command", "squeue",
           "--slurm-init-seconds-before-status-checks", "1",
           "--jobs", "4"]  # fmt: skip
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    log = run.stdout + run.stderr
    jobs = re.findall(
        r"has been submitted with SLURM jobid (\d+) \(log: \S*slurm_logs/rule_(\w+)/", log
    )
    with capsys.disabled():  # the SLURM jobs, shown in the CI log even when the test passes
        print(f"\nSLURM jobs of the demo run ({len(jobs)}):")
        for jobid, rule in jobs:
            print(f"  SLURM job {jobid}: {rule}")
    assert run.returncode == 0, log[-4000:]
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", log)
    rules = set(re.findall(r"slurm_logs/rule_(\w+)/", log))
    assert len(submitted) >= 10, submitted
    assert {
        "train_model",
        "attribute_sequences",
        "call_seqlets",
        "annotate_seqlets",
        "merge_seqlets",
        "group_elements",
        "render_report",
    } <= rules, rules
    # the per-shard rules ran as one SLURM job per shard
    for rule in ("attribute_sequences", "call_seqlets", "annotate_seqlets"):
        assert len(set(re.findall(rf"slurm_logs/rule_{rule}/(?:[^/\s]+/)?(\d+)\.log", log))) == 2, (
            rule
        )
    for f in (
        "results/report/report.html",
        "results/export/candidates.bed",
        "results/evaluate/evaluation.tsv",
    ):
        assert (tmp_path / f).is_file(), f
