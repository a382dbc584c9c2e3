"""``seqlantern`` command line: one subcommand per pipeline stage.

Every stage reads and writes documented files, so each runs and is tested without
Snakemake; the workflow's rules call these commands. Errors in user input print one line
(``seqlantern <stage>: error: ...``) and exit with status 1, leaving no partial outputs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seqlantern.io import SeqlanternError
from seqlantern.options import COMMANDS, add_arg, add_option, options_for, params_from


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
              baseline=a.baseline, equal_steps=a.equal_steps,
              kmer_fallback=a.kmer_fallback, penalty_spans=spans,
              penalty_weight=a.penalty_weight, penalty_onehot=a.penalty_onehot,
              salient_mask={"probability": a.salient_mask_probability,
                            "span": a.salient_mask_span, "fill": a.salient_mask_fill,
                            "mode": a.salient_mask_mode},
              consistency={"weight": a.consistency_weight,
                           "transforms": a.consistency_transforms},
              feedback_bed=a.feedback_bed or None,
              feedback_weight_irrelevant=a.feedback_weight_irrelevant,
              feedback_weight_relevant=a.feedback_weight_relevant)  # fmt: skip
    print(m.to_string(index=False))


def _model_spec(a: argparse.Namespace) -> dict[str, Any]:
    return {"checkpoint": a.model, "import_path": a.import_path, "weights": a.weights,
            "kwargs": a.model_kwargs, "targets": a.model_targets or None,
            "output": a.model_output,
            "task": a.task}  # fmt: skip


def cmd_score_model(a: argparse.Namespace) -> None:
    from seqlantern.models import load_model
    from seqlantern.score import score_model
    from seqlantern.train import resolve_device

    _threads(a.threads)
    model, meta = load_model(_model_spec(a))
    score_model(a.onehot, a.index, a.targets, model, meta, a.metrics,
                name_column=a.name_column, task=a.task, seed=a.seed,
                device=resolve_device(a.device))  # fmt: skip


def cmd_attribute(a: argparse.Namespace) -> None:
    import torch

    from seqlantern.attribute import attribute, attribute_controls, resolve_target
    from seqlantern.encode import read_index
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
    rows = _selected_rows(a, index)
    n_out = n_outputs(model, x.shape[2])
    t = resolve_target(a.target, meta.get("targets"), n_out)
    options = {"target": t, "target_names": meta.get("targets"), "output": a.output,
               "correct": a.correction, "batch_size": a.batch_size,
               "device": resolve_device(a.device), "method": a.method, "steps": a.steps,
               "references": a.references, "baseline": a.baseline,
               "rc_average": a.rc_average, "precision": a.precision}  # fmt: skip
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


def _selected_rows(a: argparse.Namespace, index: Any) -> Any:
    """Rows of the sequences ``--which`` (or ``--names-file``) selects; none is an error."""
    from seqlantern.encode import names_subset

    which: Any = a.which
    if a.names_file:
        if not Path(a.names_file).is_file():
            raise SeqlanternError(f"{a.names_file}: names file not found (--names-file)")
        which = [ln.strip() for ln in Path(a.names_file).read_text().splitlines() if ln.strip()]
    rows = names_subset(index, which)
    if len(rows) == 0:
        raise SeqlanternError(f"{a.index}: selection {a.which!r} holds no sequences")
    return rows


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
    if a.null == "shuffled" and not a.control_attributions:
        raise SeqlanternError(
            "--null shuffled (the default, config seqlets.null_model) needs "
            "--control-attributions (maps of attribute --shuffles N); without controls give "
            "--null laplace or --null empirical (nominal p-values, --pvalue is the call "
            "threshold)"
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
        df = call_with_control(
            attr, names, rows, control, params, fdr=a.fdr, extend_fdr=a.extend_fdr
        )
    else:
        df = call_seqlets(attr, names, rows, params)
    write_seqlets(df, a.out)
    print(f"{len(df)} seqlets in {attr.shape[0]} sequences")


def _seqlet_params(a: argparse.Namespace) -> Any:
    """Seqlet options; the ``shuffled`` null's candidates come from the Laplace null."""
    from seqlantern.seqlets import SeqletParams

    return params_from(SeqletParams, a, null="laplace" if a.null == "shuffled" else a.null)


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
    n_shards = len(a.attributions)
    print(f"{type(null).__name__} fitted on {attr.shape[0]} sequences in {n_shards} shard(s)")


def cmd_merge_seqlets(a: argparse.Namespace) -> None:
    from seqlantern.seqlets import merge_files

    if a.control_strengths and len(a.control_strengths) != len(a.candidates):
        raise SeqlanternError(
            f"{len(a.candidates)} candidate tables but {len(a.control_strengths)} control "
            "strength files; give one of each per shard, in shard order"
        )
    n = merge_files(a.candidates, a.control_strengths or None, a.out, shuffles=a.shuffles,
                    fdr=a.fdr, extend_fdr=a.extend_fdr,
                    calibration=a.calibration)  # fmt: skip
    print(f"{n} seqlets from {len(a.candidates)} shard(s)")
    if a.calibration:
        from seqlantern.io import read_tsv

        print("calls at several levels:\n" + read_tsv(a.calibration).to_string(index=False))


def cmd_annotate(a: argparse.Namespace) -> None:
    from seqlantern.annotate import AnnotateParams, annotate

    params = params_from(AnnotateParams, a)
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

    params = params_from(AnnotateParams, a)
    df = gather_elements(a.elements, a.onehot, a.index, a.motifs, a.out, families=a.families,
                         params=params, groups_tsv=a.groups)  # fmt: skip
    _label_summary(df)


def cmd_patterns(a: argparse.Namespace) -> None:
    from seqlantern.patterns import PatternParams, write_patterns

    t = write_patterns(a.elements, a.onehot, a.attributions, a.hypothetical, a.predictions,
                       a.motifs, a.out_meme, a.out_patterns, a.out_members, a.out_matrices,
                       families=a.families, params=params_from(PatternParams, a),
                       motif_qvalue=a.motif_qvalue, hypothetical_weight=a.hypothetical_weight,
                       motif_score=a.motif_score, min_overlap=a.min_overlap)  # fmt: skip
    for r in t.itertuples(index=False):
        print(f"[patterns] {r.pattern}: {r.members} members ({r.positive}+/{r.negative}-), "
              f"{r.label}, {r.consensus}, best match {r.match_name} (q {r.match_qvalue:.2g})"
              + (f", artifact {r.artifact_name}" if r.label == "artifact" else ""))  # fmt: skip


def cmd_distill(a: argparse.Namespace) -> None:
    from seqlantern.guidance import distill

    _threads(a.threads)
    m = distill(a.teacher, a.onehot, a.index, a.out_model, a.metrics, a.curve,
                student_options=a.student_options, shuffles=a.shuffles, seed=a.seed,
                device=a.device, epochs=a.epochs, batch_size=a.batch_size,
                learning_rate=a.learning_rate, patience=a.patience,
                lr_schedule=a.lr_schedule, equal_steps=a.equal_steps)  # fmt: skip
    print(m.to_string(index=False))


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        if "=" not in v:
            raise SeqlanternError(f"{flag} {v!r}: give NAME=VALUE")
        k, val = v.split("=", 1)
        out[k] = val
    return out


def cmd_compare_training(a: argparse.Namespace) -> None:
    from seqlantern.guidance import compare_training

    compare_training(_pairs(a.variant, "--variant"), a.onehot, a.index, a.targets, a.column,
                     a.out, name_column=a.name_column,
                     teachers=_pairs(a.teacher_of, "--teacher-of"), truth=a.truth,
                     feedback_bed=a.feedback_bed, n=a.n, seed=a.seed)  # fmt: skip


def cmd_feedback(a: argparse.Namespace) -> None:
    from seqlantern.guidance import artifact_feedback, elements_to_feedback

    if a.onehot:
        if not a.index or not (a.artifacts or a.constant):
            raise SeqlanternError("feedback --onehot needs --index and --artifacts/--constant")
        n = artifact_feedback(a.onehot, a.index, a.artifacts, a.constant, a.out)
        print(f"{n} M- regions (artifact spans of every input) written to {a.out}")
        return
    if not a.elements:
        raise SeqlanternError("feedback: give --elements (with --where), or --onehot")

    where = {}
    for w in a.where:
        if "=" not in w:
            raise SeqlanternError(f"--where {w!r}: give column=value (e.g. label=artifact)")
        col, value = w.split("=", 1)
        where[col] = value
    n = elements_to_feedback(a.elements, a.out, where=where, name=a.name)
    print(f"{n} {a.name} regions written to {a.out}")


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
    params = params_from(ShortcutParams, a)
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
    from seqlantern.encode import read_index
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
    rows = _selected_rows(a, index)
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

    if a.add_species:
        from seqlantern.motifs import add_species

        n = add_species(a.add_species, release=a.release)
        print(f"species of {n} motifs ({a.release}) added to {a.add_species}")
        return
    if not a.out:
        raise SeqlanternError("motifs: --out is required (unless --add-species)")
    if a.convert:
        motifs = read_motifs(a.convert)
        write_meme(motifs, a.out)
        print(f"{len(motifs)} motifs from {a.convert} written to {a.out}")
    else:
        n = export_jaspar(a.out, release=a.release, collection=a.collection,
                          tax_groups=a.tax_group or None, families_out=a.families)  # fmt: skip
        print(f"{n} motifs of {a.release} {a.collection} written to {a.out}")


def cmd_select_motifs(a: argparse.Namespace) -> None:
    from seqlantern.motifs import read_motifs, select_species, write_meme

    if not a.species:
        raise SeqlanternError("select-motifs: give --species (annotate.species), e.g. "
                              "--species 'Saccharomyces cerevisiae'")  # fmt: skip
    motifs = read_motifs(a.motifs)
    keep = select_species(motifs, a.families, a.species)
    write_meme(keep, a.out)
    print(f"{len(keep)} of {len(motifs)} motifs are of {', '.join(a.species)}; written to "
          f"{a.out}")  # fmt: skip


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
                  erf_growth_fit=a.erf_growth_fit, patterns=a.patterns,
                  pattern_matrices=a.pattern_matrices,
                  pattern_members=a.pattern_members,
                  training_comparison=a.training_comparison)  # fmt: skip


# where each stage sits in the workflow (shown in its --help)
_ORDER = {name: c.order for name, c in COMMANDS.items()}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, generated from :mod:`seqlantern.options`: each subcommand's
    command-line-only arguments (:data:`~seqlantern.options.COMMANDS`) and every config
    option that lists it (type, default, allowed values and help defined once)."""
    from seqlantern import __version__

    p = _Parser(prog="seqlantern", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"seqlantern {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    for name, command in COMMANDS.items():
        s = sub.add_parser(name, help=f"{command.help} ({command.order})",
                           description=f"{name}: {command.help} ({command.order}).")  # fmt: skip
        for arg in command.args:
            add_arg(s, arg)
        for option in options_for(name):
            add_option(s, option)
        s.set_defaults(func=globals()["cmd_" + name.replace("-", "_")])
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
