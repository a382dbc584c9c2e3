"""Every option of every stage, defined once.

Why: an option used to live in 4-7 places (``config/config.yaml``, the JSON schema, one
or two argparse definitions, the function default, the rule's parameter block, the
README table), and the copies drifted (``call-seqlets --pvalue`` defaulted to 0.02
while the workflow used 0.1). Here each configurable option is a field of one typed
dataclass per config section, holding its type, default, allowed values, help text and
the ``seqlantern`` subcommands that take it. From these definitions:

- :func:`seqlantern.cli.build_parser` builds every subcommand's arguments (the
  command-line-only ones, input and output files, are :data:`COMMANDS` below);
- :func:`cli_args` renders a section's values as command-line flags for a workflow
  rule (``workflow/rules/common.smk``: ``options("annotate")``), so rules pass a
  stage's options as one block;
- ``python -m seqlantern.options --write`` writes ``workflow/schemas/config.schema.yaml``,
  ``config/config.yaml`` and the key tables of ``config/README.md``; a test fails when
  the committed files differ from what it generates.

Adding an option to a stage therefore takes two files: its definition here and its use
in the stage's code (``AnnotateParams``-style dataclasses read their defaults from
:data:`DEFAULTS`; the CLI fills them by field name). This module imports only the
standard library: Snakemake loads it by path to build the rules' command lines.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import re
import shlex
import sys
import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_SECTION_COMMANDS = "__commands__"
METHODS = ("gradient_x_input", "saliency", "integrated_gradients", "expected_gradients",
           "ism", "ism_l2", "grad_cam")  # fmt: skip
MODEL_COMMANDS = ("attribute", "shortcuts", "compare-methods", "segment")
TRAIN_LOOP = ("train", "distill")  # options of the training loop itself
SEED_COMMANDS = ("simulate", "encode", "train", "attribute", "fit-null", "call-seqlets",
                 "mask-artifacts", "compare-debias", "compare-methods", "shortcuts",
                 "segment", "erf-growth", "patterns", "distill", "compare-training",
                 "score-model")  # fmt: skip


def opt(
    default: Any,
    help: str,
    *,
    doc: str = "",
    flag: str | None = None,
    commands: tuple[str, ...] | None = None,
    choices: tuple[Any, ...] = (),
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    min_items: int | None = None,
    min_length: int | None = None,
    workflow: bool = True,
) -> Any:
    """One option: a dataclass field whose metadata holds the rest of its definition.

    Parameters
    ----------
    default
        The default (config, command line and library alike).
    help
        One line: the command-line help and the comment in ``config/config.yaml``.
    doc
        The longer explanation for ``config/README.md`` (default: ``help``).
    flag
        Its command-line flag (default ``--`` + the key with ``-`` for ``_``).
    commands
        The ``seqlantern`` subcommands that take it (default: the section's).
    choices, minimum, maximum, exclusive_minimum, min_items, min_length
        Allowed values, checked by the schema and by the command line alike.
    workflow
        ``False`` when a rule passes it itself (a path that is also a rule input, a
        choice between flags): :func:`cli_args` then leaves it out.
    """
    meta = {"help": help, "doc": doc, "flag": flag, "commands": commands, "choices": choices,
            "minimum": minimum, "maximum": maximum, "exclusive_minimum": exclusive_minimum,
            "min_items": min_items, "min_length": min_length, "workflow": workflow}  # fmt: skip
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: copy.deepcopy(default), metadata=meta)
    return field(default=default, metadata=meta)


def section(*commands: str) -> Any:
    """Class decorator: a frozen dataclass whose options go to ``commands`` by default."""

    def wrap(cls: type) -> type:
        setattr(cls, _SECTION_COMMANDS, tuple(commands))
        return dataclass(frozen=True)(cls)

    return wrap


def sub(cls: type) -> Any:
    """A nested section (``data.tiling``)."""
    return field(default_factory=cls)


# --------------------------------------------------------------------------------------
# The configuration, section by section (the order of config/config.yaml)
# --------------------------------------------------------------------------------------


@section("simulate")
class Demo:
    enabled: bool = opt(True, "simulate the demo library; false to use data.*", workflow=False)
    n: int = opt(20000, "number of sequences", minimum=100)
    length: int = opt(200, "sequence length (bp)", minimum=80)
    motifs: str = opt("resources/motifs/demo_motifs.meme", "motifs of the demo grammar",
                      workflow=False, commands=())  # fmt: skip


@section("encode")
class Tiling:
    window: int = opt(
        0, "tile data.genome (or its data.bed regions) into windows of this length; 0: no "
        "tiling", flag="--tile-window", minimum=0,
        doc="tile `genome` into windows of this length instead of taking regions (0: off). "
        "Must equal `encode.length`. Tiles have no targets, so tiling needs "
        "`model.checkpoint` or `model.import_path` (asking to train on tiles is an error "
        "naming both keys). Every tile is in the `test` split (so `attribution.sequences: "
        "test` attributes them all) and is named `chrom:start-end`")  # fmt: skip
    stride: int = opt(
        0, "tiling step (bp; 0: the window, no overlap)", flag="--tile-stride", minimum=0,
        doc="step between windows (0: the window, no overlap). A last window is aligned to "
        "each chromosome's (or region's) end. With a stride below the window, a site seen "
        "by several windows becomes one element (the calls of the window with the "
        "strongest call are kept; element column `windows` counts the windows) and the "
        "tracks hold the mean of the windows at each base")  # fmt: skip
    max_n: float = opt(
        0.5, "skip tiles with more than this share of N (or other non-ACGT) bases",
        minimum=0, maximum=1,
        doc="skip windows with more than this share of N (or other non-ACGT) bases; the "
        "count goes to `logs/encode_sequences/`")  # fmt: skip


@section()
class Data:
    fasta: str = opt("", "FASTA of whole records (one per sequence; plain or .gz)",
                     workflow=False, flag="--fasta", commands=(),
                     doc="FASTA of whole records (plain or `.gz`); names = first word of "
                     "the header")  # fmt: skip
    genome: str = opt("", "or: genome FASTA ...", workflow=False, commands=(),
                      doc="genome FASTA, for BED input (read lazily with pyfaidx; a `.fai` "
                      "is built beside it if missing)")  # fmt: skip
    bed: str = opt("", "... plus BED regions on it", workflow=False, commands=(),
                   doc="BED3+ regions on `genome` (name in column 4 and strand in column 6 "
                   "are used when present); when set, `fasta` is ignored")  # fmt: skip
    targets: str = opt("", "TSV: a name column + one column per target", workflow=False,
                       commands=(), doc="TSV with a header: a name column + one column "
                       "per target")  # fmt: skip
    name_column: str = opt("name", "column of the targets table holding the record names",
                           commands=("train", "compare-debias", "compare-training",
                                     "score-model"))  # fmt: skip
    truth: str = opt("", "optional truth TSV (name start end strand motif motif_name kind)",
                     workflow=False, commands=(),
                     doc="optional truth TSV (`name start end strand motif motif_name kind` "
                     "with kind functional/decoy/artifact) to evaluate calls")  # fmt: skip
    tiling: Tiling = sub(Tiling)
    chroms: list[str] = opt(
        [], "with tiling: only these chromosomes (comma-separated; empty: all)",
        commands=("encode",),
        doc="with tiling: only these chromosomes (empty: all). With `bed` set too, only its "
        "regions are tiled (each region from its start; one centred window for a region "
        "shorter than the window). A chromosome shorter than the window, a BED region past "
        "its chromosome's end or a chromosome not in the genome stop the run with one "
        "line")  # fmt: skip


@section("encode")
class Encode:
    length: int | None = opt(
        200, "encoded length (bp); none (or 0): all records must have equal length",
        minimum=1,
        doc="encoded length. FASTA records are centre-padded with N / centre-cropped to it; "
        "BED regions are resized around their centre on the genome. `null`: all records "
        "must have the same length")  # fmt: skip
    min_length: int = opt(20, "records shorter than this are an error (naming the record)",
                          minimum=1)  # fmt: skip
    iupac: str = opt(
        "zero", "IUPAC codes other than N: zero columns, fractional, or an error",
        choices=("zero", "fractional", "error"),
        doc="ambiguity codes other than N: `zero` (all-zero column, like N), `fractional` "
        "(e.g. R = ½A + ½G), `error`")  # fmt: skip
    lowercase: str = opt(
        "upper", "soft-masked (lower-case) bases: upper = read as bases, n = as N",
        choices=("upper", "n"))  # fmt: skip


@section("encode")
class Split:
    valid_fraction: float = opt(
        0.1, "share of records in the validation split", minimum=0, maximum=1,
        doc="share of records in the validation split: random by a seeded hash of the name "
        "(a sequence keeps its split when others are added)")  # fmt: skip
    test_fraction: float = opt(0.1, "share of records in the test split", minimum=0,
                               maximum=1)  # fmt: skip
    valid_chroms: list[str] = opt(
        [], "genomic input: chromosomes held out for validation (comma-separated)",
        doc="genomic input: hold out whole chromosomes for validation instead (random "
        "fractions are then ignored)")  # fmt: skip
    test_chroms: list[str] = opt(
        [], "genomic input: chromosomes held out for testing (comma-separated)"
    )
    file: str = opt(
        "", "a user's split: TSV, name column first + a split column (train/valid/test)",
        flag="--split-file",
        doc="a user's split (e.g. a published benchmark's): a TSV whose first column is the "
        "record name and whose `column` says `train`, `valid` or `test` for every record. "
        "The targets TSV itself can carry it. Overrides the fractions and "
        "chromosomes")  # fmt: skip
    column: str = opt("split", "the split column of split.file", flag="--split-column",
                      min_length=1)  # fmt: skip


@section(*MODEL_COMMANDS, "score-model")
class Model:
    checkpoint: str = opt(
        "", "seqlantern checkpoint JSON: load instead of train", flag="--model",
        workflow=False,
        doc="a seqlantern checkpoint JSON (weights `.safetensors` beside it); skips "
        "`train_model`")  # fmt: skip
    import_path: str = opt(
        "", "foreign PyTorch model class: package.module:Class", workflow=False,
        doc="a foreign PyTorch model class `package.module:Class` (importable, e.g. on "
        "`PYTHONPATH`)")  # fmt: skip
    weights: str = opt(
        "", "the foreign model's weights (.safetensors or state dict)", workflow=False,
        doc="its weights: `.safetensors`, or a `torch.save(model.state_dict())` file, read "
        "with `weights_only=True` (no unpickling of code)")  # fmt: skip
    kwargs: dict[str, Any] = opt({}, "JSON keyword arguments of the foreign model's class",
                                 flag="--model-kwargs", workflow=False)  # fmt: skip
    targets: list[str] = opt(
        [], "names of the foreign model's outputs (comma-separated)", flag="--model-targets",
        workflow=False,
        doc="names of its outputs (so `attribution.target` can be a name)")  # fmt: skip
    output: dict[str, Any] = opt(
        {}, "JSON: how the foreign model's output becomes (N, targets), e.g. {select: 1}",
        flag="--model-output", workflow=False,
        doc="how the model's output becomes the `(N, targets)` table that is attributed "
        "(`seqlantern.models.OutputHead`): `select` (index of a tuple/list output or key of "
        "a dict output; BPNet/ChromBPNet: `1` = counts, `0` = profile), `channels` (keep "
        "these channels of a `(N, C, L)` profile, e.g. `[0]` for one strand), `reduce`: "
        "`none` (default: already `(N, T)`), `sum` (over the length axis, one column per "
        "channel), `window` (the same over `window: [start, end]`) or `profile` (the "
        "BPNet objective `sum(softmax(p).detach() * p)` over channels and positions "
        "flattened, one column). Checked by a dry forward pass: a spec that does not fit "
        "the output stops the run with one line describing the output")  # fmt: skip


@section("train")
class SalientMask:
    probability: float = opt(
        0.0, "share of training batches masked at each sequence's most salient span (0: off)",
        flag="--salient-mask-probability", minimum=0, maximum=1,
        doc="saliency-guided masking (`seqlantern.guidance`): with this probability per "
        "training batch, the current model's gradient x input picks each sequence's "
        "`span`-bp window of largest \\|attribution\\| and it is filled before the step, so "
        "the model must learn more than its favourite feature. 0: off")  # fmt: skip
    span: int = opt(10, "bp masked per sequence", flag="--salient-mask-span", minimum=1)
    fill: str = opt(
        "shuffle", "shuffle (the span's bases permuted) or zeros (set to N)",
        flag="--salient-mask-fill", choices=("shuffle", "zeros"))  # fmt: skip
    mode: str = opt(
        "salient", "salient, or random: a span of the same size at a random place (control)",
        flag="--salient-mask-mode", choices=("salient", "random"))  # fmt: skip


@section("train")
class Augment:
    salient_mask: SalientMask = sub(SalientMask)


@section("train")
class Consistency:
    weight: float = opt(
        0.0, "weight of the attribution-consistency penalty (0: off)",
        flag="--consistency-weight", minimum=0,
        doc="attribution consistency: this weight x the mean squared difference between "
        "the input-gradient map of x and the aligned map of each transform of x, over the "
        "maps' mean square (double backprop). 0: off")  # fmt: skip
    transforms: list[str] = opt(
        ["rc"], "transforms the maps must follow: rc (reverse complement), shift (1-3 bp)",
        flag="--consistency-transforms", choices=("rc", "shift"), min_items=1)  # fmt: skip


@section("train")
class TrainFeedback:
    bed: str = opt(
        "", "feedback BED of regions marked M- (irrelevant) or M+ (relevant)",
        flag="--feedback-bed",
        doc="expert feedback (\"right for the right reasons\"): a BED file `chrom start end "
        "name` with name `M-` (irrelevant: a barcode, a cloning scar, an artifact) or "
        "`M+` (relevant: a validated site); `chrom` is a record name (sequence "
        "coordinates) or a genome chromosome of genomic input (every window overlapping "
        "the region). Unknown names or chromosomes, M+ overlapping M-, an empty file: one "
        "line naming the file and line. `seqlantern feedback --elements ... --where "
        "label=artifact --name M-` writes one from an elements table")  # fmt: skip
    weight_irrelevant: float = opt(
        10.0, "weight of the squared input gradient inside M- regions",
        flag="--feedback-weight-irrelevant", minimum=0)  # fmt: skip
    weight_relevant: float = opt(
        1.0, "weight of 1 - the share of |gradient x input| inside M+ regions",
        flag="--feedback-weight-relevant", minimum=0)  # fmt: skip


@section("train")
class Train:
    task: str = opt(
        "regression", "regression (MSE) or binary (logistic) outputs",
        choices=("regression", "binary"), commands=("train", *MODEL_COMMANDS, "score-model"),
        doc="`regression` (MSE, Pearson/Spearman) or `binary` (BCE on logits, AUROC/AUPRC; "
        "targets must be 0/1)")  # fmt: skip
    targets: list[str] = opt(
        ["activity"], "target columns of data.targets (comma-separated)", flag="--columns",
        min_items=1,
        doc="target columns of `data.targets`, by name (one or several outputs)")  # fmt: skip
    architecture: str = opt("cnn", "model architecture (cnn: the default SeqCNN)",
                            doc="a key of `seqlantern.models.MODELS`")  # fmt: skip
    options: dict[str, Any] = opt(
        {}, "architecture options over the defaults (JSON), e.g. {filters: [128]}",
        flag="--model-options",
        doc="architecture options, over the training defaults "
        "(`seqlantern.models.TRAIN_CNN_OPTIONS`: `first_activation: exp`, `global_pool: "
        "maxavg`, `rc_average: true`, `dropout: 0.3`): `filters` (`[128]`), `kernel_sizes` "
        "(`[15]`), `pool` (`[1]`), `global_pool` (`max`, `avg`, `maxavg` = both side by "
        "side, or `none` = flatten), `batch_norm` (`false`), `first_activation` (first "
        "block: `relu`, `leaky_relu`, `exp`, `softplus`, `sigmoid`, `tanh` or `elu`; "
        "exponential first-layer activations give cleaner attribution maps, Koo & "
        "Ploenzke 2021), `activation` (later blocks, same choices, `relu`), `dense` "
        "(`64`), `dropout`, `rc_average` (predict the mean of both strands; off for "
        "strand-specific assays)")  # fmt: skip
    epochs: int = opt(
        50, "most epochs (passes of at least 16,000 sequences with equal_steps)", minimum=1,
        commands=TRAIN_LOOP,
        doc="maximum epochs (with `patience`, counted in passes of at least 16,000 "
        "sequences: see below)")  # fmt: skip
    batch_size: int = opt(128, "training batch size", minimum=1, commands=TRAIN_LOOP)
    learning_rate: float = opt(
        0.001, "Adam learning rate", exclusive_minimum=0, commands=TRAIN_LOOP
    )
    patience: int = opt(
        8, "early stopping: epochs without a better validation loss", minimum=1,
        commands=TRAIN_LOOP,
        doc="early stopping: epochs without a better validation loss; the best weights are "
        "kept")  # fmt: skip
    lr_schedule: str = opt(
        "plateau", "plateau: halve the learning rate after patience//2 bad epochs; none",
        choices=("plateau", "none"), commands=TRAIN_LOOP,
        doc="`plateau`: halve the learning rate after `patience // 2` epochs without a "
        "better validation loss (small, noisy validation sets then do not end training at "
        "the first bump); `none`")  # fmt: skip
    max_minutes: float | None = opt(
        None, "opt-in wall-clock cap (outputs then depend on machine load)",
        exclusive_minimum=0,
        doc="opt-in wall-clock cap. Off by default: a cap makes the model depend on machine "
        "load, so one seed would give different outputs on a busy machine; when it cuts a "
        "run short, `metrics.tsv` (`stopped: max_minutes`), the checkpoint JSON and the "
        "training log say so")  # fmt: skip
    augment_rc: bool = opt(
        True, "random reverse-complement augmentation (off for strand-specific assays)",
        doc="show each training sequence or its reverse complement at random (turn off, "
        "with `options: {rc_average: false}`, for strand-specific assays)")  # fmt: skip
    ensemble: int = opt(
        1, "train k models from seeds seed..seed+k-1 and average them", minimum=1,
        doc="train k models from seeds `seed … seed+k-1` on the same split and average "
        "them (predictions and attributions: `architecture: ensemble` in the checkpoint); "
        "k times the training and attribution cost")  # fmt: skip
    baseline: bool = opt(
        True, "k-mer ridge/logistic baseline on the same split (metrics.tsv)",
        doc="fit a k-mer baseline (canonical 1–6-mer frequencies of both strands; ridge, or "
        "L2 logistic regression for binary tasks, penalty chosen on the validation split; "
        "at most 100,000 training rows) on the same split; its rows follow the CNN's in "
        "`metrics.tsv` and the report's trust panel compares them")  # fmt: skip
    equal_steps: bool = opt(
        True, "count epochs/patience in passes of >= 16,000 sequences (small libraries)",
        commands=TRAIN_LOOP,
        doc="count `epochs` and `patience` in passes of at least 16,000 sequences (below); "
        "`false` takes them literally")  # fmt: skip
    kmer_fallback: bool = opt(
        True, "blend in the k-mer baseline for targets where it beats the network on "
        "validation",
        doc="regression with `baseline`: for each target where the baseline's validation "
        "Pearson beats the network's, the shipped model is `a × k-mer model + b × network "
        "+ c` (`seqlantern.models.Blend`, weights by least squares on the validation rows; "
        "other targets keep the network alone). `metrics.tsv` then lists the shipped model "
        "first (`cnn+kmer_ridge_1-6`), the network alone (`network_only:cnn`) and the "
        "baseline; the checkpoint's `blend` entry has the weights; the trust panel says so, "
        "because the maps then also carry the k-mer weights covering each base "
        "(composition as well as motifs). `train_debiased` fits its own baseline on the "
        "neutralised inputs (`debias.method: both` or `neutralise`), so the before/after "
        "comparison is blend against blend; with `method: penalty` (penalty on the original "
        "inputs) it never blends, because the k-mer part would not be held to the penalty. "
        "`false`: ship the network even when the baseline is better")  # fmt: skip
    augment: Augment = sub(Augment)
    consistency: Consistency = sub(Consistency)
    feedback: TrainFeedback = sub(TrainFeedback)


@section("attribute")
class Attribution:
    target: int | str = opt(
        "0",
        "output index or target name; all: one sub-run per target (workflow only)",
        commands=("attribute", "compare-debias", *MODEL_COMMANDS[1:]),
        doc="the output attributed, by index or name. `all` (workflow only): the model "
        "is trained once (`<results_dir>/train/`) and every later stage runs once per "
        "target in `<results_dir>/targets/<target>/` (one map, seqlet and element table, "
        "BED files and report per target; README \"Several targets\"). The targets are "
        "`train.targets`, or `model.targets` for a model you bring")  # fmt: skip
    output: str = opt(
        "logit", "explain the logit or the activation (sigmoid for binary tasks)",
        choices=("logit", "activation"),
        commands=("attribute", "compare-debias", *MODEL_COMMANDS[1:3]),
        doc="`logit` (raw output) or `activation` (after the sigmoid: saturates for "
        "confident predictions)")  # fmt: skip
    gradient_correction: bool = opt(
        True, "subtract the mean gradient over the 4 bases per position",
        flag="--correction",
        doc="subtract the mean gradient over the 4 bases per position (Majdandzic et al. "
        "2023)")  # fmt: skip
    method: str = opt(
        "gradient_x_input", "attribution method (gradient_x_input: per-base gradient x input)",
        choices=METHODS,
        doc="`gradient_x_input`, `saliency` (\\|gradient\\|, captum's `Saliency`; note that "
        "tangermeme's `saliency` is gradient × input, our `gradient_x_input`), "
        "`integrated_gradients`, `expected_gradients` (integrated gradients averaged over "
        "`references` dinucleotide-shuffled references, DeepLIFT-SHAP-style), `ism` "
        "(in-silico mutagenesis, centred over the four bases; an incremental fast path for "
        "the default architecture and, for any other traceable network, a fastISM-style "
        "windowed recomputation that recomputes only the positions each substitution "
        "reaches, checked against full forward passes), `ism_l2` (the L2 norm of those "
        "four effects per position, unsigned: the reduction Koo & Ploenzke 2021 scored) "
        "or `grad_cam` (1-D Grad-CAM on the first convolution block, a coarse region map). "
        "Every method writes the same files: observed-base map and hypothetical "
        "contributions (see `src/seqlantern/methods.py`). Integrated and expected "
        "gradients are checked for completeness (each map must add up to f(x) − "
        "f(reference)): the error per sequence goes to `predictions.tsv` "
        "(`completeness_error`, relative to \\|f(x) − f(reference)\\| or the batch's median "
        "of it) and the log warns when any sequence is off by more than 5 %, i.e. when "
        "`steps` is too small for the path integral to converge (`seqlantern attribute "
        "--no-check` skips it)")  # fmt: skip
    steps: int = opt(
        32, "integration steps (integrated/expected gradients)", minimum=1,
        commands=("attribute", "compare-methods"),
        doc="integration steps (integrated gradients; expected gradients uses `steps / 4` "
        "per reference)")  # fmt: skip
    references: int = opt(8, "dinucleotide-shuffled references (expected gradients)",
                          minimum=1, commands=("attribute", "compare-methods"))  # fmt: skip
    baseline: str = opt(
        "zero", "integrated-gradients baseline: zero or shuffled", choices=("zero", "shuffled"),
        doc="integrated-gradients baseline: `zero` or `shuffled` (one seeded dinucleotide "
        "shuffle per sequence)")  # fmt: skip
    rc_average: bool = opt(
        False, "average each map with its reverse complement's (strand-symmetric assays)",
        doc="average each map with the reverse complement's map turned back (only for "
        "strand-symmetric assays)")  # fmt: skip
    sequences: str = opt(
        "test", "all | train | valid | test | path to a file of names", workflow=False,
        commands=(),
        doc="`all`, `train`, `valid`, `test`, or a path to a file with one sequence name "
        "per line")  # fmt: skip
    batch_size: int = opt(128, "sequences per forward/backward batch", minimum=1)
    precision: str = opt(
        "fp32", "arithmetic of the gradient methods: fp32, or bf16 autocast (faster, ~2 digits)",
        choices=("fp32", "bf16"),
        doc="`fp32` (default), or `bf16`: the gradient methods run under bfloat16 autocast, "
        "1.2–3.3x faster on a CPU with bf16 units (AVX512-BF16; measured on SeqCNN, "
        "DeepSTARR and BPNet) and usually on GPUs, with maps to about 2–3 significant "
        "digits. Every run checks it: the first batch is also attributed in fp32 and the "
        "log gives the Pearson correlation of the two maps and their largest difference, "
        "with a warning below 0.99 (measured: `benchmarks/README.md`, \"Attribution speed "
        "on models users bring\"). Predictions stay fp32. Not for `ism`/`ism_l2` (their "
        "effects are differences of outputs that bf16 rounds away: a one-line "
        "error)")  # fmt: skip


@section("compare-methods")
class Diagnostics:
    enabled: bool = opt(
        True, "rule compare_methods: faithfulness/stability/ISM agreement table in the "
        "report", workflow=False, commands=(), doc="run the comparison")  # fmt: skip
    methods: list[str] = opt(
        ["gradient_x_input", "ism", "expected_gradients", "integrated_gradients", "saliency"],
        "methods compared (2+, comma-separated)", choices=METHODS, min_items=2)  # fmt: skip
    sequences: int = opt(64, "sequences compared (seeded sample of diagnostics.which)",
                         flag="--n", minimum=2)  # fmt: skip
    which: str = opt("test", "all, train, valid or test")


@section("call-seqlets", "fit-null")
class Seqlets:
    window: int = opt(7, "seqlet core window (bp) whose summed attribution is tested",
                      minimum=1)  # fmt: skip
    min_length: int = opt(5, "shortest seqlet (bp)", minimum=1)
    max_length: int = opt(30, "longest seqlet (bp)", minimum=1)
    flank: int = opt(2, "bases masked around a called seqlet before the next call",
                     minimum=0)  # fmt: skip
    extend_fraction: float = opt(
        0.2, "grow a seqlet while the next base holds this share of its peak", minimum=0,
        maximum=1)  # fmt: skip
    pvalue: float = opt(
        0.1, "candidate threshold (the call threshold without controls)",
        exclusive_minimum=0, maximum=1,
        doc="nominal p-value (under the Laplace null fitted on the real maps) a span needs "
        "to become a candidate. With `shuffled` it only bounds the number of candidates; "
        "with `laplace`/`empirical` it is the call threshold (0.02 is a good value "
        "there)")  # fmt: skip
    null_model: str = opt(
        "shuffled", "shuffled (controls, q-values) | laplace | empirical", flag="--null",
        choices=("shuffled", "laplace", "empirical"),
        doc="`shuffled`: attribute `shuffles` dinucleotide-shuffled copies of every "
        "attributed sequence with the same model and settings (rule `attribute_controls`), "
        "call seqlets on both identically, and give each real seqlet an empirical p-value "
        "and a Benjamini–Hochberg q-value from the controls (kept when q ≤ `fdr`). "
        "`laplace` (median/MAD fit per span length on the real maps) or `empirical` "
        "(sampled span sums of the real maps): no controls, nominal p-values "
        "only")  # fmt: skip
    shuffles: int = opt(5, "dinucleotide-shuffled controls per sequence (shuffled null)",
                        minimum=1, commands=("merge-seqlets",))  # fmt: skip
    fdr: float = opt(
        0.1, "q-value cut-off (shuffled null)", exclusive_minimum=0, maximum=1,
        commands=("call-seqlets", "merge-seqlets", "report"),
        doc="q-value cut-off (`shuffled` null): the share of calls the controls estimate to "
        "be false. 0.1 because at 0.05 a weaker model's calls miss most factors: on the "
        "held-out simulation (`benchmarks/heldout.py`) 0.05 gave 578 calls, 4 / 9 planted "
        "factors and 9 % of calls on no planted site; 0.1 gave 1,290 calls, 8 / 9 factors, "
        "12 %. On the demo 0.1 gives 5,022 calls, 0.97 of the functional sites, 9.7 % on "
        "no planted site (0.05: 4,611, 0.93, 5.9 %). `results/seqlets/calibration.tsv` "
        "shows the calls at other levels; TF-MoDISco's seqlet default is 0.2. "
        "`extend_fdr` may raise the cut-off above this (the level used is the "
        "calibration table's `chosen` row)")  # fmt: skip
    extend_fdr: float = opt(
        0.15, "raise the cut-off while the calls added beyond `fdr` are this clean (0: off)",
        minimum=0, maximum=1, commands=("call-seqlets", "merge-seqlets"),
        doc="ceiling for an adaptive cut-off (`shuffled` null): the q-value cut-off is "
        "raised from `fdr` to the largest level ≤ this at which the calls it adds (those "
        "with `fdr` < q ≤ level) are estimated by the controls to be at most this share "
        "false on their own, so all kept calls stay ≤ this. Why: on a weaker model the "
        "q-values of one sign can be flat just above `fdr` over thousands of calls (short "
        "motifs recur in the shuffles), and a fixed 0.1 then keeps almost nothing; where "
        "the calls beyond `fdr` are mostly false (a strong model) the cut-off stays at "
        "`fdr`. The level used is the row marked `chosen` in "
        "`results/seqlets/calibration.tsv`. 0 or ≤ `fdr`: a fixed cut-off at "
        "`fdr`")  # fmt: skip
    signs: str = opt("both", "which peaks to call: both, positive or negative",
                     choices=("both", "positive", "negative"))  # fmt: skip


@section("annotate")
class Annotate:
    motifs: str = opt(
        "resources/motifs/JASPAR2026_CORE_vertebrates.meme", "motif database (MEME, JASPAR, "
        "HOMER)", workflow=False, commands=(),
        doc="motif database: MEME, JASPAR (`.jaspar` counts) or HOMER (`.motif`) format, "
        "detected from the content; `JASPAR2026_CORE_insects.meme` is shipped too. Other "
        "JASPAR releases/collections export offline with `seqlantern motifs --release "
        "JASPAR2024 --tax-group plants --out x.meme --families x.tsv` (needs `pip install "
        "'seqlantern[jaspar]'`)")  # fmt: skip
    families: str = opt(
        "resources/motifs/JASPAR2026_CORE_vertebrates.families.tsv",
        "per-motif family/cluster table (TSV)", workflow=False, commands=(),
        doc="per motif: TF class/family (used to report `motif_family` and to score \"right "
        "family\") and its archetype cluster (`cluster_name`, reported as `motif_cluster`; "
        "elements of one cluster form one group, named by the cluster, with the motif most "
        "members match as `match_name`; BED `name` is the cluster). The shipped tables give "
        "every motif a family (JASPAR's family, else its class, else the cluster's or the "
        "most similar motif's; column `family_source`) and were made with `seqlantern "
        "cluster-motifs --motifs X.meme --families X.families.tsv --out X.families.tsv` "
        "(see `src/seqlantern/archetypes.py`). Left at its default while `motifs` names "
        "another file, the `<stem>.families.tsv` beside that file is used when there is one "
        "(insect motifs get the insect table). Empty: family = name without trailing "
        "digits, no clusters")  # fmt: skip
    taxon: str = opt(
        "", "vertebrates | insects | fungi: the shipped JASPAR collection (sets motifs + "
        "families)", choices=("", "vertebrates", "insects", "fungi"), workflow=False,
        commands=(),
        doc="`vertebrates`, `insects` or `fungi`: use the shipped JASPAR 2026 collection of "
        "that taxon (sets `motifs` and `families`), so a yeast run matches fungal motifs "
        "and a fly run insect ones. Empty: `motifs`/`families` as given. Setting both "
        "`taxon` and a non-default `motifs` is an error")  # fmt: skip
    species: list[str] = opt(
        [], "match only motifs of these species (e.g. Saccharomyces cerevisiae)",
        commands=("select-motifs",),
        doc="species names as JASPAR gives them (the families table's `species` column): "
        "only motifs derived from one of them are matched (rule `select_motifs` writes "
        "them to `results/annotate/motifs.meme`, which every later rule reads). A taxon "
        "collection mixes species: in the yeast example, JASPAR's fungi named one yeast "
        "GCGCG signal after *S. pombe*'s toe1 and *Neurospora*'s nit-4 as well as yeast's "
        "RSC3/RSC30/PDR3. Empty: every motif of the file. A name that no motif has is an "
        "error that lists the table's commonest species")  # fmt: skip
    artifacts: list[str] = opt(
        ["resources/artifacts/artifacts.fa"], "artifact FASTA files", workflow=False,
        commands=(), min_items=1,
        doc="artifact FASTA files (`>name source=... kind=...`); add your own "
        "primers/barcodes/flanks")  # fmt: skip
    motif_qvalue: float = opt(
        0.05, "largest TOMTOM q-value for a motif match", minimum=0, maximum=1,
        commands=("annotate", "group-elements", "patterns"),
        doc="label `motif` when the best match's q-value is ≤ this. Matching is TOMTOM "
        "(Gupta et al. 2007) with exact p-values: each query column's null is its score "
        "against every database column, complete scores (overhanging query columns score "
        "their null median), the p-value of the best alignment over all offsets and both "
        "strands from dynamic programming; E = p × number of motifs; q-values are "
        "Benjamini–Hochberg over the database (see `src/seqlantern/tomtom.py`)")  # fmt: skip
    query_flank: int = opt(
        6, "context bp either side of the seqlet in the motif query", minimum=0,
        commands=("annotate", "group-elements"),
        doc="bases of context either side of the seqlet in the motif query (weighted by "
        "their attribution, at least 0.1), so a peak covering part of a long site still "
        "aligns to the whole motif")  # fmt: skip
    query_trim: float = opt(
        0.1, "cut flank bases below this fraction of the peak |attribution|", minimum=0,
        maximum=1,
        doc="flank bases whose attribution magnitude is below this fraction of the query's "
        "peak are cut from the outside in (never into the seqlet): they carry no signal and "
        "comparison time grows with the cube of the query width")  # fmt: skip
    hypothetical_weight: float = opt(
        0.5, "weight of the hypothetical contributions in the motif query", minimum=0,
        commands=("annotate", "patterns"),
        doc="weight of the model's hypothetical contributions (what it would prefer at each "
        "position) added to the observed base in the motif query; 0 = sequence "
        "only")  # fmt: skip
    motif_score: str = opt(
        "pearson", "TOMTOM column similarity: pearson or euclidean",
        choices=("pearson", "euclidean"), commands=("annotate", "patterns"),
        doc="TOMTOM column similarity: `pearson` (correlation of the two columns) or "
        "`euclidean` (minus the distance between probability columns; the query's columns "
        "are clipped at 0 and normalised first)")  # fmt: skip
    min_overlap: int = opt(5, "fewest aligned columns (capped at query and motif widths)",
                           minimum=1, commands=("annotate", "patterns"))  # fmt: skip
    artifact_min_score: int = opt(
        12, "smallest alignment score (+1/-2, ungapped) of an artifact hit", minimum=1
    )
    artifact_flank: int = opt(10, "bp either side of a seqlet searched for artifact sequence",
                              minimum=0)  # fmt: skip
    artifact_min_overlap: float = opt(
        0.5, "share of the seqlet an artifact hit must cover to label it artifact", minimum=0,
        maximum=1)  # fmt: skip


@section("annotate")
class Artifacts:
    constant_min_share: float = opt(
        0.9, "find_constant: share of inputs with the same base at a position",
        flag="--min-share", exclusive_minimum=0.5, maximum=1, commands=("find-constant",),
        doc="rule `find_constant`: a position is constant when at least this share of the "
        "inputs reaching it carry the same base. Positions count from each record's start "
        "*and* from its end, so constant 5' and 3' flanks are found for variable-length "
        "inputs (centre-padded by `encode`). Output: `results/annotate/constant.{tsv,fa}`; "
        "a seqlet covering a constant region by ≥ `annotate.artifact_min_overlap` of its "
        "length is `artifact` of kind `constant`")  # fmt: skip
    constant_min_length: int = opt(8, "shortest constant run (bp)", flag="--min-length",
                                   minimum=4, commands=("find-constant",))  # fmt: skip
    low_complexity_dust: float = opt(
        3.0, "DUST score from which a seqlet is low complexity (0: off)", minimum=0,
        doc="DUST score of the seqlet's bases from which it is low complexity (random "
        "sequence ~0.1-0.3, dinucleotide repeat ~4, 20-bp homopolymer ~9); 0 = off. A hit "
        "of a `kind=low_complexity` library entry (poly-A, poly-G) counts too")  # fmt: skip
    low_complexity_read_end: int = opt(
        10, "low complexity is an artifact only this close (bp) to a record end", minimum=0,
        doc="low complexity is an `artifact` (kind `low_complexity`) only when the seqlet "
        "lies within this many bp of either end of its record, where read-through poly-A "
        "and two-colour poly-G sit. Inside the insert it is only annotated (element column "
        "`low_complexity`) and the element keeps its motif/unexplained label: poly-dA:dT "
        "tracts in yeast promoters, GAGA repeats in fly enhancers and G-runs in human "
        "promoters are biology. Genome windows have no read ends (never artifact by "
        "position). A value above the record length restores \"anywhere\"; 0 = "
        "never")  # fmt: skip
    hotspot_bin: int = opt(10, "position-bias bin (bp)", minimum=1,
                           commands=("annotate", "group-elements"))  # fmt: skip
    hotspot_fold: float = opt(
        3.0, "seqlet pile-up over uniform placement for a position hotspot (0: off)",
        minimum=0, commands=("annotate", "group-elements"),
        doc="position bias: bins of `hotspot_bin` bp (from either record end) holding ≥ "
        "this × the seqlet centres uniform placement predicts (binomial, Bonferroni α = "
        "0.01); every element there gets `position_hotspot`, unexplained ones become "
        "`artifact` of kind `positional`. 0 = off")  # fmt: skip


@section("shortcuts")
class Shortcuts:
    shuffles: int = opt(
        5, "dinucleotide-shuffled ablations per element", minimum=2,
        doc="ablations per element: the span replaced by a dinucleotide shuffle of itself; "
        "`effect` = prediction drop (mean), `effect_low`/`effect_high` its 95% "
        "t-interval")  # fmt: skip
    backgrounds: int = opt(
        10, "neutral backgrounds for insertion (shuffled attributed sequences)", minimum=1,
        doc="neutral backgrounds (dinucleotide shuffles of random attributed sequences) for "
        "insertion")  # fmt: skip
    insert_members: int = opt(
        20, "strongest members per group inserted into the backgrounds", minimum=1,
        doc="strongest members per group written into the backgrounds at their own "
        "position; the group's `insertion_effect` (95% interval over members)")  # fmt: skip
    min_effect: float = opt(
        0.0, "smallest |effect| (prediction units) that makes an artifact a shortcut",
        minimum=0)  # fmt: skip
    level: float = opt(
        0.95, "confidence level of the effect intervals (t-intervals)", exclusive_minimum=0.5,
        maximum=0.999,
        doc="confidence level of every effect interval (an element's `effect_low`/"
        "`effect_high`, the artifact and insert parts of junctions, group effects and "
        "insertions, constant regions). A decision needs the interval to exclude 0, so "
        "0.99 asks for stronger evidence before an element counts as relied on")  # fmt: skip


@section("patterns")
class Patterns:
    enabled: bool = opt(
        True, "rule discover_patterns: de novo patterns of all seqlets (results/patterns/)",
        workflow=False, commands=(),
        doc="rule `discover_patterns` (`seqlantern patterns`): every significant seqlet is "
        "clustered by its hypothetical-contribution profile (aligned, both strands, sign "
        "kept), TF-MoDISco-style; writes `results/patterns/patterns.meme` (PWMs), "
        "`patterns.tsv` and `pattern_members.tsv` (every element's pattern), and the "
        "report's patterns section (CWM, hCWM and best-match logos). Method: "
        "`src/seqlantern/patterns/discover.py`")  # fmt: skip
    window: int = opt(24, "bp of each seqlet's window (around its centre of |attribution|)",
                      minimum=8)  # fmt: skip
    max_shift: int = opt(6, "largest shift (bp) tried when aligning two windows", minimum=0)
    sample: int = opt(
        20000, "seqlets (seeded sample) the Leiden seeds are found in", minimum=10,
        doc="seqlets (seeded sample) whose k-mer nearest-neighbour graph is clustered by "
        "Leiden to seed the patterns; every seqlet is then assigned, so time grows "
        "linearly with the number of seqlets beyond it")  # fmt: skip
    neighbours: int = opt(20, "candidate neighbours per sampled seqlet (k-mer cosine)",
                          minimum=1)  # fmt: skip
    edge_similarity: float = opt(
        0.4, "aligned similarity for an edge of the Leiden graph", minimum=-1, maximum=1
    )
    resolution: float = opt(1.0, "Leiden resolution (higher: more, smaller clusters)",
                            exclusive_minimum=0)  # fmt: skip
    assign_similarity: float = opt(
        0.4, "aligned similarity a seqlet needs to join a pattern", minimum=-1, maximum=1
    )
    merge_similarity: float = opt(
        0.8, "patterns at least this alike (aligned hCWMs) are merged", minimum=-1, maximum=1
    )
    min_members: int = opt(20, "smallest pattern (members); smaller ones dissolve", minimum=2)
    trim: float = opt(
        0.3, "trim pattern columns below this share of the peak |CWM| column", minimum=0,
        maximum=1)  # fmt: skip


@section()
class CompareTraining:
    enabled: bool = opt(
        False, "rules train_variant, distill_model, compare_training: training with "
        "attributions, each variant measured", workflow=False,
        doc="train the `variants` beside the plain model (same split, seed and options, "
        "each with one guidance option on), distil a student from each of the `teachers`, and "
        "measure them all on the same test sequences: `results/variants/comparison.tsv` "
        "and a report section (`seqlantern compare-training`: test Pearson/AUROC, "
        "deletion/insertion gains, RC/shift stability, prediction drop when the top-10 "
        "salient positions are masked (and 10 random ones), planted-site AUROC and "
        "artifact share with a truth table, share inside M- with a feedback BED, and the "
        "student/teacher map correlation)")  # fmt: skip
    variants: list[str] = opt(
        ["salient_mask", "random_mask", "consistency", "feedback", "distill"],
        "variants trained beside the plain model",
        workflow=False,
        choices=("salient_mask", "random_mask", "consistency", "feedback", "distill"),
    )
    mask_probability: float = opt(0.5, "salient_mask/random_mask: share of batches masked",
                                  minimum=0, maximum=1, workflow=False)  # fmt: skip
    consistency_weight: float = opt(1.0, "consistency: penalty weight (rc and shift)",
                                    minimum=0, workflow=False)  # fmt: skip
    feedback_bed: str = opt(
        "", "feedback: M-/M+ BED; empty: every input's artifact and constant spans are M-",
        workflow=False)  # fmt: skip
    teachers: list[str] = opt(
        ["plain", "consistency"], "distill: one student per teacher (plain or a variant)",
        workflow=False, choices=("plain", "salient_mask", "random_mask", "consistency",
                                 "feedback"),
        doc="distill: one student per teacher, each named `distill_<teacher>`; a teacher "
        "other than `plain` must be one of the `variants`. With two or more teachers the "
        "table and the report set each teacher's map quality beside its student's "
        "accuracy and agreement: the teacher with the cleanest maps is not necessarily "
        "the best teacher")  # fmt: skip
    student: dict[str, Any] = opt(
        {"filters": [32], "dense": 16}, "distill: the student's architecture options (JSON)",
        flag="--student-options", commands=("distill",))  # fmt: skip
    shuffles: int = opt(1, "distill: teacher-labelled shuffled copies per training sequence",
                        minimum=0, commands=("distill",))  # fmt: skip
    sequences: int = opt(200, "test sequences compared (seeded sample)", flag="--n",
                         minimum=2, commands=("compare-training",))  # fmt: skip


@section()
class Debias:
    enabled: bool = opt(
        True, "retrain with artifact spans neutralised and compare (trained models only)",
        workflow=False,
        doc="(trained models only) rules `mask_artifacts`, `train_debiased`, "
        "`attribute_debiased`, `compare_debias`: every artifact span of *every* input "
        "(exact `k`-mer hits of the library's adapter/primer/vector entries on both "
        "strands; constant regions are left alone, since every input carries them) is "
        "replaced by bases drawn from the library's composition, the model is retrained "
        "with the same settings and the same split, the same sequences are attributed, and "
        "`results/debias/comparison.tsv` compares the attribution share on artifact spans "
        "(and its excess over the spans' share of positions) and test Pearson on "
        "artifact-free sequences. Adds one training run to the workflow.")  # fmt: skip
    min_share: float = opt(
        0.01, "... only when at least this share of the inputs carries a span", minimum=0,
        maximum=1, flag="--debias-min-share", commands=("report",),
        doc="`mask_artifacts` is a checkpoint: the retraining, re-attribution and comparison "
        "run only when at least this share of the inputs carries an adapter/primer/vector "
        "span. Below it (DeepSTARR sample: 7 of 2,969) a retrained model differs from the "
        "original by chance alone (the before/after figures were noise: a \"reduction\" of "
        "-199% from a drop of 0.01), so the report says in one line why debias did not "
        "run. As a second guard the report shows one line instead of the comparison when "
        "fewer than 10 *attributed* sequences carry a span")  # fmt: skip
    k: int = opt(
        12, "k-mer length of the exact artifact hits in every input", minimum=6,
        commands=("mask-artifacts",),
        doc="k-mer length of the exact hits (read-through copies with errors are still hit "
        "by their error-free k-mers)")  # fmt: skip
    method: str = opt(
        "both", "both | neutralise | penalty (config/README.md: why both)",
        choices=("both", "neutralise", "penalty"), workflow=False,
        doc="`neutralise`: the spans are replaced by bases drawn from the library's "
        "composition in the training inputs (a shuffle would keep the adapter's "
        "composition, which the model can still exploit). `penalty`: train on the original "
        "inputs with an attribution penalty (\"right for the right reasons\", Ross et al. "
        "2017): `penalty_weight` × the mean squared mean-corrected input gradient at the "
        "span positions is added to the loss. `both`: the prediction loss on the "
        "neutralised inputs (the artifact cannot be learned from the labels) and the "
        "penalty on the original inputs of the rows that carry an artifact (the model "
        "learns to be insensitive to it)")  # fmt: skip
    penalty_weight: float = opt(
        10.0, "attribution penalty weight inside masked artifact spans (train "
        "--penalty-spans)", minimum=0, commands=("train",),
        doc="weight of that penalty (`method: penalty` or `both`); it acts only where "
        "`train --penalty-spans` marks positions")  # fmt: skip


@section("segment")
class Segment:
    enabled: bool = opt(
        False, "rule segment_sequences: element segments from sequence labels (Grad-CAM)",
        workflow=False,
        doc="rule `segment_sequences`: element segments from sequence-level labels alone "
        "(`seqlantern segment`): Grad-CAM on the first conv block marks high-confidence "
        "seed positions, each seed run grows while the attribution stays continuous; writes "
        "`results/segment/segments.tsv` (`name row start end peak_cam attribution`) and, "
        "with a truth table, `evaluation.tsv` (boundary IoU, recall, precision against "
        "planted sites). Only sequences the model calls positive are segmented")  # fmt: skip
    threshold: float | None = opt(
        None, "regression models: segment sequences predicted at or above this",
        doc="for a regression model: the prediction at or above which a sequence counts as "
        "positive (required then: a regression output has no class to explain; the run "
        "stops with one line otherwise). Binary models use probability >= 0.5")  # fmt: skip
    seed_fraction: float = opt(
        0.5, "seeds: Grad-CAM >= this x its maximum in the sequence", exclusive_minimum=0,
        maximum=1)  # fmt: skip
    grow_fraction: float = opt(
        0.25, "grow while |attribution| >= this x the sequence's peak", exclusive_minimum=0,
        maximum=1,
        doc="a seed run grows while the base's \\|attribution\\| >= this x the sequence's "
        "peak \\|attribution\\|")  # fmt: skip


@section()
class Tracks:
    enabled: bool = opt(
        True, "rule write_tracks: results/tracks/attribution.bw + elements.bb (IGV/UCSC)",
        workflow=False,
        doc="rule `write_tracks`: `results/tracks/attribution.bw` (per base, the signed "
        "attribution of the observed base; genome coordinates for genomic input with the "
        "sizes from the genome's `.fai`, one \"chromosome\" per record for FASTA input; the "
        "mean where windows overlap; padding and bases off a chromosome are not written) "
        "and `results/tracks/elements.bb` (every element of `all_elements.bed` as a "
        "bigBed: BED9 coloured by class + the 10 detail fields in its autoSql). Written "
        "with `pybigtools`")  # fmt: skip
    hypothetical: bool = opt(
        False, "also hypothetical_{A,C,G,T}.bw (4 more tracks)", workflow=False,
        doc="also `hypothetical_{A,C,G,T}.bw`: each base's hypothetical contribution at "
        "each position (on a minus-strand window the model's base is the complement of the "
        "genome's)")  # fmt: skip


@section("export")
class Export:
    header: bool = opt(
        False, "a '#chrom start end ...' column line at the top of the detail BEDs",
        doc="start the detail BEDs (`candidates.bed`, `artifacts.bed`, `all_elements.bed`: "
        "BED6+10) with a `#chrom start end …` column line; bedtools and IGV skip `#` "
        "lines, plain `pandas.read_csv(header=None)` does not")  # fmt: skip
    track_line: bool = opt(
        True, "a UCSC/IGV 'track' line at the top of the .browser.bed files",
        doc="start the browser BEDs (`*.browser.bed`: BED9, `itemRgb` by class) with a "
        "UCSC/IGV `track` line (`itemRgb=\"On\"`, named after the run folder)")  # fmt: skip


@section("report")
class Report:
    examples: int = opt(
        6, "example sequences: one per large group, then top predictions", minimum=0,
        doc="example sequences drawn with their attribution logos: the sequence of the "
        "strongest member of each large group (largest artifact group second), then the "
        "highest predictions")  # fmt: skip
    top_motifs: int = opt(
        12, "logos drawn for motif clusters and de novo groups", minimum=0,
        doc="logos drawn for motif clusters (clusters with one element are folded into "
        "\"other\") and for de novo groups")  # fmt: skip
    element_rows: int = opt(
        2000, "rows of the per-element table (largest |attribution| first)", minimum=0,
        doc="rows of the report's sortable per-element table (largest \\|attribution\\| "
        "first; the full table is `results/shortcuts/elements.tsv`, linked from the "
        "report)")  # fmt: skip


@section()
class Config:
    results_dir: str = opt(
        "results", "where the run writes; another value also holds its logs/ and benchmarks/",
        workflow=False, min_length=1,
        doc="where the run writes (`<results_dir>/<stage>/…`); any other value also puts "
        "the run's `logs/` and `benchmarks/` inside it, so one folder holds the whole run. "
        "The example configs use `results/examples/<name>`, so an example never overwrites "
        "the demo")  # fmt: skip
    shared_dir: str = opt(
        "", "folder of the shared stages demo/, encode/, train/ (empty: results_dir)",
        workflow=False,
        doc="folder that holds the stages every target shares: the demo data "
        "(`demo/`), the encoded inputs (`encode/`) and the trained model (`train/`). "
        "Empty: `results_dir`. With `attribution.target: all` the workflow sets it for "
        "each target's sub-run to the parent's `results_dir`, so the inputs are encoded "
        "and the model trained once")  # fmt: skip
    seed: int = opt(0, "random seed: the same seed gives byte-identical outputs on CPU",
                    commands=SEED_COMMANDS,
                    doc="seeds the demo, the split, training and seqlet null sampling: same "
                    "seed, same outputs")  # fmt: skip
    device: str = opt(
        "auto", "auto (CUDA when available), cpu or cuda", choices=("auto", "cpu", "cuda"),
        commands=("train", "attribute", "shortcuts", "segment", "distill", "score-model"),
        doc="`auto` (CUDA when available), `cpu` or `cuda`; `cuda` makes "
        "training/attribution rules request `gpu: 1`")  # fmt: skip
    threads: int = opt(
        2, "threads of each training, attribution, seqlet and annotation job", minimum=1,
        workflow=False,
        doc="threads of the training, attribution, seqlet and annotation jobs (each job's "
        "`threads`, so SLURM's `--cpus-per-task`)")  # fmt: skip
    shards: int = opt(
        1, "K: attribution, controls, seqlets and annotation run as K jobs each", minimum=1,
        workflow=False,
        doc="split the attributed sequences into this many blocks: attribution, shuffled "
        "controls, seqlet calling and per-element annotation run as one job per shard, and "
        "gather rules combine what needs all sequences (see \"Sharding\" below). Outputs "
        "are byte-identical for every value")  # fmt: skip
    gpu_model: str = opt(
        "", "with device: cuda, the GPU model the cluster should give (e.g. a100)",
        workflow=False,
        doc="with `device: cuda`, the GPU model those rules ask the cluster for (resource "
        "`gpu_model`, e.g. `a100`; SLURM `--gpus=a100:1`)")  # fmt: skip
    demo: Demo = sub(Demo)
    data: Data = sub(Data)
    encode: Encode = sub(Encode)
    split: Split = sub(Split)
    model: Model = sub(Model)
    train: Train = sub(Train)
    attribution: Attribution = sub(Attribution)
    diagnostics: Diagnostics = sub(Diagnostics)
    seqlets: Seqlets = sub(Seqlets)
    annotate: Annotate = sub(Annotate)
    artifacts: Artifacts = sub(Artifacts)
    shortcuts: Shortcuts = sub(Shortcuts)
    patterns: Patterns = sub(Patterns)
    compare_training: CompareTraining = sub(CompareTraining)
    debias: Debias = sub(Debias)
    segment: Segment = sub(Segment)
    tracks: Tracks = sub(Tracks)
    export: Export = sub(Export)
    report: Report = sub(Report)


#: Every default, as one object: ``DEFAULTS.seqlets.pvalue``. Stage code takes its
#: library defaults from here, so they cannot drift from the config's.
DEFAULTS = Config()
#: sections the schema requires to be present (Snakemake fills the others in)
REQUIRED = ("demo", "data", "annotate")


# --------------------------------------------------------------------------------------
# Flattened view
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """One configurable option, flattened (``path`` is the dotted config key)."""

    path: str
    name: str
    kind: str  # int | float | str | bool | strlist | json | int|str
    nullable: bool
    default: Any
    help: str
    doc: str
    flag: str
    commands: tuple[str, ...]
    choices: tuple[Any, ...]
    minimum: float | None
    maximum: float | None
    exclusive_minimum: float | None
    min_items: int | None
    min_length: int | None
    workflow: bool

    @property
    def dest(self) -> str:
        """The argparse destination (the flag without dashes, ``-`` as ``_``)."""
        return self.flag.lstrip("-").replace("-", "_")


def _kind(tp: Any) -> tuple[str, bool]:
    """(kind, nullable) of a field's type annotation."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    nullable = type(None) in typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if set(args) == {int, str}:
            return "int|str", nullable
        tp = args[0]
    if typing.get_origin(tp) is list:
        return "strlist", nullable
    if typing.get_origin(tp) is dict:
        return "json", nullable
    return {int: "int", float: "float", str: "str", bool: "bool"}[tp], nullable


def _is_section(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def iter_options(cls: type = Config, prefix: str = "") -> Iterator[Option]:
    """Every option of ``cls`` and its nested sections, in definition order."""
    hints = typing.get_type_hints(cls)
    default_commands = getattr(cls, _SECTION_COMMANDS, ())
    instance = cls()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if _is_section(tp):
            yield from iter_options(tp, f"{prefix}{f.name}.")
            continue
        m = f.metadata
        kind, nullable = _kind(tp)
        commands = m["commands"] if m["commands"] is not None else default_commands
        yield Option(path=prefix + f.name, name=f.name, kind=kind, nullable=nullable,
                     default=getattr(instance, f.name), help=m["help"],
                     doc=m["doc"] or m["help"], flag=m["flag"] or "--" + f.name.replace("_", "-"),
                     commands=tuple(commands), choices=tuple(m["choices"]),
                     minimum=m["minimum"], maximum=m["maximum"],
                     exclusive_minimum=m["exclusive_minimum"], min_items=m["min_items"],
                     min_length=m["min_length"], workflow=m["workflow"])  # fmt: skip


def options_for(command: str) -> list[Option]:
    """The config options a ``seqlantern`` subcommand takes."""
    return [o for o in iter_options() if command in o.commands]


def lookup(config: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of a (merged, defaults-filled) config; the default
    where the config does not set it."""
    node: Any = config
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            node = DEFAULTS
            for p in path.split("."):
                node = getattr(node, p)
            return node
        node = node[part]
    return node


def render(o: Option, value: Any) -> str:
    """One option's value as command-line text (the inverse of :func:`parse_type`)."""
    if o.kind == "bool":
        return o.flag if value else "--no-" + o.flag[2:]
    if value is None:
        text = "none"
    elif o.kind == "strlist":
        text = ",".join(str(v) for v in value)
    elif o.kind == "json":
        text = json.dumps(value, sort_keys=True)
    else:
        text = str(value)
    return f"{o.flag} {shlex.quote(text)}"


def cli_args(config: Mapping[str, Any], command: str) -> str:
    """The flags a workflow rule passes to ``seqlantern <command>``: every option of the
    command that the rule does not pass itself, with the config's values."""
    return " ".join(render(o, lookup(config, o.path)) for o in options_for(command)
                    if o.workflow)  # fmt: skip


# --------------------------------------------------------------------------------------
# Command-line types (a bad value is a one-line usage error naming the option)
# --------------------------------------------------------------------------------------


def _bounds_message(o: Option | None, v: float, *, lo: float | None = None) -> str | None:
    minimum = o.minimum if o else lo
    if minimum is not None and v < minimum:
        return f"{v:g} must be at least {minimum:g}" if minimum else f"{v:g} must not be negative"
    if o and o.exclusive_minimum is not None and v <= o.exclusive_minimum:
        return f"{v:g} must be greater than {o.exclusive_minimum:g}"
    if o and o.maximum is not None and v > o.maximum:
        return f"{v:g} must be at most {o.maximum:g}"
    return None


def parse_type(o: Option) -> Any:
    """The argparse ``type`` of an option: parses and checks what the schema checks."""

    def parse(value: str) -> Any:
        if o.nullable and (value.lower() in ("none", "null", "")
                           or (o.kind == "int" and value.strip() == "0")):  # fmt: skip
            return None  # an integer 0 too: `encode --length 0` meant "none" before
        if o.kind == "strlist":
            items = [v for v in (s.strip() for s in value.split(",")) if v]
            bad = [v for v in items if o.choices and v not in o.choices]
            if bad:
                raise argparse.ArgumentTypeError(f"unknown {bad}; choose from {list(o.choices)}")
            if o.min_items and len(items) < o.min_items:
                raise argparse.ArgumentTypeError(f"give at least {o.min_items} (comma-separated)")
            return items
        if o.kind == "json":
            try:
                return json.loads(value) if value else {}
            except json.JSONDecodeError as exc:
                raise argparse.ArgumentTypeError(f"not valid JSON: {exc}") from None
        if o.kind in ("int", "float"):
            try:
                v: float = int(value) if o.kind == "int" else float(value)
            except ValueError:
                what = "an integer" if o.kind == "int" else "a number"
                raise argparse.ArgumentTypeError(f"{value!r} is not {what}") from None
            if o.kind == "float" and v != v:
                raise argparse.ArgumentTypeError("NaN is not a value")
            problem = _bounds_message(o, v)
            if problem:
                raise argparse.ArgumentTypeError(problem)
            return v
        if o.min_length and len(value) < o.min_length:
            raise argparse.ArgumentTypeError("must not be empty")
        return value

    parse.__name__ = o.kind  # argparse names the type in some messages
    return parse


def add_option(parser: argparse.ArgumentParser, o: Option) -> None:
    """Add one config option to a subcommand's parser."""
    if o.kind == "bool":
        parser.add_argument(o.flag, action=argparse.BooleanOptionalAction, default=o.default,
                            help=o.help + f" (config {o.path})")  # fmt: skip
        return
    kwargs: dict[str, Any] = {"type": parse_type(o), "default": o.default,
                              "help": o.help + f" (config {o.path})"}  # fmt: skip
    if o.choices and o.kind != "strlist":
        kwargs["choices"] = list(o.choices)
    if o.nullable:
        kwargs["metavar"] = o.dest.upper() + "|none"
    parser.add_argument(o.flag, **kwargs)


def params_from(cls: type, namespace: argparse.Namespace, **extra: Any) -> Any:
    """An options dataclass (``AnnotateParams``...) from parsed arguments, field by field:
    a new field is filled as soon as the option of the same name exists."""
    values = {f.name: getattr(namespace, f.name) for f in dataclasses.fields(cls)
              if hasattr(namespace, f.name)}  # fmt: skip
    values.update(extra)
    return cls(**values)


# --------------------------------------------------------------------------------------
# Command-line-only arguments: inputs, outputs and per-run switches
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """A command-line-only argument (a file, a shard number, a switch)."""

    flag: str
    help: str
    required: bool = False
    kind: str = "str"  # str | int | float | strlist | flag | bool
    default: Any = None
    nargs: str | None = None
    minimum: int | None = None

    def needed(self) -> Arg:
        return dataclasses.replace(self, required=True)

    def optional(self, help: str | None = None) -> Arg:
        return dataclasses.replace(self, required=False, help=help or self.help)


def _req(flag: str, help: str, **kw: Any) -> Arg:
    return Arg(flag, help, required=True, **kw)


ONEHOT = _req("--onehot", "one-hot array (N, 4, L) .npy from encode")
INDEX = _req("--index", "index TSV from encode (names, split, coordinates)")
ATTRIBUTIONS = _req("--attributions", "attribution maps .npy from attribute "
                    "(gather-attributions)")  # fmt: skip
PREDICTIONS = _req("--predictions", "predictions TSV from attribute (rows and names of the "
                   "maps)")  # fmt: skip
THREADS = Arg("--threads", "CPU threads (0: PyTorch's default)", kind="int", default=0,
              minimum=0)  # fmt: skip
MOTIFS = _req("--motifs", "MEME motif database")
FAMILIES = Arg("--families", "per-motif family/cluster table (TSV)")
ARTIFACT_FASTA = _req("--artifacts", "artifact FASTA file(s)", nargs="+")
CONSTANT = Arg("--constant", "constant regions from find-constant (TSV)")
WHICH = Arg("--which", "all, train, valid or test (config attribution.sequences)",
            default="test")  # fmt: skip
NAMES_FILE = Arg("--names-file", "file of sequence names, one per line (overrides --which)")
OUT = _req("--out", "output file")


def _out(help: str) -> Arg:
    return _req("--out", help)


@dataclass(frozen=True)
class Command:
    """One ``seqlantern`` subcommand: its help, where it sits in the workflow, and its
    command-line-only arguments (its config options come from :func:`options_for`)."""

    help: str
    order: str
    args: tuple[Arg, ...]


COMMANDS: dict[str, Command] = {
    "simulate": Command("write the seeded demo library", "first stage of the demo; before "
                        "encode", (
        _req("--motifs", "MEME file with the grammar's motifs"),
        _req("--fasta", "output FASTA of the simulated library"),
        _req("--targets", "output targets TSV"),
        _req("--truth", "output truth TSV (planted motifs and adapters)"))),
    "encode": Command("FASTA records or BED regions -> one-hot + index", "first stage (after "
                      "simulate for the demo); before train and attribute", (
        Arg("--fasta", "FASTA of whole records (plain or .gz)"),
        Arg("--genome", "genome FASTA (with or without .fai) for --bed regions or tiling"),
        Arg("--bed", "BED regions on --genome (name in column 4, strand in column 6)"),
        _req("--onehot", "output one-hot .npy"),
        _req("--index", "output index TSV"))),
    "train": Command("train a CNN, early-stopped, with test metrics", "after encode; before "
                     "attribute", (
        ONEHOT, INDEX, _req("--targets", "targets TSV (name column + one column per target)"),
        Arg("--penalty-spans", "TSV row/start/end of positions the model must not use "
            "(attribution penalty; mask-artifacts --out-spans)"),
        Arg("--penalty-onehot", "inputs for the penalty when --onehot has the artifacts "
            "neutralised (the original library)"),
        THREADS,
        _req("--out-model", "checkpoint JSON (weights beside it)"),
        _req("--metrics", "output test metrics TSV (model and k-mer baseline)"),
        _req("--curve", "output learning-curve PNG"))),
    "score-model": Command("test metrics of a model you bring, beside the k-mer baseline",
                           "after encode, with model.checkpoint or model.import_path and "
                           "data.targets; read by report", (
        ONEHOT, INDEX, _req("--targets", "targets TSV (name column + one column per target)"),
        THREADS,
        _req("--metrics", "output test metrics TSV (the loaded model and the k-mer "
             "baseline), as train writes it"))),
    "attribute": Command("attribution maps for chosen sequences", "after train (or with your "
                         "own model); before call-seqlets", (
        ONEHOT, INDEX, WHICH, NAMES_FILE,
        Arg("--check", "integrated/expected gradients: check that each map adds up to f(x) - "
            "f(reference) (column completeness_error; a warning past 5%%)", kind="bool",
            default=True),
        Arg("--shuffles", "attribute this many dinucleotide-shuffled copies of each sequence "
            "instead (controls for call-seqlets; config seqlets.shuffles)", kind="int",
            default=0, minimum=0),
        THREADS,
        _out("output attribution maps .npy"),
        _req("--predictions", "output predictions TSV"),
        Arg("--hypothetical", "also write hypothetical contributions (.npy)"),
        Arg("--shards", "split the selection into this many blocks (multiples of the batch "
            "size) ... (config shards)", kind="int", default=1, minimum=1),
        Arg("--shard", "... and attribute only this one (0-based)", kind="int", default=0,
            minimum=0))),
    "gather-attributions": Command("concatenate the shards' attributions", "after attribute "
                                   "--shard; before the report and debias", (
        _req("--attributions", "every shard's maps, in order", nargs="+"),
        _req("--predictions", "every shard's predictions, in order", nargs="+"),
        _out("output attribution maps .npy (all shards)"),
        _req("--out-predictions", "output predictions TSV (all shards)"))),
    "fit-null": Command("seqlet candidate null fitted on all shards' maps", "after attribute; "
                        "before call-seqlets --null-file", (
        _req("--attributions", "every shard's maps, in order", nargs="+"),
        _out("null table (TSV) for call-seqlets --null-file"))),
    "call-seqlets": Command("attribution peaks with p-values", "after attribute; before "
                            "merge-seqlets or annotate", (
        ATTRIBUTIONS, PREDICTIONS,
        Arg("--control-attributions", "attributions of shuffled copies (attribute "
            "--shuffles): empirical p-values and BH q-values from them"),
        Arg("--null-file", "null from fit-null (one shard of a sharded run): --out gets this "
            "shard's calls, or with controls every candidate, for merge-seqlets"),
        Arg("--control-out", "with --null-file and controls: control strengths (.npy)"),
        _out("output seqlets TSV"))),
    "merge-seqlets": Command("gather the shards' seqlet calls (q-values)", "after "
                             "call-seqlets; before annotate", (
        _req("--candidates", "every shard's call-seqlets table, in order", nargs="+"),
        Arg("--control-strengths", "each shard's call-seqlets --control-out (shuffled-control "
            "null)", nargs="*", default=[]),
        Arg("--calibration", "with controls: TSV of calls and control-estimated FDR at "
            "several levels"),
        _out("output seqlets TSV with q-values over all shards"))),
    "find-constant": Command("sequence shared at the same position by most inputs", "after "
                             "encode; before annotate", (
        ONEHOT, INDEX,
        Arg("--min-coverage", "share of inputs that must reach the position", kind="float",
            default=0.5),
        _out("constant regions (TSV)"),
        _req("--fasta", "the same as an artifact FASTA"))),
    "annotate": Command("match seqlets to motifs and artifacts, label them", "after "
                        "merge-seqlets and find-constant; before group-elements", (
        _req("--seqlets", "seqlets table from merge-seqlets (or call-seqlets)"),
        ONEHOT, ATTRIBUTIONS, PREDICTIONS, INDEX, MOTIFS, FAMILIES, ARTIFACT_FASTA,
        Arg("--hypothetical", "hypothetical contributions (attribute --hypothetical)"),
        Arg("--groups", "also write the element groups table (TSV)"),
        CONSTANT,
        Arg("--shard", "--attributions/--predictions are one shard: annotate its seqlets "
            "only, per element, for group-elements", kind="flag"),
        _out("output elements TSV"))),
    "group-elements": Command("gather the shards' elements: hotspots, groups, group matches",
                              "after annotate --shard; before shortcuts", (
        _req("--elements", "every shard's annotate --shard table, in order", nargs="+"),
        ONEHOT, INDEX, MOTIFS, FAMILIES,
        _out("output elements TSV (grouped)"),
        _req("--groups", "element groups table (TSV)"))),
    "patterns": Command("de novo patterns: seqlets clustered by contribution profile (CWM, "
                        "hCWM, PWM, database match)", "after shortcuts; before report", (
        _req("--elements", "elements table (shortcuts --out-elements)"),
        ONEHOT, ATTRIBUTIONS, PREDICTIONS,
        _req("--hypothetical", "hypothetical contributions (attribute --hypothetical), every "
             "shard in order", nargs="+"),
        MOTIFS, FAMILIES,
        _req("--out-meme", "output PWMs of the patterns (MEME)"),
        _req("--out-patterns", "output patterns table (TSV)"),
        _req("--out-members", "output element -> pattern table (TSV)"),
        _req("--out-matrices", "output CWM, hCWM and PFM of every pattern (TSV)"))),
    "feedback": Command("an expert feedback BED (M- or M+ regions) from an elements table",
                        "after annotate or shortcuts; before train (train.feedback.bed)", (
        Arg("--elements", "elements table (annotate or shortcuts): its matching rows become "
            "regions"),
        Arg("--onehot", "instead of --elements: every artifact span of every input (with "
            "--index, --artifacts, --constant) becomes an M- region"),
        Arg("--index", "index TSV from encode (with --onehot)"),
        Arg("--artifacts", "artifact FASTA file(s) (with --onehot)", nargs="*", default=[]),
        Arg("--constant", "constant regions from find-constant (with --onehot)"),
        Arg("--where", "column=value filters, all of which an element must meet (e.g. "
            "label=artifact)", nargs="+", default=[]),
        Arg("--name", "M- (irrelevant) or M+ (relevant)", default="M-"),
        _out("output feedback BED (sequence coordinates)"))),
    "distill": Command("train a smaller student on a teacher checkpoint's outputs",
                       "after train; before compare-training", (
        _req("--teacher", "teacher checkpoint JSON"), ONEHOT, INDEX, THREADS,
        _req("--out-model", "student checkpoint JSON (weights beside it)"),
        _req("--metrics", "output student metrics TSV (against the teacher)"),
        _req("--curve", "output learning-curve PNG"))),
    "compare-training": Command("training variants measured side by side (accuracy, "
                                "faithfulness, stability, masking, sites, artifacts)",
                                "after train, train_variant and distill; before report", (
        _req("--variant", "NAME=checkpoint.json, one per variant (the first: the plain "
             "model)", nargs="+"),
        Arg("--teacher-of", "STUDENT=TEACHER variant names (distilled variants)", nargs="*",
            default=[]),
        ONEHOT, INDEX, _req("--targets", "measured targets TSV"),
        _req("--column", "the target compared (the attributed one)"),
        Arg("--truth", "truth TSV (planted sites): site AUROC and artifact share"),
        Arg("--feedback-bed", "feedback BED: attribution share inside its M- regions"),
        _out("output comparison TSV"))),
    "shortcuts": Command("ablation/insertion effects and the final decision", "after "
                         "group-elements; before export and report", (
        ONEHOT,
        _req("--elements", "elements table from annotate"),
        _req("--groups", "groups table from annotate"),
        _req("--predictions", "predictions.tsv of attribute"),
        Arg("--batch-size", "sequences per forward batch", kind="int", default=256, minimum=1),
        THREADS,
        _req("--out-elements", "output elements TSV with effects and decisions"),
        _req("--out-groups", "output groups TSV with effects"),
        _req("--out-dataset", "output dataset-level figures TSV"),
        CONSTANT, INDEX.optional("index.tsv of encode (needed with --constant)"),
        Arg("--out-constant", "reliance on each constant region (ablation and insertion "
            "effects)"))),
    "mask-artifacts": Command("the one-hot array with artifact spans neutralised", "after "
                              "encode; before train (debiased) and compare-debias", (
        ONEHOT, INDEX, ARTIFACT_FASTA, CONSTANT,
        Arg("--include-constant", "neutralise the constant regions too (off: every input "
            "carries them)", kind="flag"),
        _req("--out-onehot", "output one-hot .npy with artifact spans neutralised"),
        _req("--out-spans", "artifact spans found (TSV)"))),
    "compare-debias": Command("artifact reliance before/after debiasing", "after attribute of "
                              "both models; before report", (
        _req("--spans", "mask-artifacts --out-spans"), INDEX,
        _req("--before", "attributions of the original model"),
        _req("--predictions-before", "predictions TSV of the original model"),
        _req("--after", "attributions of the debiased model"),
        _req("--predictions-after", "predictions TSV of the debiased model"),
        _req("--targets", "measured values (TSV)"),
        _req("--column", "target column (the attributed one)"),
        ONEHOT.optional("with both models: also the ablation drop"),
        Arg("--model-before", "checkpoint JSON of the original model"),
        Arg("--model-after", "checkpoint JSON of the debiased model"),
        _out("output comparison TSV"))),
    "compare-methods": Command("faithfulness, stability and ISM agreement of 2+ methods",
                               "side diagnostic after train; before report", (
        ONEHOT, INDEX, THREADS,
        _req("--out-table", "output comparison TSV"),
        _req("--out-curves", "output deletion/insertion curves TSV"),
        _req("--out-erf", "output receptive-field summary TSV"),
        _req("--out-erf-profile", "output receptive-field profiles TSV"))),
    "export": Command("BED files of candidates, artifacts and all elements (after shortcuts, "
                      "before report): BED6+10 detail tables and BED9 .browser.bed tracks for "
                      "IGV/UCSC", "after shortcuts; before tracks and report", (
        _req("--elements", "elements table (shortcuts --out-elements)"),
        _req("--index", "encode index TSV (coordinates)"),
        _req("--candidates", "BED of plausible elements"),
        _req("--artifacts-bed", "BED of artifact elements"),
        _req("--all", "BED of every element"),
        Arg("--browser", "also write X.browser.bed (BED9, itemRgb by class) beside each X.bed",
            kind="bool", default=True),
        Arg("--run-name", "named in the track descriptions", default="run"))),
    "segment": Command("element segments from sequence labels: Grad-CAM seeds grown along the "
                       "map", "after train (binary task) and encode; a side study", (
        ONEHOT, INDEX, WHICH, NAMES_FILE.optional("segment these sequences (one name per line)"),
        Arg("--truth", "truth TSV (name start end ...): boundary IoU"),
        Arg("--evaluation", "output boundary IoU table (needs --truth)"),
        Arg("--batch-size", "sequences per forward/backward batch", kind="int", default=128,
            minimum=1),
        THREADS, _out("output segments TSV"))),
    "erf-growth": Command("how the effective receptive field grows with depth (random conv "
                          "stacks)", "side diagnostic, needs no data; before report", (
        Arg("--depth", "deepest stack (blocks)", kind="int", default=16, minimum=1),
        Arg("--kernel", "kernel width of every block", kind="int", default=9, minimum=1),
        Arg("--channels", "channels of every block", kind="int", default=32, minimum=1),
        Arg("--models", "random stacks", kind="int", default=8, minimum=2),
        THREADS,
        _out("output table: depth model theoretical_rf erf_sd"),
        _req("--out-fit", "output fitted exponents (metric value)"))),
    "tracks": Command("genome-browser tracks: attribution bigWig, element bigBed", "after "
                      "export; before report", (
        ATTRIBUTIONS, PREDICTIONS, ONEHOT, INDEX,
        Arg("--genome", "genome FASTA of genomic windows (its .fai gives the sizes)"),
        Arg("--elements-bed", "all_elements.bed from export (for --out-bigbed)"),
        _req("--out-bigwig", "output attribution bigWig"),
        Arg("--out-bigbed", "output element bigBed (needs --elements-bed)"),
        Arg("--hypothetical", "hypothetical .npy of attribute (shards)", nargs="*", default=[]),
        Arg("--out-hypothetical", "four bigWigs: A, C, G, T", nargs="*", default=[]))),
    "evaluate": Command("score elements against planted truth", "after shortcuts, with a "
                        "truth table; before report", (
        _req("--elements", "elements table (shortcuts --out-elements)"),
        _req("--truth", "truth TSV of the planted motifs (name start end strand motif ... "
             "kind effect)"),
        PREDICTIONS, MOTIFS, FAMILIES, _out("output evaluation TSV"))),
    "motifs": Command("export JASPAR (offline, pyjaspar) or convert to MEME", "offline, before "
                      "a run: makes annotate.motifs", (
        Arg("--convert", "a MEME, JASPAR or HOMER motif file to convert"),
        Arg("--release", "pyjaspar release, e.g. JASPAR2024", default="JASPAR2026"),
        Arg("--collection", "JASPAR collection (CORE, UNVALIDATED, ...)", default="CORE"),
        Arg("--tax-group", "e.g. vertebrates,insects", kind="strlist", default=[]),
        Arg("--families", "also write the TF class/family/species table (TSV)"),
        Arg("--add-species", "instead: add the species column to this families table"),
        Arg("--out", "output MEME file (not with --add-species)"))),
    "select-motifs": Command("the motifs of annotate.species only", "before annotate, "
                             "when annotate.species is set", (
        _req("--motifs", "motif database (MEME, JASPAR, HOMER)"),
        _req("--families", "families table with a species column"),
        _out("output MEME file"))),
    "cluster-motifs": Command("offline: archetype clusters and a family for every motif",
                              "offline, before a run: makes annotate.families", (
        _req("--motifs", "motif database (MEME, JASPAR, HOMER)"),
        Arg("--families", "JASPAR class/family table (motifs --families)"),
        Arg("--cut", "average-linkage cut on 1 - similarity (mean column Pearson)",
            kind="float", default=0.3),
        _out("archetype table (TSV); may be the --families file itself"))),
    "report": Command("self-contained HTML report (last stage: after shortcuts, export and, "
                      "when enabled, compare-methods and compare-debias)", "last stage", (
        _req("--elements", "elements table (shortcuts --out-elements)"),
        INDEX, ONEHOT, ATTRIBUTIONS, PREDICTIONS,
        _req("--motifs", "MEME motif database the run matched"),
        Arg("--metrics", "train metrics TSV (model section, trust panel)"),
        Arg("--curve", "train learning-curve PNG"),
        Arg("--evaluation", "evaluate table (planted truth)"),
        Arg("--config", "the run's config YAML, shown last"),
        Arg("--links", "output files to link (relative to --out)", nargs="*", default=[]),
        Arg("--groups", "groups table from annotate --groups"),
        Arg("--dataset", "dataset-level shortcut figures (shortcuts --out-dataset)"),
        Arg("--debias", "compare-debias table"),
        Arg("--methods", "compare-methods table"),
        Arg("--curves", "compare-methods faithfulness curves"),
        Arg("--erf", "compare-methods receptive-field summary"),
        Arg("--erf-profile", "compare-methods receptive-field profiles"),
        Arg("--erf-growth", "erf-growth table (receptive field over depth)"),
        Arg("--erf-growth-fit", "erf-growth fitted exponents"),
        Arg("--calibration", "merge-seqlets --calibration table (trust panel)"),
        Arg("--training-comparison", "compare-training table (training with attributions)"),
        Arg("--patterns", "patterns table (seqlantern patterns --out-patterns)"),
        Arg("--pattern-matrices", "pattern logos (seqlantern patterns --out-matrices)"),
        Arg("--pattern-members", "element -> pattern table (seqlantern patterns "
            "--out-members)"),
        Arg("--artifacts", "artifact FASTA(s): attribution on their exact hits in the trust "
            "panel", nargs="*", default=[]),
        CONSTANT.optional("find-constant regions (trust panel reliance table)"),
        Arg("--constant-reliance", "shortcuts --out-constant table (reliance on each constant "
            "region)"),
        Arg("--debias-spans", "mask-artifacts spans: without --debias, say why debias did not "
            "run"),
        _out("output HTML report"))),
}  # fmt: skip


def _int_type(flag: str, minimum: int | None) -> Any:
    def parse(value: str) -> int:
        try:
            v = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{value!r} is not an integer") from None
        problem = _bounds_message(None, v, lo=minimum)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return v

    return parse


def add_arg(parser: argparse.ArgumentParser, a: Arg) -> None:
    """Add one command-line-only argument to a subcommand's parser."""
    if a.kind == "flag":
        parser.add_argument(a.flag, action="store_true", help=a.help)
    elif a.kind == "bool":
        parser.add_argument(a.flag, action=argparse.BooleanOptionalAction, default=a.default,
                            help=a.help)  # fmt: skip
    else:
        types = {
            "str": str,
            "int": _int_type(a.flag, a.minimum),
            "float": float,
            "strlist": lambda v: [s.strip() for s in v.split(",") if s.strip()],
        }
        kwargs: dict[str, Any] = {"type": types[a.kind], "help": a.help}
        if a.required:
            kwargs["required"] = True
        else:
            kwargs["default"] = a.default
        if a.nargs:
            kwargs["nargs"] = a.nargs
            if a.nargs in ("*", "+"):
                # A repeated flag adds to the list: with argparse's default "store" the
                # last one silently replaced the others (two --teacher-of, one kept).
                kwargs["action"] = "extend"
        parser.add_argument(a.flag, **kwargs)


# --------------------------------------------------------------------------------------
# Generated files: schema, config.yaml, README key tables
# --------------------------------------------------------------------------------------


def _schema_leaf(o: Option) -> dict[str, Any]:
    types = {"int": "integer", "float": "number", "str": "string", "bool": "boolean",
             "json": "object"}  # fmt: skip
    if o.kind == "strlist":
        node: dict[str, Any] = {"type": "array", "items": {"type": "string"}}
        if o.choices:
            node["items"]["enum"] = list(o.choices)
        if o.min_items:
            node["minItems"] = o.min_items
    else:
        t: Any = ["integer", "string"] if o.kind == "int|str" else types[o.kind]
        if o.nullable:
            t = [t, "null"]
        node = {"type": t}
        if o.choices:
            node["enum"] = list(o.choices)
        if o.minimum is not None:
            node["minimum"] = o.minimum
        if o.exclusive_minimum is not None:
            node["exclusiveMinimum"] = o.exclusive_minimum
        if o.maximum is not None:
            node["maximum"] = o.maximum
        if o.min_length is not None:
            node["minLength"] = o.min_length
    default = o.default
    if o.kind == "int|str" and isinstance(default, str) and default.isdigit():
        default = int(default)
    node["default"] = default
    node["description"] = o.help
    return node


def schema() -> dict[str, Any]:
    """The workflow's JSON schema (``workflow/schemas/config.schema.yaml``)."""

    def build(cls: type) -> dict[str, Any]:
        hints = typing.get_type_hints(cls)
        props: dict[str, Any] = {}
        opts = {o.name: o for o in iter_options(cls) if "." not in o.path}
        for f in dataclasses.fields(cls):
            if _is_section(hints[f.name]):
                props[f.name] = {"type": "object", **build(hints[f.name]), "default": {}}
            else:
                props[f.name] = _schema_leaf(opts[f.name])
        return {"properties": props}

    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "description": "seqlantern workflow configuration (generated by `python -m "
            "seqlantern.options --write` from src/seqlantern/options.py; see "
            "config/README.md)", "type": "object", **build(Config),
            "required": list(REQUIRED)}  # fmt: skip


def _yaml_scalar(v: Any) -> str:
    import yaml  # only the generator needs it (the workflow and CLI do not)

    text = yaml.safe_dump(v, default_flow_style=True, width=1000, allow_unicode=True)
    return text.removesuffix("\n...\n").strip()


_GENERATED = "generated by `python -m seqlantern.options --write` from src/seqlantern/options.py"


def config_yaml() -> str:
    """``config/config.yaml``: every key with its default and help line."""
    lines = ["# seqlantern configuration: every key, its default and what it does",
             f"# ({_GENERATED}; config/README.md explains each key).",
             "# Default: the bundled demo (simulated library, generated by the workflow "
             "itself).", "# Run other data with `snakemake --configfile my.yaml`, where "
             "my.yaml sets only the keys that differ."]  # fmt: skip

    def emit(cls: type, indent: str) -> None:
        hints = typing.get_type_hints(cls)
        opts = {o.name: o for o in iter_options(cls) if "." not in o.path}
        for f in dataclasses.fields(cls):
            if _is_section(hints[f.name]):
                if not indent:
                    lines.append("")
                lines.append(f"{indent}{f.name}:")
                emit(hints[f.name], indent + "  ")
                continue
            o = opts[f.name]
            value = o.default
            if o.kind == "int|str" and isinstance(value, str) and value.isdigit():
                value = int(value)
            lines.append(f"{indent}{f.name}: {_yaml_scalar(value)}  # {o.help}")

    emit(Config, "")
    return "\n".join(lines) + "\n"


def _md(v: Any) -> str:
    if v is None:
        return "`null`"
    if isinstance(v, bool):
        return f"`{str(v).lower()}`"
    if isinstance(v, str):
        return f"`{v}`" if v else '`""`'
    if isinstance(v, list):
        return "`[" + ", ".join(map(str, v)) + "]`"
    if isinstance(v, dict):
        return "`{}`" if not v else f"`{json.dumps(v)}`"
    return f"`{v}`"


def readme_table(prefix: str) -> str:
    """The key table of one config section (``""``: the top-level keys)."""
    rows = ["| key | default | flag | meaning |", "|---|---|---|---|"]
    for o in iter_options():
        if prefix:
            if not o.path.startswith(prefix + "."):
                continue
            key = o.path[len(prefix) + 1 :]
        else:
            if "." in o.path:
                continue
            key = o.path
        flag = f"`{o.flag}`" if o.commands else ""
        default = o.default
        if o.kind == "int|str" and isinstance(default, str) and default.isdigit():
            default = int(default)
        meaning = re.sub(r"(?<!\\)\|", r"\\|", o.doc)
        rows.append(f"| `{key}` | {_md(default)} | {flag} | {meaning} |")
    return "\n".join(rows)


def readme(text: str) -> str:
    """``config/README.md`` with every ``<!-- options:SECTION -->`` table regenerated."""
    out, pos = [], 0
    start_tag, end_tag = "<!-- options:", "<!-- /options -->"
    while (i := text.find(start_tag, pos)) >= 0:
        j = text.index("-->", i) + 3
        name = text[i + len(start_tag) : j - 3].strip()
        k = text.index(end_tag, j)
        out.append(text[pos:j] + "\n" + readme_table("" if name == "top" else name) + "\n")
        pos = k
    out.append(text[pos:])
    return "".join(out)


def generated_files(root: Path) -> dict[Path, str]:
    """Every generated file under the repository ``root`` and its content."""
    import yaml  # only the generator needs it (the workflow and CLI do not)

    class _Dumper(yaml.SafeDumper):
        pass

    def _flow_leaves(dumper: Any, data: dict[str, Any]) -> Any:
        # one line per option; sections and property lists in block style
        leaf = not data or ("type" in data and "properties" not in data)
        return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=leaf)

    _Dumper.add_representer(dict, _flow_leaves)
    schema_text = (f"# {_GENERATED}\n"
                   + yaml.dump(schema(), Dumper=_Dumper, sort_keys=False, width=1000,
                               allow_unicode=True))  # fmt: skip
    readme_path = root / "config" / "README.md"
    return {
        root / "workflow" / "schemas" / "config.schema.yaml": schema_text,
        root / "config" / "config.yaml": config_yaml(),
        readme_path: readme(readme_path.read_text()),
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m seqlantern.options [--write | --check] [--root DIR]``."""
    p = argparse.ArgumentParser(prog="python -m seqlantern.options",
                                description=__doc__.splitlines()[0])  # fmt: skip
    p.add_argument("--write", action="store_true", help="rewrite the generated files")
    p.add_argument("--root", default=".", help="repository root")
    a = p.parse_args(argv)
    stale = []
    for path, text in generated_files(Path(a.root)).items():
        if path.read_text() != text:
            stale.append(path)
            if a.write:
                path.write_text(text)
    verb = "rewrote" if a.write else "out of date (run python -m seqlantern.options --write)"
    for path in stale:
        print(f"{path}: {verb}", file=sys.stderr)
    return 0 if a.write or not stale else 1


if __name__ == "__main__":
    raise SystemExit(main())
