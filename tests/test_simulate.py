from __future__ import annotations

import numpy as np
import pandas as pd

from conftest import DEMO_MOTIFS
from seqlantern.encode import reverse_complement
from seqlantern.motifs import read_meme
from seqlantern.simulate import TRUSEQ_READ1_ADAPTER, Grammar, simulate


def test_simulate_is_deterministic_and_truthful() -> None:
    motifs = read_meme(DEMO_MOTIFS)
    recs, targets, truth = simulate(motifs, n=400, seed=7)
    recs2, targets2, truth2 = simulate(motifs, n=400, seed=7)
    assert recs == recs2 and targets.equals(targets2) and truth.equals(truth2)
    assert simulate(motifs, n=400, seed=8)[0] != recs
    seqs = dict(recs)
    assert all(len(s) == 200 for s in seqs.values())
    by_id = {m.id: m for m in motifs}
    g = Grammar()
    for r in truth.itertuples(index=False):
        site = seqs[r.name][r.start : r.end]
        if r.kind == "artifact":
            assert r.end == 200 and TRUSEQ_READ1_ADAPTER.startswith(site)
            continue
        m = by_id[r.motif]
        fwd = site if r.strand == "+" else reverse_complement(site)
        lo = np.log2(np.clip(m.pwm, 1e-4, 1) / 0.25)
        score = sum(lo[i, "ACGT".index(c)] for i, c in enumerate(fwd))
        rel = (score - lo.min(1).sum()) / (lo.max(1).sum() - lo.min(1).sum())
        assert rel >= g.min_relative_score - 1e-9
        assert (r.kind == "decoy") == (r.motif in g.decoys)
    # activity follows the grammar: adapter sequences are inflated, repressor lowers
    t = targets.set_index("name")["activity"]
    art = truth.loc[truth["kind"] == "artifact", "name"]
    assert t[art].mean() > t.drop(art).mean() + 0.8
    rest = truth.loc[truth["motif"] == "MA0138.3", "name"]
    assert t[rest].mean() < t.drop(rest).mean()
    # no planted site overlaps another
    for _, grp in truth.groupby("name"):
        iv = grp.sort_values("start")[["start", "end"]].to_numpy()
        assert (iv[1:, 0] >= iv[:-1, 1]).all()
    assert isinstance(truth, pd.DataFrame)
