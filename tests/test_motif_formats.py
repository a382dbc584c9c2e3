from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from conftest import DEMO_MOTIFS
from seqlantern.cli import main
from seqlantern.io import SeqlanternError
from seqlantern.motifs import read_meme, read_motifs

JASPAR_TEXT = """>MA0004.1\tArnt
A  [ 4 19  0  0  0  0 ]
C  [16  0 20  0  0  0 ]
G  [ 0  1  0 20  0 20 ]
T  [ 0  0  0  0 20  0 ]
>MA0006.1 Ahr::Arnt
A [ 3 0 0 0 0 0 ]
C [ 8 0 23 0 0 0 ]
G [ 2 23 0 23 0 24 ]
T [ 11 1 1 1 24 0 ]
"""

HOMER_TEXT = """>CACGTG\tbHLH-test/Homer\t6.5
0.1\t0.7\t0.1\t0.1
0.9\t0.0\t0.05\t0.05
0.0\t1.0\t0.0\t0.0
0.0\t0.0\t1.0\t0.0
0.0\t0.0\t0.0\t1.0
0.0\t0.0\t1.0\t0.0
>TGACTCA\tAP1/Homer\t7.0
0.0 0.0 0.0 1.0
0.0 0.0 1.0 0.0
1.0 0.0 0.0 0.0
"""


def test_read_jaspar_and_homer(tmp_path: Path) -> None:
    j = tmp_path / "m.jaspar"
    j.write_text(JASPAR_TEXT.replace("\n", "\r\n"))
    ms = read_motifs(j)
    assert [m.id for m in ms] == ["MA0004.1", "MA0006.1"] and ms[1].name == "Ahr::Arnt"
    assert np.allclose(ms[0].pwm[0], [0.2, 0.8, 0, 0]) and ms[0].consensus() == "CACGTG"
    h = tmp_path / "m.motif"
    h.write_text(HOMER_TEXT)
    hm = read_motifs(h)
    assert [m.id for m in hm] == ["bHLH-test", "AP1"] and hm[1].width == 3
    assert hm[0].consensus() == "CACGTG"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (">MA1 x\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 ]\nT [ 1 2 ]\n", "rows A C G T of one length"),
        (">MA1 x\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 x ]\nT [ 1 2 ]\n", "line 4: non-numeric"),
        (">a\tb\n0.5 0.5 0\n", "line 2: expected 4 probabilities"),
        ("hello\n", "not a MEME, JASPAR or HOMER"),
    ],
)
def test_motif_format_errors(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(SeqlanternError, match=message):
        read_motifs(p)


def test_convert_to_meme_roundtrip(tmp_path: Path) -> None:
    j = tmp_path / "m.jaspar"
    j.write_text(JASPAR_TEXT)
    assert main(["motifs", "--convert", str(j), "--out", str(tmp_path / "o.meme")]) == 0
    back = read_meme(tmp_path / "o.meme")
    assert np.allclose(back[1].pwm, read_motifs(j)[1].pwm, atol=1e-6)
    assert len(read_motifs(DEMO_MOTIFS)) == 9


def test_export_jaspar_offline(tmp_path: Path) -> None:
    pytest.importorskip("pyjaspar")
    out, fam = tmp_path / "v.meme", tmp_path / "v.tsv"
    assert main(["motifs", "--release", "JASPAR2024", "--tax-group", "insects", "--out", str(out),
                 "--families", str(fam)]) == 0  # fmt: skip
    ms = read_meme(out)
    assert len(ms) > 100 and all(m.id.startswith("MA") for m in ms)
    assert fam.read_text().startswith("motif_id\tmotif_name\ttf_class\ttf_family")
