from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from seqlantern.encode import (
    SplitSpec,
    decode,
    encode_bed,
    encode_fasta,
    fit_length,
    one_hot,
    read_index,
    reverse_complement,
)
from seqlantern.io import SeqlanternError


def test_one_hot_policy() -> None:
    x = one_hot("ACGTNacgt")
    assert x.shape == (4, 9)
    assert np.array_equal(x[:, :4], np.eye(4))
    assert not x[:, 4].any()  # N: all-zero column
    assert np.array_equal(x[:, 5:], np.eye(4))  # soft-masked bases upper-cased
    assert not one_hot("acgt", lowercase="n").any()
    r = one_hot("R", iupac="fractional")[:, 0]
    assert np.allclose(r, [0.5, 0, 0.5, 0])
    assert not one_hot("R").any()
    with pytest.raises(SeqlanternError, match="ambiguity"):
        one_hot("ACR", iupac="error")


def test_fit_length_centre_pads_and_crops() -> None:
    x = one_hot("ACGTA")
    padded, off = fit_length(x, 9)
    assert off == -2 and decode(padded) == "NNACGTANN"
    cropped, off = fit_length(one_hot("AACCGGTT"), 4)
    assert off == 2 and decode(cropped) == "CCGG"


def test_reverse_complement() -> None:
    assert reverse_complement("AACGTn") == "nACGTT"


def _fa(path: Path, records: list[tuple[str, str]]) -> Path:
    path.write_text("".join(f">{n} description\n{s}\n" for n, s in records))
    return path


def test_encode_fasta_variable_lengths(tmp_path: Path) -> None:
    fa = _fa(tmp_path / "x.fa", [("a", "ACGT" * 10), ("b", "ACGT" * 6 + "acgtn")])
    n = encode_fasta(fa, tmp_path / "x.npy", tmp_path / "i.tsv", length=32)
    x = np.load(tmp_path / "x.npy")
    idx = read_index(tmp_path / "i.tsv")
    assert n == 2 and x.shape == (2, 4, 32)
    assert list(idx["name"]) == ["a", "b"]
    assert idx["start"].tolist() == [4, -1]  # a cropped by 4; b (29 bp) padded by 1 on the left
    assert set(idx["coords"]) == {"record"}
    with pytest.raises(SeqlanternError, match="unequal lengths"):
        encode_fasta(fa, tmp_path / "y.npy", tmp_path / "j.tsv")
    assert not (tmp_path / "y.npy").exists() and not (tmp_path / "j.tsv").exists()


def test_encode_fasta_errors_name_record_and_line(tmp_path: Path) -> None:
    dup = _fa(tmp_path / "d.fa", [("a", "ACGT" * 10), ("a", "ACGT" * 10)])
    with pytest.raises(SeqlanternError, match=r"d.fa: line 3: duplicate record name 'a'"):
        encode_fasta(dup, tmp_path / "o.npy", tmp_path / "o.tsv")
    bad = tmp_path / "b.fa"
    bad.write_text(">a\nACGT\nAC-T\n")
    with pytest.raises(SeqlanternError, match=r"line 3 \(record a\): unexpected character '-'"):
        encode_fasta(bad, tmp_path / "o.npy", tmp_path / "o.tsv")
    short = _fa(tmp_path / "s.fa", [("a", "ACGT" * 10), ("tiny", "ACG")])
    with pytest.raises(SeqlanternError, match=r"record tiny.*shorter than"):
        encode_fasta(short, tmp_path / "o.npy", tmp_path / "o.tsv", length=40)
    empty = tmp_path / "e.fa"
    empty.write_text("")
    with pytest.raises(SeqlanternError, match="no records"):
        encode_fasta(empty, tmp_path / "o.npy", tmp_path / "o.tsv")
    with pytest.raises(SeqlanternError, match="not found"):
        encode_fasta(tmp_path / "missing.fa", tmp_path / "o.npy", tmp_path / "o.tsv")
    assert not list(tmp_path.glob("o.*"))


def test_split_is_seeded_and_stable() -> None:
    s = SplitSpec(seed=1)
    labels = [s.assign(f"seq{i}", "x") for i in range(5000)]
    assert labels == [SplitSpec(seed=1).assign(f"seq{i}", "x") for i in range(5000)]
    frac = {k: labels.count(k) / 5000 for k in ("train", "valid", "test")}
    assert abs(frac["test"] - 0.1) < 0.02 and abs(frac["valid"] - 0.1) < 0.02
    assert labels != [SplitSpec(seed=2).assign(f"seq{i}", "x") for i in range(5000)]
    chrom = SplitSpec(test_chroms=("chr2",), valid_chroms=("chr3",))
    assert [chrom.assign("r", c) for c in ("chr1", "chr2", "chr3")] == ["train", "test", "valid"]


def test_encode_bed_genome_coordinates(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    seq = "".join("ACGT"[i] for i in rng.integers(0, 4, 1000))
    genome = tmp_path / "g.fa"
    genome.write_text(">chrT\n" + "\n".join(seq[i : i + 60] for i in range(0, 1000, 60)) + "\n")
    bed = tmp_path / "r.bed"
    bed.write_text("chrT\t100\t140\tr1\t0\t+\nchrT\t500\t520\tr2\t0\t-\nchrT\t980\t1000\tedge\n")
    encode_bed(genome, bed, tmp_path / "x.npy", tmp_path / "i.tsv", length=50)
    x = np.load(tmp_path / "x.npy")
    idx = read_index(tmp_path / "i.tsv")
    assert idx["start"].tolist() == [95, 485, 965] and set(idx["coords"]) == {"genome"}
    assert decode(x[0]) == seq[95:145]
    assert decode(x[1]) == reverse_complement(seq[485:535])
    assert decode(x[2]).endswith("N" * 15)  # runs off the contig end: padded there
    bed.write_text("chrT\t100\t140\nchrX\t1\t10\n")
    with pytest.raises(SeqlanternError, match=r"r.bed: line 2: chromosome 'chrX'"):
        encode_bed(genome, bed, tmp_path / "y.npy", tmp_path / "j.tsv", length=50)
