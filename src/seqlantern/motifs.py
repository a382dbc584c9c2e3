"""Motif databases: readers (MEME, JASPAR, HOMER), JASPAR export, FIMO-style site scans.

Motif-motif comparison (TOMTOM) lives in :mod:`seqlantern.tomtom`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from seqlantern.io import SeqlanternError


@dataclass(frozen=True)
class Motif:
    """A position probability matrix ``pwm`` of shape (w, 4), alphabet ACGT."""

    id: str
    name: str
    pwm: np.ndarray = field(repr=False)

    @property
    def width(self) -> int:
        """Number of columns."""
        return int(self.pwm.shape[0])

    def consensus(self) -> str:
        """Most likely base at each column."""
        return "".join("ACGT"[i] for i in self.pwm.argmax(axis=1))


_NUM = re.compile(r"^\s*[-+0-9.eE]+(\s+[-+0-9.eE]+)*\s*$")


def read_meme(path: str | Path) -> list[Motif]:
    """Read a MEME-format motif file (minimal or full MEME output).

    Robust to the usual traps: Windows line ends, a last motif ending at EOF without a
    blank line, ``URL`` lines, missing ``nsites``/``E`` fields, and rows that do not sum
    exactly to one (they are renormalised). A malformed matrix raises a one-line error
    naming the line.
    """
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: motif file not found; check motifs.database in the config")
    lines = p.read_text(errors="replace").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not any(line.startswith("MEME version") for line in lines[:50]):
        raise SeqlanternError(f"{p}: line 1: not a MEME motif file (no 'MEME version' line)")
    alphabet = "ACGT"
    motifs: list[Motif] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("ALPHABET"):
            alph = line.split("=", 1)[1].strip() if "=" in line else ""
            if alph and alph.split()[0] not in ("ACGT", "DNA"):
                raise SeqlanternError(f"{p}: line {i + 1}: alphabet {alph!r} is not DNA (ACGT)")
        if line.startswith("MOTIF"):
            parts = line.split()
            if len(parts) < 2:
                raise SeqlanternError(f"{p}: line {i + 1}: MOTIF line without an identifier")
            mid, name = parts[1], parts[2] if len(parts) > 2 else parts[1]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("letter-probability"):
                if lines[j].startswith("MOTIF"):
                    raise SeqlanternError(
                        f"{p}: line {i + 1}: motif {mid} has no letter-probability matrix"
                    )
                j += 1
            if j >= len(lines):
                raise SeqlanternError(
                    f"{p}: line {i + 1}: motif {mid} has no letter-probability matrix"
                )
            header = lines[j]
            m = re.search(r"w=\s*(\d+)", header)
            width = int(m.group(1)) if m else None
            rows: list[list[float]] = []
            k = j + 1
            while k < len(lines) and (width is None or len(rows) < width):
                s = lines[k].strip()
                if not s:
                    if rows and width is None:
                        break
                    k += 1
                    continue
                if not _NUM.match(s):
                    if rows or s.startswith(("MOTIF", "URL")):
                        break
                    raise SeqlanternError(
                        f"{p}: line {k + 1}: motif {mid}: expected rows of 4 probabilities, "
                        f"found {s[:30]!r}"
                    )
                vals = [float(v) for v in s.split()]
                if len(vals) != len(alphabet):
                    raise SeqlanternError(
                        f"{p}: line {k + 1}: motif {mid}: row has {len(vals)} values, need 4"
                    )
                rows.append(vals)
                k += 1
            if not rows or (width is not None and len(rows) != width):
                raise SeqlanternError(
                    f"{p}: line {j + 1}: motif {mid}: header says w={width} but "
                    f"{len(rows)} rows follow; fix the matrix or its w= field"
                )
            pwm = np.asarray(rows, dtype=np.float64)
            if not np.isfinite(pwm).all():
                raise SeqlanternError(
                    f"{p}: line {j + 1}: motif {mid}: a value is not a finite number "
                    "(inf/NaN, e.g. 1e999); fix the matrix"
                )
            if (pwm < 0).any() or (pwm.sum(axis=1) <= 0).any():
                raise SeqlanternError(f"{p}: line {j + 1}: motif {mid}: negative or empty row")
            pwm = pwm / pwm.sum(axis=1, keepdims=True)
            motifs.append(Motif(mid, name, pwm))
            i = k
            continue
        i += 1
    if not motifs:
        raise SeqlanternError(f"{p}: no motifs found (no 'MOTIF' entries)")
    return motifs


def read_jaspar(path: str | Path) -> list[Motif]:
    """Read JASPAR-format count matrices (``>ID name`` then ``A [ counts ]`` rows).

    Counts are turned into probabilities per column; a column of zeros is an error.
    """
    p = Path(path)
    lines = p.read_text(errors="replace").replace("\r\n", "\n").split("\n")
    motifs: list[Motif] = []
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        if not line.startswith(">"):
            if line:
                raise SeqlanternError(f"{p}: line {i + 1}: expected a '>ID name' header")
            i += 1
            continue
        head = line[1:].split()
        if not head:
            raise SeqlanternError(f"{p}: line {i + 1}: header without an identifier")
        rows: dict[str, list[float]] = {}
        for k in range(1, 5):
            if i + k >= len(lines):
                raise SeqlanternError(f"{p}: line {i + 1}: motif {head[0]} needs 4 rows A C G T")
            m = re.match(r"^\s*([ACGT])\s*\[?([^\]]*)\]?\s*$", lines[i + k])
            if not m:
                raise SeqlanternError(
                    f"{p}: line {i + k + 1}: motif {head[0]}: expected a row like 'A [ 1 2 3 ]'"
                )
            try:
                rows[m.group(1)] = [float(v) for v in m.group(2).split()]
            except ValueError:
                raise SeqlanternError(f"{p}: line {i + k + 1}: non-numeric count") from None
        if set(rows) != set("ACGT") or len({len(v) for v in rows.values()}) != 1:
            raise SeqlanternError(f"{p}: line {i + 1}: motif {head[0]}: rows A C G T of one length")
        counts = np.array([rows[b] for b in "ACGT"]).T
        tot = counts.sum(axis=1, keepdims=True)
        if (tot <= 0).any() or (counts < 0).any():
            raise SeqlanternError(f"{p}: line {i + 1}: motif {head[0]}: empty or negative column")
        motifs.append(Motif(head[0], head[1] if len(head) > 1 else head[0], counts / tot))
        i += 5
    if not motifs:
        raise SeqlanternError(f"{p}: no motifs found")
    return motifs


def read_homer(path: str | Path) -> list[Motif]:
    """Read HOMER ``.motif`` files (``>consensus<TAB>name<TAB>threshold...`` + ACGT rows)."""
    p = Path(path)
    lines = p.read_text(errors="replace").replace("\r\n", "\n").split("\n")
    motifs: list[Motif] = []
    head: list[str] | None = None
    rows: list[list[float]] = []
    header_line = 0

    def flush() -> None:
        if head is None:
            return
        if not rows:
            raise SeqlanternError(f"{p}: line {header_line}: motif without rows")
        pwm = np.asarray(rows)
        if (pwm < 0).any() or (pwm.sum(axis=1) <= 0).any():
            raise SeqlanternError(f"{p}: line {header_line}: negative or empty row")
        name = head[1] if len(head) > 1 else head[0]
        motifs.append(Motif(name.split("/")[0], name, pwm / pwm.sum(axis=1, keepdims=True)))

    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">"):
            flush()
            head, rows, header_line = line[1:].split("\t"), [], n
            continue
        if head is None:
            raise SeqlanternError(f"{p}: line {n}: rows before the first '>' header")
        vals = line.split()
        if len(vals) != 4 or not _NUM.match(line):
            raise SeqlanternError(f"{p}: line {n}: expected 4 probabilities (A C G T)")
        rows.append([float(v) for v in vals])
    flush()
    if not motifs:
        raise SeqlanternError(f"{p}: no motifs found")
    return motifs


def read_motifs(path: str | Path) -> list[Motif]:
    """Read a motif file in MEME, JASPAR or HOMER format (detected from its content)."""
    p = Path(path)
    if not p.is_file():
        raise SeqlanternError(f"{p}: motif file not found; check the path in the config")
    head = [ln.strip() for ln in p.read_text(errors="replace").splitlines()[:50] if ln.strip()]
    if any(ln.startswith("MEME version") for ln in head):
        return read_meme(p)
    if len(head) > 1 and head[0].startswith(">") and re.match(r"^[ACGT]\s*\[", head[1]):
        return read_jaspar(p)
    if head and head[0].startswith(">"):
        return read_homer(p)
    raise SeqlanternError(f"{p}: line 1: not a MEME, JASPAR or HOMER motif file")


def export_jaspar(
    out: str | Path,
    *,
    release: str = "JASPAR2026",
    collection: str = "CORE",
    tax_groups: list[str] | None = None,
    families_out: str | Path | None = None,
) -> int:
    """Export a JASPAR release from pyjaspar's bundled database (offline) to MEME.

    Needs the optional extra ``pip install seqlantern[jaspar]``. Writes the latest version
    of every matrix, and optionally the TF class/family table used to score families.
    """
    try:
        from pyjaspar import jaspardb
    except ImportError:
        raise SeqlanternError(
            "exporting JASPAR needs pyjaspar: pip install 'seqlantern[jaspar]'"
        ) from None
    try:
        db = jaspardb(release=release)
    except Exception as exc:
        raise SeqlanternError(f"pyjaspar cannot open release {release!r} ({exc})") from None
    found = db.fetch_motifs(collection=collection, tax_group=tax_groups or None,
                            all_versions=False)  # fmt: skip
    if not found:
        raise SeqlanternError(f"no motifs in {release} {collection} {tax_groups or ''}")
    motifs = []
    for m in found:
        counts = np.array([list(m.counts[b]) for b in "ACGT"], dtype=float).T
        motifs.append(Motif(m.matrix_id, m.name, counts / counts.sum(axis=1, keepdims=True)))
    write_meme(motifs, out)
    if families_out:
        names = _tax_names(db)
        table = pd.DataFrame({
            "motif_id": [m.matrix_id for m in found], "motif_name": [m.name for m in found],
            "tf_class": [";".join(m.tf_class or []) for m in found],
            "tf_family": [";".join(m.tf_family or []) for m in found],
            "species": [";".join(names.get(str(t), str(t)) for t in (m.species or []))
                        for m in found],
        })  # fmt: skip
        from seqlantern.io import write_tsv

        write_tsv(table, families_out)
    return len(motifs)


def _tax_names(db: Any) -> dict[str, str]:
    """NCBI taxonomy id -> species name, from pyjaspar's bundled database."""
    try:
        return {str(t): str(n) for t, n in db.conn.execute("SELECT TAX_ID, SPECIES FROM TAX")}
    except Exception:  # an older database layout: ids stay ids
        return {}


def add_species(table_path: str | Path, *, release: str = "JASPAR2026") -> int:
    """Add (or refresh) the ``species`` column of a families table from pyjaspar's
    bundled database (offline): the species each matrix was derived from, by name,
    ``;``-separated. Returns the number of motifs given a species."""
    try:
        from pyjaspar import jaspardb
    except ImportError:
        raise SeqlanternError(
            "adding species needs pyjaspar: pip install 'seqlantern[jaspar]'"
        ) from None
    from seqlantern.io import read_tsv, write_tsv

    db = jaspardb(release=release)
    names = _tax_names(db)
    table = read_tsv(table_path, what="motif families")
    if "motif_id" not in table.columns:
        raise SeqlanternError(f"{table_path}: no motif_id column; expected a families table")
    species = []
    for mid in table["motif_id"].astype(str):
        try:
            m = db.fetch_motif_by_id(mid)
        except Exception:
            m = None
        tax = (m.species or []) if m is not None else []
        species.append(";".join(names.get(str(t), str(t)) for t in tax))
    table["species"] = species
    write_tsv(table, table_path)
    return sum(1 for v in species if v)


def select_species(motifs: list[Motif], families: str | Path, species: list[str]) -> list[Motif]:
    """The motifs derived from one of ``species`` (names as JASPAR gives them,
    case-insensitive; a strain such as "Saccharomyces cerevisiae S288C" counts for its
    species), by the families table's ``species`` column.

    Why: a taxon collection still mixes species (JASPAR's fungi: *S. cerevisiae*, *S.
    pombe*, *Neurospora*...), and one yeast signal then takes the names of orthologous
    factors of other species (the yeast GCGCG signal named after S. pombe's toe1 and
    Neurospora's nit-4). Motifs without a species are dropped too.
    """
    table = pd.read_csv(families, sep="\t", dtype=str, keep_default_na=False)
    if "species" not in table.columns or "motif_id" not in table.columns:
        raise SeqlanternError(
            f"{families}: no species column; add it with `seqlantern motifs --add-species "
            f"{families}` (pyjaspar) or leave annotate.species empty"
        )
    wanted = {s.strip().lower() for s in species if s.strip()}
    of = {str(r.motif_id): {v.strip().lower() for v in str(r.species).split(";") if v.strip()}
          for r in table.itertuples(index=False)}  # fmt: skip

    def hit(have: set[str]) -> bool:  # a strain or subspecies counts for its species
        return any(h == w or h.startswith(w + " ") for h in have for w in wanted)

    unknown = sorted(w for w in wanted if not any(
        h == w or h.startswith(w + " ") for vs in of.values() for h in vs))  # fmt: skip
    if unknown:
        shown = [v.strip() for v in "; ".join(table["species"]).split(";") if v.strip()]
        common = pd.Series(shown).value_counts().index[:5]
        raise SeqlanternError(
            f"annotate.species: {', '.join(species)} matches no motif in {families}; "
            f"species there include: {', '.join(common)}"
        )
    keep = [m for m in motifs if hit(of.get(m.id, set()))]
    if not keep:
        raise SeqlanternError(f"annotate.species: no motif of {sorted(wanted)} in the motif "
                              f"file (by {families})")  # fmt: skip
    return keep


def write_meme(motifs: list[Motif], path: str | Path, *, nsites: list[int] | None = None) -> None:
    """Write motifs as minimal MEME format (atomically); ``nsites``: sites per motif
    (20 when unknown)."""
    from seqlantern.io import atomic_outputs

    with atomic_outputs(path) as (tmp,), open(tmp, "w") as fh:
        fh.write("MEME version 4\n\nALPHABET= ACGT\n\nstrands: + -\n\n")
        fh.write("Background letter frequencies\nA 0.25 C 0.25 G 0.25 T 0.25\n\n")
        for i, m in enumerate(motifs):
            n = nsites[i] if nsites is not None else 20
            fh.write(f"MOTIF {m.id} {m.name}\n")
            fh.write(f"letter-probability matrix: alength= 4 w= {m.width} nsites= {n} E= 0\n")
            for row in m.pwm:
                fh.write(" ".join(f"{v:.6f}" for v in row) + "\n")
            fh.write("\n")


def read_families(path: str | Path | None, motifs: list[Motif]) -> dict[str, frozenset[str]]:
    """TF families per motif id from a sidecar TSV (motif_id, tf_family; ';'-separated).

    Without a table every motif is its own family, named by its TF name with trailing
    digits removed (GATA1 -> GATA), which is a fair proxy for paralog families.
    """
    fams: dict[str, frozenset[str]] = {}
    if path is not None and str(path):
        if not Path(path).is_file():
            raise SeqlanternError(f"{path}: families file not found; fix annotate.families "
                                  "or leave it empty")  # fmt: skip
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        missing = {"motif_id", "tf_family"} - set(df.columns)
        if missing:
            raise SeqlanternError(
                f"{path}: families table lacks column(s) {', '.join(sorted(missing))}; "
                "expected a TSV with motif_id and tf_family (seqlantern motifs --families)"
            )
        for r in df.itertuples(index=False):
            fam = frozenset(f for f in str(r.tf_family).split(";") if f)
            if fam:
                fams[str(r.motif_id)] = fam
    for m in motifs:
        if m.id not in fams:
            fams[m.id] = frozenset({re.sub(r"\d+$", "", m.name.upper())})
    return fams


def revcomp_pwm(pwm: np.ndarray) -> np.ndarray:
    """Reverse complement of a (w, 4) ACGT matrix."""
    return pwm[::-1, ::-1].copy()


def information_content(pwm: np.ndarray) -> np.ndarray:
    """Per-column information content (bits) of a probability matrix."""
    p = np.clip(pwm, 1e-9, 1)
    return 2 + (p * np.log2(p)).sum(axis=1)


def sample_sites(pwm: np.ndarray, n: int, rng: np.random.Generator) -> list[str]:
    """Sample ``n`` sites from a probability matrix (independent columns)."""
    cum = np.cumsum(pwm, axis=1)
    u = rng.random((n, pwm.shape[0], 1))
    idx = (u > cum[None]).sum(axis=2).clip(0, 3)
    return ["".join("ACGT"[i] for i in row) for row in idx]


@dataclass
class SiteScanner:
    """FIMO-style scanning: log-odds scores with exact p-values under a uniform background.

    A matrix becomes log2((p + 0.1 x 0.25) / 1.1 / 0.25) (FIMO's default pseudocount),
    scores are rounded to 1/``resolution`` bit, and the exact distribution of a site's
    score over random sequence is built column by column (dynamic programming), once per
    motif; the p-value of a score is its upper tail there.
    """

    resolution: int = 100
    _cache: dict[str, tuple[np.ndarray, int, np.ndarray]] = field(default_factory=dict)

    def _prepare(self, motif: Motif) -> tuple[np.ndarray, int, np.ndarray]:
        if motif.id not in self._cache:
            lo = np.log2((motif.pwm + 0.025) / 1.1 / 0.25)
            z = np.rint(lo * self.resolution).astype(np.int64)  # (w, 4)
            zmin = int(z.min(axis=1).sum())
            pmf = np.ones(1)
            for col in z:
                cmin = int(col.min())
                step = np.zeros(int(col.max()) - cmin + 1)
                for v in col:
                    step[v - cmin] += 0.25
                pmf = np.convolve(pmf, step)
            sf = np.cumsum(pmf[::-1])[::-1]
            self._cache[motif.id] = (z, zmin, sf)
        return self._cache[motif.id]

    def best_site(self, motif: Motif, onehot: np.ndarray) -> tuple[int, str, float, float] | None:
        """Best site of ``motif`` in a (4, L) window: (start, strand, score in bits, p).

        Returns ``None`` when the window is shorter than the motif.
        """
        z, zmin, sf = self._prepare(motif)
        w, length = z.shape[0], onehot.shape[1]
        if length < w:
            return None
        best: tuple[int, str, float, float] | None = None
        for strand, mat in (("+", z), ("-", z[::-1, ::-1])):
            # score of every window: sum over motif columns of the observed base's value
            contrib = mat @ onehot  # (w, L): column k's score for the base at each position
            scores = np.zeros(length - w + 1, dtype=np.int64)
            for k in range(w):
                scores += np.rint(contrib[k, k : k + length - w + 1]).astype(np.int64)
            j = int(scores.argmax())
            idx = int(scores[j]) - zmin
            p = float(sf[min(max(idx, 0), len(sf) - 1)])
            if best is None or p < best[3]:
                best = (j, strand, scores[j] / self.resolution, p)
        return best
