"""Bad input: one line naming file and record/line, exit status 1, no partial outputs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import ARTIFACTS, JASPAR
from seqlantern.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(args)
    err = capsys.readouterr().err.strip()
    return code, err


def _check(code: int, err: str, *needles: str) -> None:
    assert code == 1
    assert len(err.splitlines()) == 1, err
    for n in needles:
        assert n in err, err


def _encode(tmp: Path, fasta: Path, *extra: str) -> list[str]:
    return ["encode", "--fasta", str(fasta), "--onehot", str(tmp / "o.npy"),
            "--index", str(tmp / "o.tsv"), *extra]  # fmt: skip


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ["missing.fa", "not found"]),
        ("", ["no records"]),
        (">a\n" + "ACGT" * 10 + "\n>a\n" + "ACGT" * 10 + "\n", ["line 3", "duplicate", "'a'"]),
        (">a\n" + "ACGT" * 10 + "\n>b\nACGU" + "A" * 36 + "\n", ["line 4", "record b", "'U'"]),
        (">a\n" + "ACGT" * 10 + "\n>b\nACGT\n", ["line 3", "record b", "shorter"]),
    ],
)
def test_encode_bad_fasta(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          content: str | None, needles: list[str]) -> None:  # fmt: skip
    fa = tmp_path / "missing.fa"
    if content is not None:
        fa = tmp_path / "in.fa"
        fa.write_text(content)
    code, err = _run(_encode(tmp_path, fa, "--length", "40"), capsys)
    _check(code, err, "seqlantern encode: error:", *needles)
    assert not (tmp_path / "o.npy").exists() and not (tmp_path / "o.tsv").exists()
    assert not list(tmp_path.glob(".o.*"))  # no temporary files left behind


def _train(tmp: Path, d: dict[str, Path], targets: Path, columns: str) -> list[str]:
    return ["train", "--onehot", str(d["onehot"]), "--index", str(d["index"]),
            "--targets", str(targets), "--columns", columns, "--epochs", "1", "--no-equal-steps",
            "--out-model", str(tmp / "m.json"), "--metrics", str(tmp / "met.tsv"),
            "--curve", str(tmp / "c.png")]  # fmt: skip


def test_train_bad_targets(tmp_path: Path, demo_small: dict[str, Path],
                           capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    lines = demo_small["targets"].read_text().splitlines()
    short = tmp_path / "short.tsv"
    short.write_text("\n".join(lines[:-1]) + "\n")  # last sequence has no target
    missing_name = lines[-1].split("\t")[0]
    code, err = _run(_train(tmp_path, demo_small, short, "activity"), capsys)
    _check(code, err, "short.tsv", missing_name, "has no target")
    bad = tmp_path / "bad.tsv"
    bad.write_text("\n".join([*lines[:5], lines[5].split("\t")[0] + "\thigh", *lines[6:]]) + "\n")
    code, err = _run(_train(tmp_path, demo_small, bad, "activity"), capsys)
    _check(code, err, "bad.tsv", "line 6", "'high'", "not a number")
    code, err = _run(_train(tmp_path, demo_small, demo_small["targets"], "Dev_log2"), capsys)
    _check(code, err, "unknown target column 'Dev_log2'", "activity")
    assert not list(tmp_path.glob("m.*")) and not (tmp_path / "met.tsv").exists()


def test_attribute_corrupt_checkpoint(tmp_path: Path, demo_small: dict[str, Path],
                                      trained_small: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    meta = json.loads(trained_small.read_text())
    (tmp_path / "model.json").write_text(json.dumps(meta))
    full = (trained_small.parent / meta["weights"]).read_bytes()
    (tmp_path / meta["weights"]).write_bytes(full[: len(full) // 2])  # truncated download
    args = ["attribute", "--onehot", str(demo_small["onehot"]), "--index",
            str(demo_small["index"]), "--model", str(tmp_path / "model.json"),
            "--out", str(tmp_path / "a.npy"), "--predictions", str(tmp_path / "p.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, "model.safetensors", "cannot read model weights")
    assert not (tmp_path / "a.npy").exists()


def test_annotate_malformed_meme(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    meme = tmp_path / "bad.meme"
    meme.write_text(JASPAR.read_text()[:3000].rsplit("\n", 3)[0] + "\nMOTIF X y\n")
    seqlets = tmp_path / "s.tsv"
    seqlets.write_text("name\trow\tseqlet_id\tstart\tend\tsign\tscore\tmax_abs\tpvalue\n")
    args = ["annotate", "--seqlets", str(seqlets), "--onehot", "x", "--attributions", "x",
            "--predictions", "x", "--index", "x", "--motifs", str(meme), "--artifacts",
            str(ARTIFACTS), "--out", str(tmp_path / "e.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, "bad.meme", "line")
    assert not (tmp_path / "e.tsv").exists()


def test_read_meme_error_from_cli(tmp_path: Path, demo_small: dict[str, Path],
                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    meme = tmp_path / "bad.meme"
    meme.write_text("MEME version 4\n\nMOTIF A a\nletter-probability matrix: w= 2\n0.5 0.5 0 0\n\n")
    args = ["simulate", "--motifs", str(meme), "--n", "200", "--fasta", str(tmp_path / "f.fa"),
            "--targets", str(tmp_path / "t.tsv"), "--truth", str(tmp_path / "u.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, "bad.meme", "line 4", "motif A", "w=2")
    assert not (tmp_path / "f.fa").exists()


def test_every_workflow_option_is_a_cli_option() -> None:
    """Each `--option` the rules pass must exist on the subcommand they call."""
    import re

    from conftest import ROOT
    from seqlantern.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    known = {name: {o for act in p._actions for o in act.option_strings}
             for name, p in sub.choices.items()}  # type: ignore[union-attr]  # fmt: skip
    common = (ROOT / "workflow/rules/common.smk").read_text()
    text = "".join(p.read_text() for p in (ROOT / "workflow/rules").glob("*.smk"))
    for block in re.findall(r'"seqlantern ([a-z-]+)(.*?)> \{log\}', text, flags=re.S):
        name, body = block
        for opt in set(re.findall(r"(--[a-z][a-z-]*)", body)):
            assert opt in known[name], f"{name} has no {opt}"
    for opt in set(re.findall(r"(--[a-z][a-z-]*)", common)):
        assert any(opt in k for k in known.values()), opt


def test_peak_rss_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                       monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """``SEQLANTERN_PEAK_RSS=1`` adds one usage line (what benchmarks/scaling.py reads),
    also after an error; without it stderr is untouched."""
    fa = tmp_path / "a.fa"
    fa.write_text(">a\n" + "ACGTACGTAC" * 3 + "\n>b\n" + "ACGTTTGCAA" * 3 + "\n")
    assert main(_encode(tmp_path, fa)) == 0
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("SEQLANTERN_PEAK_RSS", "1")
    assert main(_encode(tmp_path, fa)) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seqlantern encode: peak RSS ")
    mb = float(err[0].split("peak RSS ")[1].split()[0])
    assert 10 < mb < 100_000
    code, err2 = _run(_encode(tmp_path, tmp_path / "missing.fa"), capsys)
    assert code == 1 and "FASTA file not found" in err2 and "peak RSS" in err2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_batch_buffers_are_reused_not_refaulted() -> None:
    """After the CLI's allocator setting, a freed 40 MB buffer (one CNN batch's
    activations) is reused: allocating it again does not page-fault it in anew."""
    import resource

    import numpy as np

    from seqlantern.cli import _tune_malloc

    _tune_malloc()
    for _ in range(2):  # the first round may grow the heap
        a = np.ones(10_000_000, dtype=np.float32)
        del a
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(5):
        a = np.ones(10_000_000, dtype=np.float32)
        del a
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert faults < 100, faults  # here: 0 with it, 2,840 without (568 per allocation)


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (b"\x1f\x8b\x08\x00" + bytes(40), ["gzip-compressed", "name it in.fa.gz"]),
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(128, 200)), ["not a text FASTA", "binary"]),
        (b">a\nACGT\xe9ACGT\n", ["not a text FASTA", "b'\\xe9'"]),  # Latin-1
    ],
)
def test_encode_binary_or_compressed_input(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           data: bytes, needles: list[str]) -> None:  # fmt: skip
    fa = tmp_path / "in.fa"
    fa.write_bytes(data)
    code, err = _run(_encode(tmp_path, fa, "--length", "40"), capsys)
    _check(code, err, "in.fa", *needles)
    assert not (tmp_path / "o.npy").exists() and not list(tmp_path.glob(".o.*"))


@pytest.mark.parametrize(
    ("content", "needles"),
    [
        (None, ["fam.tsv", "not found", "annotate.families"]),
        ("motif\tfamily\nMA0139.2\tCTCF\n", ["fam.tsv", "lacks column(s) motif_id, tf_family"]),
    ],
)
def test_annotate_bad_families(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               content: str | None, needles: list[str]) -> None:  # fmt: skip
    fam = tmp_path / "fam.tsv"
    if content is not None:
        fam.write_text(content)
    seqlets = tmp_path / "s.tsv"
    seqlets.write_text("name\trow\tseqlet_id\tstart\tend\tsign\tscore\tmax_abs\tpvalue\n")
    args = ["annotate", "--seqlets", str(seqlets), "--onehot", "x", "--attributions", "x",
            "--predictions", "x", "--index", "x", "--motifs", str(JASPAR), "--families",
            str(fam), "--artifacts", str(ARTIFACTS), "--out", str(tmp_path / "e.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, *needles)
    assert not (tmp_path / "e.tsv").exists()


def test_usage_errors_are_one_line_with_status_1(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["train", "--epochs", "0"])
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 1 and err == (
        "seqlantern train: error: argument --epochs: 0 must be at least 1"
    )
    with pytest.raises(SystemExit) as ex:
        main(["encode", "--length", "-5", "--onehot", "o", "--index", "i"])
    assert ex.value.code == 1 and "-5 must be at least 1" in capsys.readouterr().err


def test_unexpected_errors_are_one_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    """The error boundary: an unforeseen failure is one line; SEQLANTERN_DEBUG=1 re-raises."""
    import seqlantern.cli as cli

    def boom(a: object) -> None:
        raise KeyError("tf_family\nsecond line")

    monkeypatch.setattr(cli, "cmd_motifs", boom)
    monkeypatch.delenv("SEQLANTERN_DEBUG", raising=False)
    code, err = _run(["motifs", "--out", "x.meme"], capsys)
    _check(code, err, "seqlantern motifs: error: KeyError:", "SEQLANTERN_DEBUG=1")
    monkeypatch.setenv("SEQLANTERN_DEBUG", "1")
    with pytest.raises(KeyError):
        main(["motifs", "--out", "x.meme"])


def test_bed_strand_must_be_plus_minus_or_dot(tmp_path: Path) -> None:
    from seqlantern.encode import read_bed
    from seqlantern.io import SeqlanternError

    bed = tmp_path / "r.bed"
    bed.write_text("chr1\t0\t50\ta\t0\t+\nchr1\t60\t110\tb\t0\t.\nchr1\t120\t170\tc\t0\tX\n")
    with pytest.raises(SeqlanternError, match=r"r.bed: line 3: strand 'X' \(column 6\)"):
        read_bed(bed)
    bed.write_text("chr1\t0\t50\ta\t0\t-\nchr1\t60\t110\tb\t0\t.\nchr1\t120\t170\n")
    assert read_bed(bed)["strand"].tolist() == ["-", "+", "+"]


def test_attribute_refuses_nan_weights(tmp_path: Path, demo_small: dict[str, Path],
                                       trained_small: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from safetensors.torch import load_file, save_file

    meta = json.loads(trained_small.read_text())
    (tmp_path / "model.json").write_text(json.dumps(meta))
    state = load_file(str(trained_small.parent / meta["weights"]))
    name = sorted(k for k, v in state.items() if v.is_floating_point())[0]
    state[name] = state[name].clone()
    state[name].view(-1)[0] = float("nan")
    save_file(state, str(tmp_path / meta["weights"]))
    args = ["attribute", "--onehot", str(demo_small["onehot"]), "--index",
            str(demo_small["index"]), "--model", str(tmp_path / "model.json"),
            "--out", str(tmp_path / "a.npy"), "--predictions", str(tmp_path / "p.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, "model.json", f"weight {name!r}", "NaN/inf")
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "p.tsv").exists()


def test_meme_with_an_infinite_value(tmp_path: Path) -> None:
    from seqlantern.io import SeqlanternError
    from seqlantern.motifs import read_meme

    meme = tmp_path / "inf.meme"
    meme.write_text("MEME version 4\n\nALPHABET= ACGT\n\nMOTIF M1 m\n"
                    "letter-probability matrix: alength= 4 w= 2\n"
                    "0.25 0.25 0.25 0.25\n1e999 0 0 0\n")  # fmt: skip
    with pytest.raises(SeqlanternError, match=r"inf.meme: line \d+: motif M1: .*not a finite"):
        read_meme(meme)


def test_missing_names_file_and_truth_columns(tmp_path: Path, demo_small: dict[str, Path],
                                              trained_small: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    args = ["attribute", "--onehot", str(demo_small["onehot"]), "--index",
            str(demo_small["index"]), "--model", str(trained_small), "--names-file",
            str(tmp_path / "names.txt"), "--out", str(tmp_path / "a.npy"), "--predictions",
            str(tmp_path / "p.tsv")]  # fmt: skip
    code, err = _run(args, capsys)
    _check(code, err, "names.txt", "names file not found")
    from seqlantern.evaluate import evaluate
    from seqlantern.io import SeqlanternError

    truth = tmp_path / "truth.tsv"
    truth.write_text("name\tstart\tend\tstrand\tmotif_name\tkind\ns0\t1\t9\t+\tX\tfunctional\n")
    (tmp_path / "e.tsv").write_text("name\tstart\tend\tlabel\tmotif_id\n")
    (tmp_path / "p.tsv").write_text("name\trow\ns0\t0\n")
    with pytest.raises(SeqlanternError, match=r"truth.tsv: truth table lacks column\(s\) motif"):
        evaluate(
            tmp_path / "e.tsv", truth, tmp_path / "p.tsv", tmp_path / "out.tsv", motif_db=JASPAR
        )


def test_stale_fai_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A genome FASTA edited after its .fai was built: refused, never read with wrong
    offsets; deleting the index (as the message says) makes it work again."""
    import os

    import numpy as np

    rng = np.random.default_rng(1)
    seqs = {c: "".join(rng.choice(list("ACGT"), 3000)) for c in ("chrA", "chrB")}

    def write(header_suffix: str = "") -> None:
        (tmp_path / "g.fa").write_text("".join(
            f">{c}{header_suffix}\n" + "\n".join(s[i : i + 60] for i in range(0, 3000, 60))
            + "\n" for c, s in seqs.items()))  # fmt: skip

    write()
    (tmp_path / "r.bed").write_text("chrA\t100\t300\ta\nchrB\t1000\t1200\tb\n")
    args = ["encode", "--genome", str(tmp_path / "g.fa"), "--bed", str(tmp_path / "r.bed"),
            "--length", "200", "--onehot", str(tmp_path / "o.npy"), "--index",
            str(tmp_path / "o.tsv")]  # fmt: skip
    assert main(args) == 0  # builds g.fa.fai
    fai = tmp_path / "g.fa.fai"
    before = fai.stat().st_mtime
    write(" edited description")  # headers longer: every offset moves
    os.utime(tmp_path / "g.fa", (before - 10, before - 10))  # even with an older mtime
    (tmp_path / "o.npy").unlink()
    code, err = _run(args, capsys)
    _check(code, err, "g.fa.fai", "does not fit", "delete g.fa.fai")
    assert not (tmp_path / "o.npy").exists()
    fai.unlink()
    assert main(args) == 0


def test_nan_model_output_names_the_sequence(tmp_path: Path) -> None:
    import numpy as np
    import torch

    from seqlantern.attribute import attribute
    from seqlantern.io import SeqlanternError

    class LogFirstA(torch.nn.Module):  # log(0) = -inf where the first base is not A
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.log(x[:, 0, :1]) + 0 * x.sum(dim=(1, 2))[:, None]

    x = np.zeros((3, 4, 20), dtype=np.float32)
    x[:, 0, :] = 1.0
    x[1, 0, 0], x[1, 2, 0] = 0.0, 1.0  # s1 starts with G
    with pytest.raises(SeqlanternError, match=r"sequence 's1' \(row 1\) is NaN/inf"):
        attribute(LogFirstA(), x, np.arange(3), ["s0", "s1", "s2"], tmp_path / "a.npy",
                  tmp_path / "p.tsv")  # fmt: skip
    assert not (tmp_path / "a.npy").exists() and not (tmp_path / "p.tsv").exists()


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from seqlantern import __version__

    with pytest.raises(SystemExit) as ex:
        main(["--version"])
    assert ex.value.code == 0 and capsys.readouterr().out.strip() == f"seqlantern {__version__}"


def test_every_option_has_help_and_every_stage_its_place() -> None:
    """`seqlantern <stage> --help` explains every option (and so shows its default) and
    says which stage comes before and after."""
    import argparse

    from seqlantern.cli import _ORDER, build_parser

    p = build_parser()
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    bare = [(name, a.option_strings[0]) for name, sp in sub.choices.items()
            for a in sp._actions if a.option_strings and not a.help]  # fmt: skip
    assert bare == []
    text = sub.choices["call-seqlets"].format_help()
    assert "(default: 7)" in text and "after attribute" in text
    assert "(default: None)" not in text  # required options show no default
    offline = {"motifs", "cluster-motifs", "export", "report"}  # their help says it itself
    assert set(sub.choices) - offline <= set(_ORDER)


def test_activation_typo_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from seqlantern.cli import main

    rng = np.random.default_rng(0)
    seqs = "".join(f">s{i}\n{''.join(rng.choice(list('ACGT'), 40))}\n" for i in range(30))
    (tmp_path / "f.fa").write_text(seqs)
    (tmp_path / "t.tsv").write_text("name\ty\n" + "".join(f"s{i}\t{i}\n" for i in range(30)))
    d = str(tmp_path)
    assert main(["encode", "--fasta", f"{d}/f.fa", "--onehot", f"{d}/x.npy", "--index",
                 f"{d}/i.tsv"]) == 0  # fmt: skip
    capsys.readouterr()
    rc = main(["train", "--onehot", f"{d}/x.npy", "--index", f"{d}/i.tsv", "--targets",
               f"{d}/t.tsv", "--columns", "y", "--model-options",
               '{"first_activation": "tahn"}', "--out-model", f"{d}/m.json", "--metrics",
               f"{d}/m.tsv", "--curve", f"{d}/c.png"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1
    assert "first_activation 'tahn'" in err[0] and "did you mean tanh?" in err[0]
    assert not (tmp_path / "m.json").exists()


def test_select_motifs_writes_the_species_and_rejects_unknown_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conftest import ROOT

    meme = str(ROOT / "resources/motifs/JASPAR2026_CORE_fungi.meme")
    fam = str(ROOT / "resources/motifs/JASPAR2026_CORE_fungi.families.tsv")
    out = tmp_path / "sel.meme"
    args = ["select-motifs", "--motifs", meme, "--families", fam, "--out", str(out)]
    code, err = _run([*args, "--species", "Saccharomyces cerevisiae"], capsys)
    assert code == 0, err
    text = out.read_text()
    assert "RSC30" in text and "toe1" not in text
    out.unlink()
    code, err = _run([*args, "--species", "Saccharomyces cerevisae"], capsys)
    _check(code, err, "annotate.species", "cerevisae", "Saccharomyces cerevisiae")
    assert not out.exists()
    code, err = _run(args, capsys)
    _check(code, err, "--species")
    assert not out.exists()
