"""``seqlantern`` command line: one subcommand per pipeline stage.

Every stage reads and writes documented files, so each runs and is tested without
Snakemake; the workflow's rules call these commands. Errors in user input print one line
(``seqlantern <stage>: error: ...``) and exit with status 1, leaving no partial outputs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqlantern.io import SeqlanternError


def _csv(value: str) -> list[str]:
    return [v for v in (s.strip() for s in value.split(",")) if v]


class _Formatter(argparse.ArgumentDefaultsHelpFormatter):
    """Each option's default after its help, except where there is none to show
    (required options, options without a default)."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.required or action.default is None or action.default is argparse.SUPPRESS:
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line and exit status 1 like every other error
    (``seqlantern train: error: argument --epochs: 0 must be at least 1``), and ``--help``
    shows each option's default."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(1)


def _int_at_least(lo: int) -> Any:
    """An argparse type: an integer >= ``lo`` (a bad value is a one-line usage error)."""

    def parse(value: str) -> int:
        try:
            v = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        if v < lo:
            raise argparse.ArgumentTypeError(
                f"{v} must be at least {lo}" if lo else f"{v} must not be negative"
            )
        return v

    return parse


_positive, _nonnegative = _int_at_least(1), _int_at_least(0)


def _json(value: str) -> Any:
    try:
        return json.loads(value) if value else {}
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None


def _tune_malloc() -> None:
    """Let freed batch buffers be reused instead of unmapped (glibc on Linux only).

    Why: glibc serves every allocation above its mmap threshold (at most 32 MB by default)
    with fresh pages from the kernel and gives them back on free. A CNN's first-layer
    activations for one batch (256 x 128 channels x 250 bp in float32 = 33 MB) sit just
    above it, so every batch page-faulted its buffers in anew: inference ran 3x slower on
    CPU, most of it system time. With a 64 MB threshold and a 128 MB trim threshold such
    buffers stay in the heap and are reused (the shortcut stage on 10^5 sequences: 236 s
    -> 82 s; peak RSS 0.95 -> 1.07 GB, the heap keeping up to 128 MB of freed memory).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 64 << 20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 128 << 20)  # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep its defaults
        pass


def _threads(n: int | None) -> None:
    if n:
        import torch

        torch.set_num_threads(n)


def cmd_simulate(a: argparse.Namespace) -> None:
    from seqlantern.simulate import write_demo

    write_demo(a.motifs, a.fasta, a.targets, a.truth, n=a.n, length=a.length, seed=a.seed)


def _split(a: argparse.Namespace) -> Any:
    from seqlantern.encode import SplitSpec, read_split_file

    given = read_split_file(a.split_file, column=a.split_column) if a.split_file else None
    return SplitSpec(valid_fraction=a.valid_fraction, test_fraction=a.test_fraction,
                     valid_chroms=tuple(a.valid_chroms), test_chroms=tuple(a.test_chroms),
                     seed=a.seed, given=given)  # fmt: skip


def cmd_encode(a: argparse.Namespace) -> None:
    from seqlantern.encode import encode_bed, encode_fasta, encode_tiles

    if a.tile_window:
        if not a.genome:
            raise SeqlanternError("--tile-window needs --genome (the genome FASTA to tile)")
        encode_tiles(a.genome, a.onehot, a.index, window=a.tile_window,
                     stride=a.tile_stride or a.tile_window, bed=a.bed, chroms=a.chroms,
                     max_n=a.max_n, iupac=a.iupac, lowercase=a.lowercase)  # fmt: skip
    elif a.bed:
        if not a.genome:
            raise SeqlanternError("--bed needs --genome (the genome FASTA)")
        if not a.length:
            raise SeqlanternError(
                "BED input needs --length (regions are resized around their centre)"
            )
        encode_bed(a.genome, a.bed, a.onehot, a.index, length=a.length, iupac=a.iupac,
                   lowercase=a.lowercase, split=_split(a))  # fmt: skip
    else:
        if not a.fasta:
            raise SeqlanternError("give --fasta, or --genome with --bed")
        encode_fasta(a.fasta, a.onehot, a.index, length=a.length or None,
                     min_length=a.min_length, iupac=a.iupac, lowercase=a.lowercase,
                     split=_split(a))  # fmt: skip


def cmd_train(a: argparse.Namespace) -> None:
    from seqlantern.io import read_tsv
    from seqlantern.train import train

    _threads(a.threads)
    spans = (read_tsv(a.penalty_spans, what="penalty spans", ints=("row", "start", "end"))
             if a.penalty_spans else None)  # fmt: skip
    m = train(a.onehot, a.index, a.targets, a.out_model, a.metrics, a.curve,
              columns=a.columns, task=a.task, name_column=a.name_column,
              architecture=a.architecture, model_kwargs=a.model_options, epochs=a.epochs,
              batch_size=a.batch_size, learning_rate=a.learning_rate, patience=a.patience,
              seed=a.seed, device=a.device, max_minutes=a.max_minutes,
              augment_rc=a.augment_rc, lr_schedule=a.lr_schedule, ensemble=a.ensemble,
              baseline=not a.no_baseline, equal_steps=a.equal_steps,
              kmer_fallback=a.kmer_fallback, penalty_spans=spans,
              penalty_weight=a.penalty_weight, penalty_onehot=a.penalty_onehot)  # fmt: skip
    print(m.to_string(index=False))


def _model_spec(a: argparse.Namespace) -> dict[str, Any]:
    return {"checkpoint": a.model, "import_path": a.import_path, "weights": a.weights,
            "kwargs": a.model_kwargs, "targets": a.model_targets or None,
            "task": a.task}  # fmt: skip


def cmd_attribute(a: argparse.Namespace) -> None:
    import torch

    from seqlantern.attribute import attribute, attribute_controls, resolve_target
    from seqlantern.encode import names_subset, read_index
    from seqlantern.io import load_npy
    from seqlantern.models import load_model, n_outputs
    from seqlantern.train import resolve_device

    _threads(a.threads)
    torch.manual_seed(a.seed)
    model, meta = load_model(_model_spec(a))
    index = read_index(a.index)
    x = load_npy(a.onehot, what="one-hot")
    if meta.get("length") and int(meta["length"]) != x.shape[2]:
        raise SeqlanternError(
            f"{a.onehot}: sequences are {x.shape[2]} bp but the model expects "
            f"{meta['length']} bp; set encode.length to {meta['length']}"
        )
    which: Any = a.which
    if a.names_file:
        if not Path(a.names_file).is_file():
            raise SeqlanternError(f"{a.names_file}: names file not found (--names-file)")
        which = [ln.strip() for ln in Path(a.names_file).read_text().splitlines() if ln.strip()]
    rows = names_subset(index, which)
    if len(rows) == 0:
        raise SeqlanternError(f"{a.index}: selection {a.which!r} holds no sequences")
    n_out = n_outputs(model, x.shape[2])
    t = resolve_target(a.target, meta.get("targets"), n_out)
    options = {"target": t, "target_names": meta.get("targets"), "output": a.output,
               "correct": not a.no_correction, "batch_size": a.batch_size,
               "device": resolve_device(a.device), "method": a.method, "steps": a.steps,
               "references": a.references, "baseline": a.baseline,
               "rc_average": a.rc_average}  # fmt: skip
    if not a.shuffles:
        options["check"] = a.check
    lo, hi = _shard(a, len(rows))
    rows = rows[lo:hi]
    names = index["name"].iloc[rows].tolist()
    if a.shuffles:
        attribute_controls(model, x, rows, names, a.out, a.predictions, shuffles=a.shuffles,
                           seed=a.seed, position_offset=lo, **options)  # fmt: skip
    else:
        attribute(model, x, rows, names, a.out, a.predictions,
                  out_hypothetical=a.hypothetical, position_offset=lo, **options)  # fmt: skip


def _shard(a: argparse.Namespace, n: int) -> tuple[int, int]:
    """This job's ``(start, end)`` in the selection of ``n`` sequences (``--shard``)."""
    from seqlantern.shards import shard_bounds

    if not 0 <= a.shard < a.shards:
        raise SeqlanternError(f"--shard {a.shard} must be in 0..{a.shards - 1} (--shards)")
    return shard_bounds(n, a.shards, align=a.batch_size)[a.shard]


def cmd_call_seqlets(a: argparse.Namespace) -> None:
    import numpy as np

    from seqlantern.io import atomic_outputs, load_npy, read_tsv
    from seqlantern.seqlets import (
        SEQLET_COLUMNS,
        call_seqlets,
        call_with_control,
        read_null,
        shard_blocks,
        write_seqlets,
    )

    attr = load_npy(a.attributions, what="attribution")
    preds = read_tsv(a.predictions, what="predictions")
    if len(preds) != attr.shape[0]:
        raise SeqlanternError(
            f"{a.predictions}: {len(preds)} rows but {a.attributions} has {attr.shape[0]}; "
            "they must come from the same attribute run"
        )
    params = _seqlet_params(a)
    names, rows = preds["name"].tolist(), preds["row"].astype(np.int64).to_numpy()
    control = (load_npy(a.control_attributions, what="control attribution")
               if a.control_attributions else None)  # fmt: skip
    if a.null_file:  # one shard of a sharded run: candidates for merge-seqlets
        if control is not None and not a.control_out:
            raise SeqlanternError("--null-file with --control-attributions needs --control-out")
        blocks = shard_blocks(attr, names, rows, params, null=read_null(a.null_file),
                              control_attr=control)  # fmt: skip
        outs = [a.out, a.control_out] if control is not None else [a.out]
        n_calls, strengths = 0, []
        # block by block: the shard's candidates are never all in memory
        with atomic_outputs(*outs) as tmps, open(tmps[0], "w") as fh:
            for i, (df, ctrl) in enumerate(blocks):
                df.to_csv(fh, sep="\t", index=False, na_rep="NA", header=i == 0)
                n_calls += len(df)
                if ctrl is not None:
                    strengths.append(ctrl)
            if n_calls == 0 and fh.tell() == 0:
                fh.write("\t".join(SEQLET_COLUMNS) + "\n")
            if control is not None:
                np.save(tmps[1], np.concatenate(strengths or [np.zeros(0)]))
        print(f"{n_calls} candidate seqlets in {attr.shape[0]} sequences")
        return
    if control is not None:
        df = call_with_control(attr, names, rows, control, params, fdr=a.fdr)
    else:
        df = call_seqlets(attr, names, rows, params)
    write_seqlets(df, a.out)
    print(f"{len(df)} seqlets in {attr.shape[0]} sequences")


def _seqlet_params(a: argparse.Namespace) -> Any:
    from seqlantern.seqlets import SeqletParams

    return SeqletParams(window=a.window, min_length=a.min_length, max_length=a.max_length,
                        flank=a.flank, extend_fraction=a.extend_fraction, pvalue=a.pvalue,
                        null=a.null, signs=a.signs, seed=a.seed)  # fmt: skip


def cmd_gather_attributions(a: argparse.Namespace) -> None:
    from seqlantern.shards import concat_npy, concat_tsv

    if len(a.attributions) != len(a.predictions):
        raise SeqlanternError("give one --predictions table per --attributions file, in order")
    shape = concat_npy(a.attributions, a.out, what="attribution")
    rows = concat_tsv(a.predictions, a.out_predictions)
    if rows != shape[0]:
        raise SeqlanternError(
            f"{a.out_predictions}: {rows} rows but the attributions have {shape[0]}; "
            "gather the predictions of the same attribute runs"
        )
    print(f"{shape[0]} attribution rows from {len(a.attributions)} shard(s)")


def cmd_fit_null(a: argparse.Namespace) -> None:
    from seqlantern.seqlets import fit_null, write_null
    from seqlantern.shards import StackedRows

    attr = StackedRows.load(a.attributions, what="attribution")
    null = fit_null(attr, _seqlet_params(a))
    write_null(null, a.out)
    print(f"{a.null} null fitted on {attr.shape[0]} sequences in {len(a.attributions)} shard(s)")


def cmd_merge_seqlets(a: argparse.Namespace) -> None:
    from seqlantern.seqlets import merge_files

    if a.control_strengths and len(a.control_strengths) != len(a.candidates):
        raise SeqlanternError(
            f"{len(a.candidates)} candidate tables but {len(a.control_strengths)} control "
            "strength files; give one of each per shard, in shard order"
        )
    n = merge_files(a.candidates, a.control_strengths or None, a.out, shuffles=a.shuffles,
                    fdr=a.fdr, calibration=a.calibration)  # fmt: skip
    print(f"{n} seqlets from {len(a.candidates)} shard(s)")
    if a.calibration:
        from seqlantern.io import read_tsv

        print("calls at several levels:\n" + read_tsv(a.calibration).to_string(index=False))


def _add_hotspot_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--hotspot-bin", type=int, default=10, help="position bin (bp)")
    s.add_argument("--hotspot-fold", type=float, default=3.0,
                   help="fold over uniform placement for a position hotspot (0: off)")  # fmt: skip


def _add_seqlet_args(s: argparse.ArgumentParser) -> None:
    s.add_argument("--window", type=int, default=7)
    s.add_argument("--min-length", type=int, default=5)
    s.add_argument("--max-length", type=int, default=30)
    s.add_argument("--flank", type=int, default=2)
    s.add_argument("--extend-fraction", type=float, default=0.2)
    s.add_argument("--pvalue", type=float, default=0.02)
    s.add_argument("--null", default="laplace")
    s.add_argument("--signs", choices=["both", "positive", "negative"], default="both")
    s.add_argument("--seed", type=int, default=0)


def cmd_annotate(a: argparse.Namespace) -> None:
    from seqlantern.annotate import AnnotateParams, annotate

    params = AnnotateParams(motif_qvalue=a.motif_qvalue, query_flank=a.query_flank,
                            hypothetical_weight=a.hypothetical_weight,
                            query_trim=a.query_trim, motif_score=a.motif_score,
                            min_overlap=a.min_overlap,
                            artifact_min_score=a.artifact_min_score,
                            artifact_flank=a.artifact_flank,
                            artifact_min_overlap=a.artifact_min_overlap,
                            low_complexity_dust=a.low_complexity_dust,
                            low_complexity_read_end=a.low_complexity_read_end,
                            hotspot_bin=a.hotspot_bin, hotspot_fold=a.hotspot_fold)  # fmt: skip
    if a.shard and a.groups:
        raise SeqlanternError("annotate --shard writes no groups; group-elements does")
    df = annotate(a.seqlets, a.onehot, a.attributions, a.predictions, a.index, a.motifs,
                  a.artifacts, a.out, families=a.families, params=params,
                  hypothetical_npy=a.hypothetical, groups_tsv=a.groups,
                  constant_tsv=a.constant, shard=a.shard)  # fmt: skip
    _label_summary(df)


def _label_summary(df: Any) -> None:
    counts = df["label"].value_counts()
    print(f"{len(df)} elements: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def cmd_group_elements(a: argparse.Namespace) -> None:
    from seqlantern.annotate import AnnotateParams, gather_elements

    params = AnnotateParams(motif_qvalue=a.motif_qvalue, query_flank=a.query_flank,
                            hotspot_bin=a.hotspot_bin, hotspot_fold=a.hotspot_fold)  # fmt: skip
    df = gather_elements(a.elements, a.onehot, a.index, a.motifs, a.out, families=a.families,
                         params=params, groups_tsv=a.groups)  # fmt: skip
    _label_summary(df)


def cmd_find_constant(a: argparse.Namespace) -> None:
    from seqlantern.constant import find_constant, write_constant
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy

    index = read_index(a.index)
    x = load_npy(a.onehot, what="one-hot")
    regions = find_constant(x, index, min_share=a.min_share, min_length=a.min_length,
                            min_coverage=a.min_coverage)  # fmt: skip
    write_constant(regions, a.out, a.fasta)
    print(f"{len(regions)} constant regions" + "".join(
        f"; {r.name} {r.sequence} (share {r.share:.3f})" for r in regions))  # fmt: skip


def cmd_shortcuts(a: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from seqlantern.attribute import resolve_target
    from seqlantern.constant import read_constant
    from seqlantern.encode import read_index
    from seqlantern.io import atomic_outputs, load_npy, read_tsv
    from seqlantern.models import load_model, n_outputs
    from seqlantern.shortcuts import ShortcutParams, constant_reliance, shortcut_tests_file
    from seqlantern.train import resolve_device

    _threads(a.threads)
    torch.manual_seed(a.seed)
    model, meta = load_model(_model_spec(a))
    x = load_npy(a.onehot, what="one-hot")
    groups = read_tsv(a.groups, what="groups")
    preds = read_tsv(a.predictions, what="predictions", ints=("row",))
    t = resolve_target(a.target, meta.get("targets"), n_outputs(model, x.shape[2]))
    params = ShortcutParams(shuffles=a.shuffles, backgrounds=a.backgrounds,
                            insert_members=a.insert_members, min_effect=a.min_effect,
                            batch_size=a.batch_size, seed=a.seed)  # fmt: skip
    device = resolve_device(a.device)
    model.to(device)
    if bool(a.constant) != bool(a.out_constant) or (a.constant and not a.index):
        raise SeqlanternError("shortcuts: --constant, --index and --out-constant go together")
    regions = read_constant(a.constant) if a.constant else []
    index = read_index(a.index) if a.index else None
    outs = [a.out_elements, a.out_groups, a.out_dataset] + (
        [a.out_constant] if a.out_constant else [])  # fmt: skip
    # the elements table is streamed from file to file: memory does not grow with it
    with atomic_outputs(*outs) as tmps:
        te, tg, td = tmps[:3]
        g, ds, counts = shortcut_tests_file(model, x, a.elements, groups,
                                            preds["row"].to_numpy(), te, target=t,
                                            output=a.output, params=params,
                                            device=device)  # fmt: skip
        g.to_csv(tg, sep="\t", index=False, na_rep="NA", float_format="%.6g")
        pd.DataFrame({"metric": list(ds), "value": list(ds.values())}).to_csv(
            td, sep="\t", index=False, float_format="%.6g")  # fmt: skip
        if a.out_constant:
            src = constant_reliance(model, x, index, regions, preds["row"].to_numpy(),
                                    target=t, output=a.output, params=params,
                                    device=device)  # fmt: skip
            src.to_csv(tmps[3], sep="\t", index=False, na_rep="NA", float_format="%.6g")
            for r in src.itertuples(index=False):
                print(
                    f"constant region {r.name} ({r.sequence}): ablation effect "
                    f"{r.ablation_effect:.3g} [{r.ablation_low:.3g}, {r.ablation_high:.3g}], "
                    f"insertion effect {r.insertion_effect:.3g} [{r.insertion_low:.3g}, "
                    f"{r.insertion_high:.3g}]; relied on: {r.relied_on}",
                    flush=True,
                )
    n = sum(v for k, v in counts.items() if k != "shortcut")
    decided = sorted(((k, v) for k, v in counts.items() if k != "shortcut"),
                     key=lambda kv: -kv[1])  # fmt: skip
    print(f"{n} elements: " + ", ".join(f"{k} {v}" for k, v in decided)
          + f"; {counts.get('shortcut', 0)} shortcuts; "
          + "share of top-decile signal on artifacts "
          + f"{ds.get('share_of_top_decile_signal_on_artifacts', float('nan')):.3f}")  # fmt: skip


def cmd_mask_artifacts(a: argparse.Namespace) -> None:
    from seqlantern.artifacts import read_artifacts
    from seqlantern.constant import read_constant
    from seqlantern.debias import find_artifact_spans, neutralise
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy, write_tsv

    arts = read_artifacts(*a.artifacts)
    constant = read_constant(a.constant) if a.constant else []
    index = read_index(a.index)
    x = load_npy(a.onehot, what="one-hot")
    kinds = ("adapter", "primer", "vector", "artifact") + (
        ("constant",) if a.include_constant else ())  # fmt: skip
    spans = find_artifact_spans(x, index, arts, constant, k=a.k, kinds=kinds)
    neutralise(x, spans, a.out_onehot, seed=a.seed)
    write_tsv(spans, a.out_spans)
    print(f"{len(spans)} artifact spans in {spans['row'].nunique()} of {x.shape[0]} "
          "sequences neutralised")  # fmt: skip


def cmd_compare_debias(a: argparse.Namespace) -> None:
    from seqlantern.debias import compare_debias
    from seqlantern.encode import read_index
    from seqlantern.io import load_npy, read_tsv
    from seqlantern.train import read_targets

    spans = read_tsv(a.spans, what="artifact spans", ints=("row", "start", "end"))
    p0 = read_tsv(a.predictions_before, what="predictions", ints=("row",))
    p1 = read_tsv(a.predictions_after, what="predictions", ints=("row",))
    index = read_index(a.index)
    y = read_targets(a.targets, index["name"], [a.column], name_column=a.name_column)
    targets = _target_series(y, index["name"])
    ablation = None
    if a.model_before and a.model_after and a.onehot:
        from seqlantern.attribute import resolve_target
        from seqlantern.debias import ablation_drop
        from seqlantern.models import load_checkpoint, n_outputs

        x = load_npy(a.onehot, what="one-hot")
        rows = p0["row"].to_numpy()
        drops = []
        for path in (a.model_before, a.model_after):
            model, meta = load_checkpoint(path)
            t = resolve_target(a.target, meta.get("targets"), n_outputs(model, x.shape[2]))
            drops.append(ablation_drop(model, x, rows, spans, target=t, output=a.output,
                                       seed=a.seed))  # fmt: skip
        ablation = (drops[0], drops[1])
    table = compare_debias(
        spans, (load_npy(a.before, what="attribution"), p0),
        (load_npy(a.after, what="attribution"), p1), targets, a.out,
        ablation=ablation)  # fmt: skip
    d = table.set_index("metric")
    print(f"artifact attribution share {d.loc['artifact_attribution_share', 'before']:.3f} -> "
          f"{d.loc['artifact_attribution_share', 'after']:.3f} (positions: "
          f"{d.loc['artifact_position_fraction', 'before']:.3f}); Pearson on artifact-free "
          f"sequences {d.loc['pearson_artifact_free', 'before']:.3f} -> "
          f"{d.loc['pearson_artifact_free', 'after']:.3f}" + (
              f"; ablation drop {d.loc['artifact_ablation_drop', 'before']:.3f} -> "
              f"{d.loc['artifact_ablation_drop', 'after']:.3f}"
              if "artifact_ablation_drop" in d.index else ""))  # fmt: skip


def _target_series(values: Any, names: Any) -> Any:
    """Targets (n,) or (n, 1) as a Series indexed by sequence name."""
    import numpy as np
    import pandas as pd

    v = np.asarray(values, dtype=float).reshape(len(names), -1)[:, 0]
    return pd.Series(v, index=list(names))


def cmd_compare_methods(a: argparse.Namespace) -> None:
    import numpy as np
    import pandas as pd
    import torch

    from seqlantern.attribute import resolve_target
    from seqlantern.diagnostics import compare_methods, effective_receptive_field
    from seqlantern.encode import names_subset, read_index
    from seqlantern.io import atomic_outputs, load_npy
    from seqlantern.methods import METHODS
    from seqlantern.models import load_model, n_outputs

    _threads(a.threads)
    torch.manual_seed(a.seed)
    unknown = [m for m in a.methods if m not in METHODS]
    if unknown or len(a.methods) < 2:
        raise SeqlanternError(f"compare-methods: give 2+ methods of {list(METHODS)} "
                              f"(unknown: {unknown})")  # fmt: skip
    model, meta = load_model(_model_spec(a))
    model.eval()
    index = read_index(a.index)
    x = load_npy(a.onehot, what="one-hot")
    rows = names_subset(index, a.which)
    if len(rows) == 0:
        raise SeqlanternError(f"{a.index}: selection {a.which!r} holds no sequences")
    rng = np.random.default_rng(a.seed)
    rows = np.sort(rng.choice(rows, size=min(a.n, len(rows)), replace=False))
    xs = np.asarray(x[rows], dtype=np.float32)
    t = resolve_target(a.target, meta.get("targets"), n_outputs(model, x.shape[2]))
    table, curves = compare_methods(model, xs, methods=a.methods, target=t, output=a.output,
                                    steps=a.steps, references=a.references,
                                    seed=a.seed)  # fmt: skip
    profile, erf = effective_receptive_field(model, x.shape[2], seed=a.seed)
    outs = (a.out_table, a.out_curves, a.out_erf, a.out_erf_profile)
    with atomic_outputs(*outs) as tmps:
        for df, tmp in zip((table, curves, erf, profile), tmps, strict=True):
            pd.DataFrame(df).to_csv(tmp, sep="\t", index=False, float_format="%.5g")
    print(f"{len(rows)} sequences; methods by deletion-curve gain: "
          + ", ".join(f"{m} {g:.3f}" for m, g in zip(table["method"], table["deletion_gain"],
                                                        strict=True)))  # fmt: skip


def cmd_export(a: argparse.Namespace) -> None:
    from seqlantern.export import export

    export(a.elements, a.index, a.candidates, a.artifacts_bed, a.all, header=a.header,
           browser=a.browser, track=a.track_line, run_name=a.run_name)  # fmt: skip


def cmd_segment(a: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from seqlantern.attribute import resolve_target
    from seqlantern.encode import names_subset, read_index
    from seqlantern.io import atomic_outputs, load_npy, read_tsv
    from seqlantern.models import load_model, n_outputs
    from seqlantern.segment import boundary_iou, segment
    from seqlantern.train import resolve_device

    _threads(a.threads)
    torch.manual_seed(a.seed)
    model, meta = load_model(_model_spec(a))
    task = meta.get("task", a.task)
    if task != "binary" and a.threshold is None:
        raise SeqlanternError(
            f"segment: the model's task is {task}: give --threshold (segment.threshold), "
            "the prediction above which a sequence counts as positive"
        )
    index = read_index(a.index)
    x = load_npy(a.onehot, what="one-hot")
    which: Any = a.which
    if a.names_file:
        if not Path(a.names_file).is_file():
            raise SeqlanternError(f"{a.names_file}: names file not found (--names-file)")
        which = [ln.strip() for ln in Path(a.names_file).read_text().splitlines() if ln.strip()]
    rows = names_subset(index, which)
    if len(rows) == 0:
        raise SeqlanternError(f"{a.index}: selection {a.which!r} holds no sequences")
    t = resolve_target(a.target, meta.get("targets"), n_outputs(model, x.shape[2]))
    names = index["name"].iloc[rows].tolist()
    truth = None
    if a.truth:
        truth = read_tsv(a.truth, what="truth", ints=("start", "end"))
        for col in ("name", "start", "end"):
            if col not in truth.columns:
                raise SeqlanternError(f"{a.truth}: no {col!r} column (name start end ...)")
        if "kind" in truth.columns:
            truth = truth[truth["kind"] == "functional"]
        truth = truth[truth["name"].isin(set(names))]
    seg = segment(model, x, rows, names, task=task, threshold=a.threshold, target=t,
                  seed_fraction=a.seed_fraction, grow_fraction=a.grow_fraction,
                  batch_size=a.batch_size, device=resolve_device(a.device))  # fmt: skip
    outs = [a.out] + ([a.evaluation] if a.evaluation and truth is not None else [])
    with atomic_outputs(*outs) as tmps:
        seg.to_csv(tmps[0], sep="\t", index=False, float_format="%.6g")
        if len(tmps) > 1 and truth is not None:
            ev = boundary_iou(seg, truth)
            pd.DataFrame({"metric": list(ev), "value": list(ev.values())}).to_csv(
                tmps[1], sep="\t", index=False, float_format="%.6g")  # fmt: skip
            print(f"[segment] {ev}", flush=True)
    print(f"[segment] {len(seg):,} segments in {seg['name'].nunique():,} sequences", flush=True)


def cmd_erf_growth(a: argparse.Namespace) -> None:
    import pandas as pd

    from seqlantern.diagnostics import erf_growth
    from seqlantern.io import atomic_outputs

    _threads(a.threads)
    table, fit = erf_growth(depth=a.depth, kernel=a.kernel, channels=a.channels,
                            models=a.models, seed=a.seed)  # fmt: skip
    with atomic_outputs(a.out, a.out_fit) as (t1, t2):
        table.to_csv(t1, sep="\t", index=False, float_format="%.6g")
        pd.DataFrame({"metric": list(fit), "value": list(fit.values())}).to_csv(
            t2, sep="\t", index=False, float_format="%.6g")  # fmt: skip
    print(f"[erf-growth] ERF sd ~ depth^{fit['exponent']:.2f} "
          f"[{fit['exponent_low']:.2f}, {fit['exponent_high']:.2f}] over depths 1-{a.depth}; "
          f"deeper half {fit['exponent_deep']:.2f} [{fit['exponent_deep_low']:.2f}, "
          f"{fit['exponent_deep_high']:.2f}]; theoretical receptive field "
          f"~ depth^{fit['theoretical_exponent']:.2f}", flush=True)  # fmt: skip


def cmd_tracks(a: argparse.Namespace) -> None:
    from seqlantern.tracks import write_tracks

    write_tracks(a.attributions, a.predictions, a.onehot, a.index, a.out_bigwig,
                 genome=a.genome, elements_bed=a.elements_bed, out_bigbed=a.out_bigbed,
                 hypothetical=a.hypothetical or None,
                 out_hypothetical=a.out_hypothetical or None)  # fmt: skip


def cmd_evaluate(a: argparse.Namespace) -> None:
    from seqlantern.evaluate import evaluate

    df = evaluate(a.elements, a.truth, a.predictions, a.out, motif_db=a.motifs,
                  families=a.families)  # fmt: skip
    print(df.to_string(index=False))


def cmd_motifs(a: argparse.Namespace) -> None:
    from seqlantern.motifs import export_jaspar, read_motifs, write_meme

    if a.convert:
        motifs = read_motifs(a.convert)
        write_meme(motifs, a.out)
        print(f"{len(motifs)} motifs from {a.convert} written to {a.out}")
    else:
        n = export_jaspar(a.out, release=a.release, collection=a.collection,
                          tax_groups=a.tax_group or None, families_out=a.families)  # fmt: skip
        print(f"{n} motifs of {a.release} {a.collection} written to {a.out}")


def cmd_cluster_motifs(a: argparse.Namespace) -> None:
    from seqlantern.archetypes import write_archetypes

    t = write_archetypes(a.motifs, a.out, families=a.families, cut=a.cut)
    src = t["family_source"].str.split(":").str[0].value_counts()
    print(f"{len(t)} motifs in {t['cluster'].nunique()} clusters "
          f"({int((t['cluster_size'] == 1).sum())} singletons); families from "
          + ", ".join(f"{k} {v}" for k, v in src.items()) + f"; written to {a.out}")  # fmt: skip


def cmd_report(a: argparse.Namespace) -> None:
    from seqlantern.report import render_report

    render_report(a.out, elements=a.elements, index=a.index, onehot=a.onehot,
                  attributions=a.attributions, predictions=a.predictions, motifs=a.motifs,
                  metrics=a.metrics, curve=a.curve, evaluation=a.evaluation,
                  config=a.config, examples=a.examples, groups=a.groups,
                  dataset=a.dataset, debias=a.debias, methods=a.methods, curves=a.curves,
                  erf=a.erf, erf_profile=a.erf_profile, calibration=a.calibration,
                  artifacts=a.artifacts or None, constant=a.constant, fdr=a.fdr,
                  constant_reliance=a.constant_reliance, debias_spans=a.debias_spans,
                  debias_min_share=a.debias_min_share, top_motifs=a.top_motifs,
                  element_rows=a.element_rows, links=a.links, erf_growth=a.erf_growth,
                  erf_growth_fit=a.erf_growth_fit)  # fmt: skip


def _add_model_args(s: argparse.ArgumentParser) -> None:
    """Options that load a model (ours or a foreign one) and pick the output explained."""
    s.add_argument("--model", help="seqlantern checkpoint JSON")
    s.add_argument("--import-path", help="foreign model class, package.module:Class")
    s.add_argument("--weights", help="foreign model weights (.safetensors or state dict)")
    s.add_argument("--model-kwargs", type=_json, default={})
    s.add_argument("--model-targets", type=_csv, default=[])
    s.add_argument("--task", choices=["regression", "binary"], default="regression")
    s.add_argument("--target", default="0", help="output index or target name")
    s.add_argument("--output", choices=["logit", "activation"], default="logit")


# Help text of the options that several stages share, or that a stage defines without
# its own text: one definition per option name ("stage:--option" for a stage's own
# meaning). build_parser fills these in; tests/test_cli_errors.py checks that every
# option of every stage has help text (and so shows its default).
_HELP = {
    "--onehot": "one-hot array (N, 4, L) .npy from encode",
    "--index": "index TSV from encode (names, split, coordinates)",
    "--attributions": "attribution maps .npy from attribute (gather-attributions)",
    "--predictions": "predictions TSV from attribute (rows and names of the maps)",
    "--seed": "random seed: the same seed gives byte-identical outputs on CPU",
    "--device": "auto (CUDA when available), cpu or cuda",
    "--threads": "CPU threads (0: PyTorch's default)",
    "--batch-size": "sequences per forward/backward batch",
    "--task": "regression (MSE) or binary (logistic) outputs",
    "--output": "explain the logit or the activation (sigmoid for binary tasks)",
    "--model-kwargs": "JSON keyword arguments of a foreign model's class",
    "--model-targets": "comma-separated output names of a foreign model",
    "--name-column": "column of the targets table holding the record names",
    "--window": "seqlet core window (bp) whose summed attribution is tested",
    "--min-length": "shortest seqlet (bp)",
    "--max-length": "longest seqlet (bp)",
    "--flank": "bp added either side of a called seqlet",
    "--extend-fraction": "grow a seqlet while the next base holds this share of its peak",
    "--pvalue": "candidate threshold: a seqlet's p-value under the null (the call "
    "threshold when there are no controls)",
    "--null": "null model of window sums: laplace, empirical or (with controls) shuffled",
    "--signs": "which peaks to call: both, positive or negative",
    "--motif-qvalue": "largest TOMTOM q-value for a motif match",
    "--hypothetical-weight": "weight of the hypothetical contributions in the motif query",
    "--artifact-min-score": "smallest alignment score (matches - mismatches) of an artifact hit",
    "--artifact-flank": "bp either side of a seqlet searched for artifact sequence",
    "--artifact-min-overlap": "share of a seqlet an artifact hit must cover to label it artifact",
    "--truth": "truth TSV of the planted motifs (name start end strand motif ... kind effect)",
    "--motifs": "MEME motif database",
    "--families": "per-motif family/cluster table (TSV)",
    "--elements": "elements table (annotate or shortcuts)",
    "--seqlets": "seqlets table from merge-seqlets (or call-seqlets)",
    "--targets": "targets TSV (name column + one column per target)",
    "--fasta": "FASTA file (plain or .gz)",
    "simulate:--fasta": "output FASTA of the simulated library",
    "simulate:--targets": "output targets TSV",
    "simulate:--truth": "output truth TSV (planted motifs and adapters)",
    "simulate:--n": "number of sequences",
    "simulate:--length": "sequence length (bp)",
    "encode:--genome": "genome FASTA (with or without .fai) for --bed regions",
    "encode:--bed": "BED regions on --genome (name in column 4, strand in column 6)",
    "encode:--min-length": "shortest record kept (bp); shorter ones are an error",
    "encode:--iupac": "IUPAC codes other than N: zero columns, fractional, or an error",
    "encode:--lowercase": "lower-case (soft-masked) bases: upper = read as bases, n = as N",
    "encode:--valid-fraction": "share of records in the validation split",
    "encode:--test-fraction": "share of records in the test split",
    "encode:--valid-chroms": "comma-separated chromosomes held out for validation (BED input)",
    "encode:--test-chroms": "comma-separated chromosomes held out for testing (BED input)",
    "encode:--onehot": "output one-hot .npy",
    "encode:--index": "output index TSV",
    "train:--architecture": "model architecture (cnn: the default SeqCNN)",
    "train:--epochs": "most epochs (passes of at least 16,000 sequences with equal steps)",
    "train:--learning-rate": "Adam learning rate",
    "train:--patience": "epochs without a better validation loss before stopping",
    "train:--penalty-weight": "attribution penalty inside masked artifact spans (debias)",
    "train:--metrics": "output test metrics TSV (model and k-mer baseline)",
    "train:--curve": "output learning-curve PNG",
    "attribute:--method": "attribution method (gradient_x_input: per-base gradient x input)",
    "attribute:--out": "output attribution maps .npy",
    "attribute:--predictions": "output predictions TSV",
    "call-seqlets:--out": "output seqlets TSV",
    "gather-attributions:--out": "output attribution maps .npy (all shards)",
    "gather-attributions:--out-predictions": "output predictions TSV (all shards)",
    "merge-seqlets:--out": "output seqlets TSV with q-values over all shards",
    "annotate:--out": "output elements TSV",
    "group-elements:--out": "output elements TSV (grouped)",
    "shortcuts:--out-elements": "output elements TSV with effects and decisions",
    "shortcuts:--out-groups": "output groups TSV with effects",
    "shortcuts:--out-dataset": "output dataset-level figures TSV",
    "mask-artifacts:--out-onehot": "output one-hot .npy with artifact spans neutralised",
    "compare-debias:--predictions-before": "predictions TSV of the original model",
    "compare-debias:--predictions-after": "predictions TSV of the debiased model",
    "compare-debias:--out": "output comparison TSV",
    "compare-methods:--steps": "integration steps (integrated/expected gradients)",
    "compare-methods:--references": "shuffled references (expected gradients)",
    "compare-methods:--out-table": "output comparison TSV",
    "compare-methods:--out-curves": "output deletion/insertion curves TSV",
    "compare-methods:--out-erf": "output receptive-field summary TSV",
    "compare-methods:--out-erf-profile": "output receptive-field profiles TSV",
    "evaluate:--out": "output evaluation TSV",
    "motifs:--collection": "JASPAR collection (CORE, UNVALIDATED, ...)",
    "report:--out": "output HTML report",
}

# where each stage sits in the workflow (shown in its --help)
_ORDER = {
    "simulate": "first stage of the demo; before encode",
    "encode": "first stage (after simulate for the demo); before train and attribute",
    "train": "after encode; before attribute",
    "attribute": "after train (or with your own model); before call-seqlets",
    "gather-attributions": "after attribute --shard; before the report and debias",
    "fit-null": "after attribute; before call-seqlets --null-file",
    "call-seqlets": "after attribute; before merge-seqlets or annotate",
    "merge-seqlets": "after call-seqlets; before annotate",
    "find-constant": "after encode; before annotate",
    "annotate": "after merge-seqlets and find-constant; before group-elements",
    "group-elements": "after annotate --shard; before shortcuts",
    "shortcuts": "after group-elements; before export and report",
    "mask-artifacts": "after encode; before train (debiased) and compare-debias",
    "compare-debias": "after attribute of both models; before report",
    "compare-methods": "side diagnostic after train; before report",
    "evaluate": "after shortcuts, with a truth table; before report",
    "tracks": "after export; before report",
    "erf-growth": "side diagnostic, needs no data; before report",
    "segment": "after train (binary task) and encode; a side study",
}


def _fill_help(p: argparse.ArgumentParser) -> None:
    """Give every option of every stage its help text (:data:`_HELP`) and every stage
    its place in the workflow (:data:`_ORDER`)."""
    sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
    for choice in sub._choices_actions:
        where = _ORDER.get(choice.dest)
        if where and choice.help and where not in choice.help:
            choice.help = f"{choice.help} ({where})"
    for name, sp in sub.choices.items():
        where = _ORDER.get(name)
        if where and not sp.description:
            sp.description = f"{name}: {where}."
        for a in sp._actions:
            if a.option_strings and not a.help and a.option_strings[0] != "-h":
                opt = a.option_strings[0]
                a.help = _HELP.get(f"{name}:{opt}", _HELP.get(opt))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (exposed for documentation and tests)."""
    from seqlantern import __version__

    p = _Parser(prog="seqlantern", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"seqlantern {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("simulate", help="write the seeded demo library")
    s.add_argument("--motifs", required=True, help="MEME file with the grammar's motifs")
    s.add_argument("--n", type=_positive, default=20000)
    s.add_argument("--length", type=_positive, default=200)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--fasta", required=True)
    s.add_argument("--targets", required=True)
    s.add_argument("--truth", required=True)
    s.set_defaults(func=cmd_simulate)

    s = sub.add_parser("encode", help="FASTA records or BED regions -> one-hot + index")
    s.add_argument("--fasta")
    s.add_argument("--genome")
    s.add_argument("--bed")
    s.add_argument("--length", type=_nonnegative, default=0, help="0: require equal lengths")
    s.add_argument(
        "--tile-window",
        type=_nonnegative,
        default=0,
        help="tile --genome (or its --bed regions) into windows of this length; 0: no tiling",
    )
    s.add_argument(
        "--tile-stride", type=_nonnegative, default=0, help="tiling step (0: the window)"
    )
    s.add_argument("--chroms", type=_csv, default=[], help="comma-separated chromosomes to tile")
    s.add_argument(
        "--max-n",
        type=float,
        default=0.5,
        help="skip tiles with more than this share of N (or other non-ACGT) bases",
    )
    s.add_argument("--min-length", type=int, default=20)
    s.add_argument("--iupac", choices=["zero", "fractional", "error"], default="zero")
    s.add_argument("--lowercase", choices=["upper", "n"], default="upper")
    s.add_argument("--valid-fraction", type=float, default=0.1)
    s.add_argument("--test-fraction", type=float, default=0.1)
    s.add_argument("--valid-chroms", type=_csv, default=[])
    s.add_argument("--test-chroms", type=_csv, default=[])
    s.add_argument(
        "--split-file",
        help="TSV: name column first, then a split column (train/valid/test) giving every "
        "record's split (e.g. the targets TSV with a split column); overrides fractions",
    )
    s.add_argument("--split-column", default="split", help="split column of --split-file")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.set_defaults(func=cmd_encode)

    s = sub.add_parser("train", help="train a CNN, early-stopped, with test metrics")
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--targets", required=True)
    s.add_argument("--columns", type=_csv, required=True, help="comma-separated target columns")
    s.add_argument("--name-column", default="name")
    s.add_argument("--task", choices=["regression", "binary"], default="regression")
    s.add_argument("--architecture", default="cnn")
    s.add_argument("--model-options", type=_json, default={}, help="JSON architecture options")
    s.add_argument("--epochs", type=_positive, default=50)
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--learning-rate", type=float, default=1e-3)
    s.add_argument("--patience", type=int, default=8)
    s.add_argument(
        "--max-minutes",
        type=float,
        default=None,
        help="wall-clock cap (off by default: a cap makes the model depend on machine load)",
    )
    s.add_argument(
        "--augment-rc",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="random reverse complements (--no-augment-rc for strand-specific assays)",
    )
    s.add_argument(
        "--lr-schedule",
        choices=["plateau", "none"],
        default="plateau",
        help="plateau: halve the learning rate after patience//2 epochs without improvement",
    )
    s.add_argument(
        "--ensemble", type=int, default=1, help="train k models (seeds seed..seed+k-1), average"
    )
    s.add_argument(
        "--no-baseline", action="store_true", help="skip the k-mer ridge/logistic baseline"
    )
    s.add_argument(
        "--equal-steps",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="count epochs/patience in passes of >= 16,000 sequences (small libraries)",
    )
    s.add_argument(
        "--kmer-fallback",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="regression: blend the network with the k-mer baseline for targets where "
        "the baseline predicts the validation split better",
    )
    s.add_argument(
        "--penalty-spans",
        help="TSV row/start/end of positions the model must "
        "not use (attribution penalty; mask-artifacts --out-spans)",
    )
    s.add_argument("--penalty-weight", type=float, default=0.0)
    s.add_argument(
        "--penalty-onehot",
        help="inputs for the penalty when --onehot has the "
        "artifacts neutralised (the original library)",
    )
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--out-model", required=True, help="checkpoint JSON (weights beside it)")
    s.add_argument("--metrics", required=True)
    s.add_argument("--curve", required=True)
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("attribute", help="gradient x input maps for chosen sequences")
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    _add_model_args(s)
    s.add_argument("--no-correction", action="store_true", help="skip gradient correction")
    s.add_argument("--method", default="gradient_x_input",
                   choices=["gradient_x_input", "saliency", "integrated_gradients",
                            "expected_gradients", "ism", "grad_cam"])  # fmt: skip
    s.add_argument("--steps", type=int, default=32, help="integration steps (IG, EG)")
    s.add_argument(
        "--references", type=int, default=8, help="shuffled references (expected gradients)"
    )
    s.add_argument("--baseline", choices=["zero", "shuffled"], default="zero",
                   help="integrated-gradients baseline")  # fmt: skip
    s.add_argument(
        "--rc-average",
        action="store_true",
        help="average with the reverse complement's map (strand-symmetric assays)",
    )
    s.add_argument(
        "--check",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="integrated/expected gradients: check that each map adds up to f(x) - "
        "f(reference) (column completeness_error; a warning past 5%%)",
    )
    s.add_argument("--which", default="test", help="all, train, valid or test")
    s.add_argument("--names-file", help="file of sequence names to attribute (overrides --which)")
    s.add_argument("--shuffles", type=int, default=0,
                   help="attribute this many dinucleotide-shuffled copies of each sequence "
                   "instead (controls for call-seqlets)")  # fmt: skip
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.add_argument("--predictions", required=True)
    s.add_argument("--hypothetical", help="also write hypothetical contributions (.npy)")
    s.add_argument("--shards", type=int, default=1,
                   help="split the selection into this many blocks (multiples of the batch "
                   "size) ...")  # fmt: skip
    s.add_argument("--shard", type=int, default=0, help="... and attribute only this one (0-based)")
    s.set_defaults(func=cmd_attribute)

    s = sub.add_parser("call-seqlets", help="attribution peaks with p-values")
    s.add_argument("--attributions", required=True)
    s.add_argument("--predictions", required=True)
    _add_seqlet_args(s)
    s.add_argument("--control-attributions",
                   help="attributions of shuffled copies (attribute --shuffles): empirical "
                   "p-values and BH q-values from them")  # fmt: skip
    s.add_argument("--fdr", type=float, default=0.1, help="q-value cut-off with controls")
    s.add_argument("--null-file",
                   help="null from fit-null (one shard of a sharded run): --out gets this "
                   "shard's calls, or with controls every candidate, "
                   "for merge-seqlets")  # fmt: skip
    s.add_argument("--control-out", help="with --null-file and controls: control strengths (.npy)")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_call_seqlets)

    s = sub.add_parser("gather-attributions", help="concatenate the shards' attributions")
    s.add_argument("--attributions", nargs="+", required=True, help="every shard, in order")
    s.add_argument("--predictions", nargs="+", required=True, help="every shard, in order")
    s.add_argument("--out", required=True)
    s.add_argument("--out-predictions", required=True)
    s.set_defaults(func=cmd_gather_attributions)

    s = sub.add_parser("fit-null", help="seqlet candidate null fitted on all shards' maps")
    s.add_argument("--attributions", nargs="+", required=True, help="every shard, in order")
    _add_seqlet_args(s)
    s.add_argument("--out", required=True, help="null table (TSV) for call-seqlets --null-file")
    s.set_defaults(func=cmd_fit_null)

    s = sub.add_parser("merge-seqlets", help="gather the shards' seqlet calls (q-values)")
    s.add_argument("--candidates", nargs="+", required=True, help="every shard, in order")
    s.add_argument("--control-strengths", nargs="*", default=[],
                   help="each shard's call-seqlets --control-out "
                   "(shuffled-control null)")  # fmt: skip
    s.add_argument("--shuffles", type=int, default=1, help="control copies per sequence")
    s.add_argument("--fdr", type=float, default=0.1, help="q-value cut-off with controls")
    s.add_argument(
        "--calibration",
        help="with controls: TSV of calls and control-estimated FDR at several levels",
    )
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_merge_seqlets)

    s = sub.add_parser("annotate", help="match seqlets to motifs and artifacts, label them")
    s.add_argument("--seqlets", required=True)
    s.add_argument("--onehot", required=True)
    s.add_argument("--attributions", required=True)
    s.add_argument("--predictions", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--motifs", required=True, help="MEME motif database")
    s.add_argument("--families", help="TSV motif_id -> tf_family")
    s.add_argument("--artifacts", nargs="+", required=True, help="artifact FASTA file(s)")
    s.add_argument("--motif-qvalue", type=float, default=0.05)
    s.add_argument("--query-flank", type=int, default=6, help="context bp around the seqlet")
    s.add_argument("--hypothetical", help="hypothetical contributions (attribute --hypothetical)")
    s.add_argument("--hypothetical-weight", type=float, default=0.5)
    s.add_argument(
        "--query-trim",
        type=float,
        default=0.1,
        help="cut flank bases below this fraction of the peak |attribution|",
    )
    s.add_argument(
        "--motif-score",
        choices=["pearson", "euclidean"],
        default="pearson",
        help="TOMTOM column similarity",
    )
    s.add_argument("--min-overlap", type=int, default=5, help="fewest aligned motif columns")
    s.add_argument("--groups", help="also write the element groups table (TSV)")
    s.add_argument("--artifact-min-score", type=int, default=12)
    s.add_argument("--artifact-flank", type=int, default=10)
    s.add_argument("--artifact-min-overlap", type=float, default=0.5)
    s.add_argument("--constant", help="constant regions from find-constant (TSV)")
    s.add_argument(
        "--low-complexity-dust",
        type=float,
        default=3.0,
        help="DUST score from which a seqlet is low complexity (0: off)",
    )
    s.add_argument(
        "--low-complexity-read-end",
        type=int,
        default=10,
        help="low complexity is an artifact only within this many bp of a record's ends "
        "(read ends); inside the insert it is only annotated",
    )
    _add_hotspot_args(s)
    s.add_argument("--shard", action="store_true",
                   help="--attributions/--predictions are one shard: annotate its seqlets "
                   "only, per element, for group-elements")  # fmt: skip
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_annotate)

    s = sub.add_parser(
        "group-elements", help="gather the shards' elements: hotspots, groups, group matches"
    )
    s.add_argument("--elements", nargs="+", required=True,
                   help="every shard's annotate --shard table, in order")  # fmt: skip
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--motifs", required=True, help="MEME motif database")
    s.add_argument("--families", help="TSV motif_id -> tf_family")
    s.add_argument("--motif-qvalue", type=float, default=0.05)
    s.add_argument("--query-flank", type=int, default=6, help="context bp around the seqlet")
    _add_hotspot_args(s)
    s.add_argument("--out", required=True)
    s.add_argument("--groups", required=True, help="element groups table (TSV)")
    s.set_defaults(func=cmd_group_elements)

    s = sub.add_parser("find-constant",
                       help="sequence shared at the same position by most inputs")  # fmt: skip
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument(
        "--min-share", type=float, default=0.9, help="share of inputs with the majority base"
    )
    s.add_argument("--min-length", type=int, default=8, help="shortest constant run (bp)")
    s.add_argument(
        "--min-coverage",
        type=float,
        default=0.5,
        help="share of inputs that must reach the position",
    )
    s.add_argument("--out", required=True, help="constant regions (TSV)")
    s.add_argument("--fasta", required=True, help="the same as an artifact FASTA")
    s.set_defaults(func=cmd_find_constant)

    s = sub.add_parser("shortcuts", help="ablation/insertion effects and the final decision")
    s.add_argument("--onehot", required=True)
    s.add_argument("--elements", required=True, help="elements table from annotate")
    s.add_argument("--groups", required=True, help="groups table from annotate")
    s.add_argument("--predictions", required=True, help="predictions.tsv of attribute")
    _add_model_args(s)
    s.add_argument("--shuffles", type=int, default=5, help="ablations per element")
    s.add_argument("--backgrounds", type=int, default=10, help="insertion backgrounds")
    s.add_argument(
        "--insert-members",
        type=int,
        default=20,
        help="members per group inserted into the backgrounds",
    )
    s.add_argument(
        "--min-effect",
        type=float,
        default=0.0,
        help="smallest |effect| (prediction units) for a shortcut",
    )
    s.add_argument("--batch-size", type=int, default=256)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out-elements", required=True)
    s.add_argument("--out-groups", required=True)
    s.add_argument("--out-dataset", required=True)
    s.add_argument("--constant", help="constant regions from find-constant (TSV)")
    s.add_argument("--index", help="index.tsv of encode (needed with --constant)")
    s.add_argument(
        "--out-constant", help="reliance on each constant region (ablation and insertion effects)"
    )
    s.set_defaults(func=cmd_shortcuts)

    s = sub.add_parser("mask-artifacts",
                       help="the one-hot array with artifact spans neutralised")  # fmt: skip
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--artifacts", nargs="+", required=True, help="artifact FASTA file(s)")
    s.add_argument("--constant", help="constant regions from find-constant (TSV)")
    s.add_argument(
        "--include-constant",
        action="store_true",
        help="neutralise the constant regions too (off: every input carries them)",
    )
    s.add_argument("--k", type=int, default=12, help="k-mer length of the exact hits")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out-onehot", required=True)
    s.add_argument("--out-spans", required=True, help="artifact spans found (TSV)")
    s.set_defaults(func=cmd_mask_artifacts)

    s = sub.add_parser("compare-debias", help="artifact reliance before/after debiasing")
    s.add_argument("--spans", required=True, help="mask-artifacts --out-spans")
    s.add_argument("--index", required=True)
    s.add_argument("--before", required=True, help="attributions of the original model")
    s.add_argument("--predictions-before", required=True)
    s.add_argument("--after", required=True, help="attributions of the debiased model")
    s.add_argument("--predictions-after", required=True)
    s.add_argument("--targets", required=True, help="measured values (TSV)")
    s.add_argument("--column", required=True, help="target column (the attributed one)")
    s.add_argument("--name-column", default="name")
    s.add_argument("--onehot", help="with both models: also the ablation drop")
    s.add_argument("--model-before", help="checkpoint JSON of the original model")
    s.add_argument("--model-after", help="checkpoint JSON of the debiased model")
    s.add_argument("--target", default="0", help="output (index or name) for the ablation")
    s.add_argument("--output", choices=["logit", "activation"], default="logit")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_compare_debias)

    s = sub.add_parser("compare-methods",
                       help="faithfulness, stability and ISM agreement of 2+ methods")  # fmt: skip
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    _add_model_args(s)
    s.add_argument("--methods", type=_csv, required=True, help="comma-separated methods")
    s.add_argument("--which", default="test", help="all, train, valid or test")
    s.add_argument("--n", type=int, default=64, help="sequences compared (seeded sample)")
    s.add_argument("--steps", type=int, default=32)
    s.add_argument("--references", type=int, default=8)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out-table", required=True)
    s.add_argument("--out-curves", required=True)
    s.add_argument("--out-erf", required=True)
    s.add_argument("--out-erf-profile", required=True)
    s.set_defaults(func=cmd_compare_methods)

    s = sub.add_parser(
        "export",
        help="BED files of candidates, artifacts and all elements (after shortcuts, before "
        "report): BED6+10 detail tables and BED9 .browser.bed tracks for IGV/UCSC",
    )
    s.add_argument("--elements", required=True, help="elements table (shortcuts --out)")
    s.add_argument("--index", required=True, help="encode index TSV (coordinates)")
    s.add_argument("--candidates", required=True, help="BED of plausible elements")
    s.add_argument("--artifacts-bed", required=True, help="BED of artifact elements")
    s.add_argument("--all", required=True, help="BED of every element")
    s.add_argument(
        "--header",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="a '#chrom start end ...' column line at the top of the detail BEDs",
    )
    s.add_argument(
        "--browser",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also write X.browser.bed (BED9, itemRgb by class) beside each X.bed",
    )
    s.add_argument(
        "--track-line",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="a UCSC/IGV 'track' line at the top of the .browser.bed files",
    )
    s.add_argument("--run-name", default="run", help="named in the track descriptions")
    s.set_defaults(func=cmd_export)

    s = sub.add_parser(
        "segment",
        help="element segments from sequence labels: Grad-CAM seeds grown along the map",
    )
    _add_model_args(s)
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--which", default="test", help="all, train, valid or test")
    s.add_argument("--names-file", help="segment these sequences (one name per line)")
    s.add_argument(
        "--threshold",
        type=float,
        help="regression models: segment sequences predicted at or above this",
    )
    s.add_argument(
        "--seed-fraction", type=float, default=0.5, help="seeds: Grad-CAM >= this x its max"
    )
    s.add_argument(
        "--grow-fraction",
        type=float,
        default=0.25,
        help="grow while |attribution| >= this x the sequence's peak",
    )
    s.add_argument("--truth", help="truth TSV (name start end ...): boundary IoU")
    s.add_argument("--evaluation", help="output boundary IoU table (needs --truth)")
    s.add_argument("--batch-size", type=int, default=128)
    s.add_argument("--device", default="auto")
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", required=True, help="output segments TSV")
    s.set_defaults(func=cmd_segment)

    s = sub.add_parser(
        "erf-growth",
        help="how the effective receptive field grows with depth (random conv stacks)",
    )
    s.add_argument("--depth", type=_positive, default=16, help="deepest stack (blocks)")
    s.add_argument("--kernel", type=_positive, default=9, help="kernel width of every block")
    s.add_argument("--channels", type=_positive, default=32, help="channels of every block")
    s.add_argument("--models", type=_int_at_least(2), default=8, help="random stacks")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--threads", type=int, default=0)
    s.add_argument("--out", required=True, help="output table: depth model theoretical_rf erf_sd")
    s.add_argument("--out-fit", required=True, help="output fitted exponents (metric value)")
    s.set_defaults(func=cmd_erf_growth)

    s = sub.add_parser("tracks", help="genome-browser tracks: attribution bigWig, element bigBed")
    s.add_argument("--attributions", required=True, help="attribution maps .npy (gathered)")
    s.add_argument("--predictions", required=True, help="predictions TSV of the same run")
    s.add_argument("--onehot", required=True)
    s.add_argument("--index", required=True)
    s.add_argument("--genome", help="genome FASTA of genomic windows (its .fai gives the sizes)")
    s.add_argument("--elements-bed", help="all_elements.bed from export (for --out-bigbed)")
    s.add_argument("--out-bigwig", required=True, help="output attribution bigWig")
    s.add_argument("--out-bigbed", help="output element bigBed (needs --elements-bed)")
    s.add_argument(
        "--hypothetical", nargs="*", default=[], help="hypothetical .npy of attribute (shards)"
    )
    s.add_argument("--out-hypothetical", nargs="*", default=[], help="four bigWigs: A, C, G, T")
    s.set_defaults(func=cmd_tracks)

    s = sub.add_parser("evaluate", help="score elements against planted truth")
    s.add_argument("--elements", required=True)
    s.add_argument("--truth", required=True)
    s.add_argument("--predictions", required=True)
    s.add_argument("--motifs", required=True)
    s.add_argument("--families")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("motifs", help="export JASPAR (offline, pyjaspar) or convert to MEME")
    s.add_argument("--convert", help="a MEME, JASPAR or HOMER motif file to convert")
    s.add_argument("--release", default="JASPAR2026", help="pyjaspar release, e.g. JASPAR2024")
    s.add_argument("--collection", default="CORE")
    s.add_argument("--tax-group", type=_csv, default=[], help="e.g. vertebrates,insects")
    s.add_argument("--families", help="also write the TF class/family table (TSV)")
    s.add_argument("--out", required=True, help="output MEME file")
    s.set_defaults(func=cmd_motifs)

    s = sub.add_parser(
        "cluster-motifs", help="offline: archetype clusters and a family for every motif"
    )
    s.add_argument("--motifs", required=True, help="motif database (MEME, JASPAR, HOMER)")
    s.add_argument("--families", help="JASPAR class/family table (motifs --families)")
    s.add_argument(
        "--cut",
        type=float,
        default=0.3,
        help="average-linkage cut on 1 - similarity (mean column Pearson)",
    )
    s.add_argument(
        "--out", required=True, help="archetype table (TSV); may be the --families file itself"
    )
    s.set_defaults(func=cmd_cluster_motifs)

    s = sub.add_parser(
        "report",
        help="self-contained HTML report (last stage: after shortcuts, export and, when "
        "enabled, compare-methods and compare-debias)",
    )
    s.add_argument("--elements", required=True, help="elements table (shortcuts --out)")
    s.add_argument("--index", required=True, help="encode index TSV")
    s.add_argument("--onehot", required=True, help="encode one-hot .npy")
    s.add_argument("--attributions", required=True, help="attribute maps .npy")
    s.add_argument("--predictions", required=True, help="attribute predictions TSV")
    s.add_argument("--motifs", required=True, help="MEME motif database the run matched")
    s.add_argument("--metrics", help="train metrics TSV (model section, trust panel)")
    s.add_argument("--curve", help="train learning-curve PNG")
    s.add_argument("--evaluation", help="evaluate table (planted truth)")
    s.add_argument("--config", help="the run's config YAML, shown last")
    s.add_argument("--examples", type=_int_at_least(0), default=6, help="example sequences to draw")
    s.add_argument(
        "--top-motifs", type=_int_at_least(0), default=12, help="motif/de novo logos to draw"
    )
    s.add_argument(
        "--element-rows",
        type=_int_at_least(0),
        default=2000,
        help="rows of the per-element table (largest |attribution| first)",
    )
    s.add_argument(
        "--links", nargs="*", default=[], help="output files to link (relative to --out)"
    )
    s.add_argument("--groups", help="groups table from annotate --groups")
    s.add_argument("--dataset", help="dataset-level shortcut figures (shortcuts --out-dataset)")
    s.add_argument("--debias", help="compare-debias table")
    s.add_argument("--methods", help="compare-methods table")
    s.add_argument("--curves", help="compare-methods faithfulness curves")
    s.add_argument("--erf", help="compare-methods receptive-field summary")
    s.add_argument("--erf-profile", help="compare-methods receptive-field profiles")
    s.add_argument("--erf-growth", help="erf-growth table (receptive field over depth)")
    s.add_argument("--erf-growth-fit", help="erf-growth fitted exponents")
    s.add_argument("--calibration", help="merge-seqlets --calibration table (trust panel)")
    s.add_argument(
        "--artifacts",
        nargs="*",
        default=[],
        help="artifact FASTA(s): attribution on their exact hits in the trust panel",
    )
    s.add_argument("--constant", help="find-constant regions (trust panel reliance table)")
    s.add_argument(
        "--constant-reliance",
        help="shortcuts --out-constant table (reliance on each constant region)",
    )
    s.add_argument(
        "--debias-spans", help="mask-artifacts spans: without --debias, say why debias did not run"
    )
    s.add_argument(
        "--debias-min-share", type=float, default=0.01, help="the debias.min_share the run used"
    )
    s.add_argument("--fdr", type=float, default=0.1, help="the seqlet FDR the run used")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_report)
    _fill_help(p)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    _tune_malloc()
    try:
        args.func(args)
    except SeqlanternError as exc:
        print(f"seqlantern {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the error boundary: no traceback for any input
        if os.environ.get("SEQLANTERN_DEBUG"):
            raise
        msg = " ".join(str(exc).split()) or "no message"
        print(f"seqlantern {args.command}: error: {type(exc).__name__}: {msg} (unexpected; "
              "check the inputs named in the command, or rerun with SEQLANTERN_DEBUG=1 for "
              "the traceback and report it)", file=sys.stderr)  # fmt: skip
        return 1
    finally:
        if os.environ.get("SEQLANTERN_PEAK_RSS"):
            _print_usage(args.command)
    return 0


def _print_usage(command: str) -> None:
    """Print the process's peak RSS and CPU time to stderr (``SEQLANTERN_PEAK_RSS=1``).

    The peak is the kernel's high-water mark (``getrusage``), exact where a sampling
    monitor (Snakemake's ``benchmark:``, every 30 s) can miss a short peak;
    ``benchmarks/scaling.py`` reads it from the rules' logs.
    """
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # largest child, if any
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    peak = max(u.ru_maxrss, kids) * scale / 2**20
    print(f"seqlantern {command}: peak RSS {peak:.0f} MB; CPU user "
          f"{u.ru_utime:.1f} s, system {u.ru_stime:.1f} s", file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
