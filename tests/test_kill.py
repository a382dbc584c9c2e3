"""A job killed outright (SIGKILL) leaves no output that looks finished, and its rerun
leaves no temporaries and gives the same bytes as an uninterrupted run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _attribute(d: dict[str, Path], model: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "seqlantern.cli", "attribute", "--onehot", str(d["onehot"]),
            "--index", str(d["index"]), "--model", str(model), "--batch-size", "16",
            "--out", str(out / "a.npy"), "--predictions", str(out / "p.tsv")]  # fmt: skip


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_sigkill_mid_attribute_then_rerun(tmp_path: Path, demo_small: dict[str, Path],
                                          trained_small: Path) -> None:  # fmt: skip
    ref, out = tmp_path / "ref", tmp_path / "out"
    ref.mkdir()
    out.mkdir()
    subprocess.run(_attribute(demo_small, trained_small, ref), check=True, capture_output=True)
    proc = subprocess.Popen(_attribute(demo_small, trained_small, out),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(out.glob(".a.npy.*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "attribute finished before it could be killed"
    assert list(out.glob(".*.tmp*")), "the kill left no temporary: nothing was tested"
    assert not (out / "a.npy").exists()  # nothing that looks finished
    subprocess.run(_attribute(demo_small, trained_small, out), check=True, capture_output=True)
    assert sorted(p.name for p in out.iterdir()) == ["a.npy", "p.tsv"]  # no leftovers
    for name in ("a.npy", "p.tsv"):
        assert (out / name).read_bytes() == (ref / name).read_bytes()
