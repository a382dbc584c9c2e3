"""Sharding and streaming: shard bounds, lazy arrays, and sharded results equal unsharded."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import ARTIFACTS, JASPAR
from seqlantern.attribute import attribute, attribute_controls
from seqlantern.cli import main
from seqlantern.io import SeqlanternError, load_npy, open_npy_writer
from seqlantern.models import load_checkpoint
from seqlantern.seqlets import (
    EmpiricalNull,
    SeqletParams,
    call_shard,
    call_with_control,
    fit_null,
    merge_calls,
    read_null,
    write_null,
)
from seqlantern.shards import StackedRows, concat_npy, concat_tsv, shard_bounds


def test_shard_bounds_cover_in_batch_multiples() -> None:
    for n, k, align in [(1000, 4, 128), (80, 4, 16), (5, 3, 1), (0, 2, 8), (130, 4, 64)]:
        b = shard_bounds(n, k, align=align)
        assert len(b) == k and b[0][0] == 0 and b[-1][1] == n
        assert all(b[i][1] == b[i + 1][0] for i in range(k - 1))
        assert all(lo % align == 0 for lo, hi in b if hi > lo)
    assert shard_bounds(80, 4, align=16) == [(0, 32), (32, 64), (64, 80), (80, 80)]
    with pytest.raises(SeqlanternError):
        shard_bounds(10, 0)


def test_stacked_rows_and_concat(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 4, 7)).astype(np.float32) for n in (5, 0, 3, 9)]
    paths = []
    for i, p in enumerate(parts):
        paths.append(tmp_path / f"{i}.npy")
        np.save(paths[-1], p)
    full = np.concatenate(parts)
    st = StackedRows.load(paths, what="x")
    assert st.shape == full.shape and len(st) == 17
    idx = np.array([16, 0, 5, 5, 8, 4])
    assert np.array_equal(st[idx], full[idx]) and np.array_equal(st[3:12], full[3:12])
    assert np.array_equal(st[np.int64(6)], full[6])
    with pytest.raises(IndexError):
        st[np.array([17])]
    assert concat_npy(paths, tmp_path / "all.npy", chunk=2) == full.shape
    assert np.array_equal(np.load(tmp_path / "all.npy"), full)
    for i, n in enumerate((2, 0, 1)):
        pd.DataFrame({"name": [f"s{i}_{j}" for j in range(n)], "v": range(n)}).to_csv(
            tmp_path / f"{i}.tsv", sep="\t", index=False)  # fmt: skip
    assert concat_tsv([tmp_path / f"{i}.tsv" for i in range(3)], tmp_path / "all.tsv") == 3
    assert pd.read_csv(tmp_path / "all.tsv", sep="\t")["name"].tolist() == ["s0_0", "s0_1",
                                                                           "s2_0"]  # fmt: skip
    (tmp_path / "bad.tsv").write_text("name\tw\nx\t1\n")
    with pytest.raises(SeqlanternError, match="header differs"):
        concat_tsv([tmp_path / "0.tsv", tmp_path / "bad.tsv"], tmp_path / "x.tsv")
    assert not (tmp_path / "x.tsv").exists()
    with pytest.raises(SeqlanternError, match="disagree in shape"):
        StackedRows([np.zeros((2, 4, 7)), np.zeros((2, 4, 8))])


def test_npy_writer_is_sequential_and_complete(tmp_path: Path) -> None:
    w = open_npy_writer(tmp_path / "w.npy", (4, 2), np.float32)
    w[0:2] = np.ones((2, 2))
    with pytest.raises(ValueError, match="out of order"):
        w[3:4] = np.ones((1, 2))
    w[2] = np.full(2, 2.0)
    with pytest.raises(ValueError, match="3 of 4 rows"):
        w.close()
    w = open_npy_writer(tmp_path / "v.npy", (3, 2), np.float32)
    w[0:3] = np.arange(6).reshape(3, 2)
    w.close()
    assert np.array_equal(np.load(tmp_path / "v.npy"), np.arange(6, dtype=np.float32).reshape(3, 2))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_npy_array_releases_mapped_pages(tmp_path: Path) -> None:
    """Streaming through a mapped file keeps resident file pages at about the budget."""

    def rss_file_mb() -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("RssFile:"):
                return int(line.split()[1]) / 1024
        return 0.0

    big = np.random.default_rng(0).normal(size=(3000, 4, 1000)).astype(np.float32)  # 48 MB
    np.save(tmp_path / "big.npy", big)
    del big
    a = load_npy(tmp_path / "big.npy", what="x")
    a._budget = 4 << 20
    before = rss_file_mb()
    total, peak = 0.0, 0.0
    for i in range(0, len(a), 100):
        total += float(a[i : i + 100].sum())
        peak = max(peak, rss_file_mb() - before)
    assert np.isfinite(total)
    assert peak < 24, peak  # without release() the whole 48 MB would stay resident
    plain = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert np.array_equal(a[[5, 2999, 0]], plain[[5, 2999, 0]])
    assert np.array_equal(np.asarray(a), plain) and a.shape == plain.shape


@pytest.mark.parametrize("null", ["laplace", "empirical"])
def test_null_round_trip_is_exact(tmp_path: Path, null: str) -> None:
    attr = np.random.default_rng(1).laplace(size=(60, 4, 50))
    fitted = fit_null(attr, SeqletParams(null=null, null_spans=300))
    write_null(fitted, tmp_path / "n.tsv")
    back = read_null(tmp_path / "n.tsv")
    assert type(back) is type(fitted)
    if isinstance(fitted, EmpiricalNull):
        assert all(np.array_equal(fitted.sorted_sums[k], back.sorted_sums[k])  # type: ignore[union-attr]
                   for k in fitted.sorted_sums)  # fmt: skip
    else:
        assert fitted == back
    (tmp_path / "bad.tsv").write_text("null\tlength\nnormal\t5\n")
    with pytest.raises(SeqlanternError, match="fit-null"):
        read_null(tmp_path / "bad.tsv")


def _planted_maps(n: int, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    attr = rng.normal(0, 0.05, size=(n, 4, 80))
    for i in range(0, n, 2):
        s = rng.integers(0, 70)
        attr[i, rng.integers(0, 4), s : s + 8] += rng.choice([-1, 1]) * 0.6
    return attr, rng.normal(0, 0.05, size=(n * k, 4, 80))


def test_sharded_calls_equal_unsharded() -> None:
    attr, ctrl = _planted_maps(90, 3, 2)
    names, rows = [f"s{i}" for i in range(90)], np.arange(90)[::-1].copy()  # rows not sorted
    params = SeqletParams(pvalue=0.1)
    whole = call_with_control(attr, names, rows, ctrl, params, fdr=0.1)
    assert len(whole) > 20
    null = fit_null(StackedRows([attr[:40], attr[40:40], attr[40:]]), params)
    cands, strengths = [], []
    for lo, hi in shard_bounds(90, 4, align=8):
        c, s = call_shard(attr[lo:hi], names[lo:hi], rows[lo:hi], params, null=null,
                          control_attr=ctrl[lo * 3 : hi * 3])  # fmt: skip
        cands.append(c)
        strengths.append(s)
    merged = merge_calls(cands, strengths, shuffles=3, fdr=0.1)  # type: ignore[arg-type]
    pd.testing.assert_frame_equal(merged, whole)
    with pytest.raises(SeqlanternError, match="whole shuffles"):
        call_shard(attr[:10], names[:10], rows[:10], params, null=null, control_attr=ctrl[:7])


def test_sharded_attribution_and_annotation_equal_unsharded(
    demo_small: dict[str, Path], trained_small: Path, tmp_path: Path
) -> None:
    model, _ = load_checkpoint(trained_small)
    x = load_npy(demo_small["onehot"], what="x")
    rows = np.arange(100, 170)
    names = [f"s{r}" for r in rows]
    d = tmp_path
    attribute(model, x, rows, names, d / "a.npy", d / "p.tsv", out_hypothetical=d / "h.npy",
              batch_size=16, method="expected_gradients", references=2)  # fmt: skip
    attribute_controls(model, x, rows, names, d / "c.npy", d / "c.tsv", shuffles=2, seed=4,
                       batch_size=16)  # fmt: skip
    bounds = shard_bounds(len(rows), 3, align=16)
    for s, (lo, hi) in enumerate(bounds):
        attribute(model, x, rows[lo:hi], names[lo:hi], d / f"a{s}.npy", d / f"p{s}.tsv",
                  out_hypothetical=d / f"h{s}.npy", batch_size=16, position_offset=lo,
                  method="expected_gradients", references=2)  # fmt: skip
        attribute_controls(model, x, rows[lo:hi], names[lo:hi], d / f"c{s}.npy",
                           d / f"c{s}.tsv", shuffles=2, seed=4, batch_size=16,
                           position_offset=lo)  # fmt: skip
    for stem in ("a", "h", "c"):
        shards = np.concatenate([np.load(d / f"{stem}{s}.npy") for s in range(3)])
        assert np.array_equal(shards, np.load(d / f"{stem}.npy")), stem
    concat_tsv([d / f"c{s}.tsv" for s in range(3)], d / "c_all.tsv")
    assert (d / "c_all.tsv").read_text() == (d / "c.tsv").read_text()

    # seqlets of the whole set, annotated whole and per shard
    assert (
        main(
            [
                "call-seqlets",
                "--attributions",
                str(d / "a.npy"),
                "--predictions",
                str(d / "p.tsv"),
                "--pvalue",
                "0.05",
                "--null",
                "laplace",
                "--out",
                str(d / "s.tsv"),
            ]
        )
        == 0
    )
    ann = ["--onehot", str(demo_small["onehot"]), "--index", str(demo_small["index"]),
           "--motifs", str(JASPAR), "--artifacts", str(ARTIFACTS)]  # fmt: skip
    assert main(["annotate", "--seqlets", str(d / "s.tsv"), "--attributions", str(d / "a.npy"),
                 "--predictions", str(d / "p.tsv"), "--hypothetical", str(d / "h.npy"), *ann,
                 "--out", str(d / "e.tsv"), "--groups", str(d / "g.tsv")]) == 0  # fmt: skip
    for s in range(3):
        assert main(["annotate", "--shard", "--seqlets", str(d / "s.tsv"), "--attributions",
                     str(d / f"a{s}.npy"), "--predictions", str(d / f"p{s}.tsv"),
                     "--hypothetical", str(d / f"h{s}.npy"), *ann,
                     "--out", str(d / f"e{s}.tsv")]) == 0  # fmt: skip
    assert (
        main(
            [
                "group-elements",
                "--elements",
                *[str(d / f"e{s}.tsv") for s in range(3)],
                *ann[:6],
                "--out",
                str(d / "eg.tsv"),
                "--groups",
                str(d / "gg.tsv"),
            ]
        )
        == 0
    )
    assert len(pd.read_csv(d / "e.tsv", sep="\t")) > 5
    assert (d / "eg.tsv").read_text() == (d / "e.tsv").read_text()
    assert (d / "gg.tsv").read_text() == (d / "g.tsv").read_text()


def test_shard_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    np.save(tmp_path / "a.npy", np.zeros((2, 4, 20), dtype=np.float32))
    code = main(
        [
            "merge-seqlets",
            "--candidates",
            str(tmp_path / "c0.tsv"),
            str(tmp_path / "c1.tsv"),
            "--control-strengths",
            str(tmp_path / "s0.npy"),
            "--out",
            str(tmp_path / "s.tsv"),
        ]
    )
    err = capsys.readouterr().err
    assert code == 1 and "one of each per shard" in err and not (tmp_path / "s.tsv").exists()
    code = main(["merge-seqlets", "--candidates", str(tmp_path / "c0.tsv"), "--out",
                 str(tmp_path / "s.tsv")])  # fmt: skip
    assert code == 1 and "c0.tsv" in capsys.readouterr().err
    code = main(
        [
            "gather-attributions",
            "--attributions",
            str(tmp_path / "a.npy"),
            "--predictions",
            str(tmp_path / "p0.tsv"),
            str(tmp_path / "p1.tsv"),
            "--out",
            str(tmp_path / "g.npy"),
            "--out-predictions",
            str(tmp_path / "g.tsv"),
        ]
    )
    assert code == 1 and "one --predictions table per" in capsys.readouterr().err


def test_shard_options_errors(demo_small: dict[str, Path], trained_small: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    code = main(["attribute", "--onehot", str(demo_small["onehot"]), "--index",
                 str(demo_small["index"]), "--model", str(trained_small), "--shards", "2",
                 "--shard", "2", "--out", str(tmp_path / "a.npy"), "--predictions",
                 str(tmp_path / "p.tsv")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "--shard 2 must be in 0..1" in err
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "p.tsv").exists()
    code = main(["annotate", "--shard", "--seqlets", "s.tsv", "--onehot", "x.npy",
                 "--attributions", "a.npy", "--predictions", "p.tsv", "--index", "i.tsv",
                 "--motifs", str(JASPAR), "--artifacts", str(ARTIFACTS), "--out",
                 str(tmp_path / "e.tsv"), "--groups", str(tmp_path / "g.tsv")])  # fmt: skip
    assert code == 1 and "group-elements" in capsys.readouterr().err
