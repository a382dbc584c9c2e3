import json
import re
import sys
from pathlib import Path
import yaml
import shlex

from snakemake.utils import validate


def _strict_config():
    """Unknown keys and schema errors: one line each, naming the file and key path."""
    try:
        from seqlantern.configcheck import check_config
    except ImportError:  # seqlantern not in this interpreter: Snakemake's own check only
        return
    cli = [str(f) for f in workflow.config_settings.configfiles]
    files = [str(f) for f in workflow.configfiles if str(f) not in cli] + cli
    schema = Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml"
    problems = check_config(config, schema, files=files)
    if problems:
        sys.exit("\n".join(problems))


_strict_config()
validate(config, schema="../schemas/config.schema.yaml")


def _load_options():
    """seqlantern's option definitions (src/seqlantern/options.py, standard library only),
    loaded by path: Snakemake's own interpreter need not have seqlantern installed."""
    import importlib.util

    path = Path(workflow.basedir) / "src" / "seqlantern" / "options.py"
    spec = importlib.util.spec_from_file_location("_seqlantern_options", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses resolve their annotations through it
    spec.loader.exec_module(mod)
    return mod


OPTIONS = _load_options()


def options(command):
    """Every option of `seqlantern <command>` that a rule does not pass itself, as flags
    with this run's values (one definition per option: src/seqlantern/options.py)."""
    return OPTIONS.cli_args(config, command)

ENV = "../envs/seqlantern.yaml"
DEMO = bool(config["demo"]["enabled"])
TILING = (not DEMO) and int(config["data"]["tiling"]["window"]) > 0
GENOMIC = (not DEMO) and (bool(config["data"].get("bed")) or TILING)
LOAD_MODEL = bool(config["model"].get("checkpoint") or config["model"].get("import_path"))
HAS_TRUTH = DEMO or bool(config["data"].get("truth"))
GPU = 1 if config["device"] == "cuda" else 0
GPU_MODEL = config.get("gpu_model", "") if GPU else ""
DEBIAS = (not LOAD_MODEL) and bool(config["debias"]["enabled"])
# a model you bring is scored against the measured targets when the data has them
SCORE_MODEL = LOAD_MODEL and (DEMO or (not TILING and bool(config["data"].get("targets"))))


def _check_tiling():
    """Tiles have no targets: they are attributed with a model trained elsewhere."""
    if not TILING:
        return
    window = int(config["data"]["tiling"]["window"])
    if not LOAD_MODEL:
        sys.exit(
            "config: data.tiling: tiles have no targets to train on; set model.checkpoint "
            "(e.g. results/train/model.json of a trained run) or model.import_path"
        )
    if not config["data"].get("genome"):
        sys.exit("config: data.tiling needs data.genome (the genome FASTA to tile)")
    if config["encode"]["length"] not in (None, window):
        sys.exit(
            f"config: data.tiling.window ({window}) differs from encode.length "
            f"({config['encode']['length']}); set encode.length to the window the model takes"
        )


_check_tiling()

SEGMENT = bool(config["segment"]["enabled"])


def _check_segment():
    """Segmentation explains a class: a regression model needs a threshold."""
    if SEGMENT and config["train"]["task"] != "binary" and config["segment"]["threshold"] is None:
        sys.exit(
            "config: segment.enabled with train.task regression needs segment.threshold "
            "(the prediction above which a sequence counts as positive)"
        )


_check_segment()


def _apply_taxon():
    """annotate.taxon picks the shipped JASPAR collection (motifs + families/clusters).

    Without a taxon, a families table left at its default follows the motif file: a
    ``<stem>.families.tsv`` beside it is used (fungi motifs get fungi families and
    clusters, not the vertebrate table's)."""
    taxon = config["annotate"].get("taxon", "")
    default_fam = "resources/motifs/JASPAR2026_CORE_vertebrates.families.tsv"
    if not taxon:
        motifs = Path(config["annotate"]["motifs"])
        beside = motifs.with_name(f"{motifs.stem}.families.tsv")
        fam = config["annotate"].get("families") or ""
        if Path(fam).name == Path(default_fam).name and beside.is_file() and beside != Path(fam):
            config["annotate"]["families"] = str(beside)
        return
    default = "resources/motifs/JASPAR2026_CORE_vertebrates.meme"
    mine = f"resources/motifs/JASPAR2026_CORE_{taxon}.meme"
    if config["annotate"]["motifs"] not in (default, mine):
        sys.exit(
            f"config: annotate.taxon ({taxon}) and annotate.motifs "
            f"({config['annotate']['motifs']}) both choose the motif database; "
            "set only one of them"
        )
    config["annotate"]["motifs"] = mine
    config["annotate"]["families"] = f"resources/motifs/JASPAR2026_CORE_{taxon}.families.tsv"


_apply_taxon()

# Where a run writes: results_dir (default "results"); with another value, the run's
# logs and benchmarks go inside it too, so one folder holds the whole run and an
# example never overwrites the demo.
RESULTS = Path(str(config.get("results_dir", "results"))).as_posix()
LOGS = "logs" if RESULTS == "results" else f"{RESULTS}/logs"
BENCHMARKS = "benchmarks" if RESULTS == "results" else f"{RESULTS}/benchmarks"


BROWSER_BEDS = (
    "candidates.browser.bed",
    "artifacts.browser.bed",
    "all_elements.browser.bed",
)


TRACKS = bool(config["tracks"]["enabled"])
PATTERNS = bool(config["patterns"]["enabled"])
HYPOTHETICAL_TRACKS = (
    [f"{RESULTS}/tracks/hypothetical_{b}.bw" for b in "ACGT"]
    if TRACKS and config["tracks"]["hypothetical"]
    else []
)


def R(path):
    """A path under the run's results folder (``results_dir``)."""
    return f"{RESULTS}/{path}"


# Shared stages (demo/, encode/, train/): the same folder unless shared_dir is set; with
# attribution.target: all every target's sub-run reads the parent run's (Snakefile).
SHARED = Path(str(config.get("shared_dir") or RESULTS)).as_posix()


def S(path):
    """A path under the folder of the shared stages (``shared_dir``, else ``results_dir``):
    the demo data, the encoded inputs and the trained model."""
    return f"{SHARED}/{path}"


SPECIES = list(config["annotate"].get("species") or [])
if SPECIES and not config["annotate"].get("families"):
    sys.exit("config: annotate.species needs annotate.families (a table with a species "
             "column, e.g. the shipped JASPAR tables); set it or leave species empty")


def motif_db():
    """The motif file that motif matching reads (annotate.motifs; with annotate.species,
    the motifs of those species, written by select_motifs)."""
    return R("annotate/motifs.meme") if SPECIES else config["annotate"]["motifs"]


# attribution.target: all -> this run encodes and trains once; every target gets its own
# sub-run (the same workflow as a Snakemake module) in <results_dir>/targets/<target>/.
PER_TARGET = str(config["attribution"]["target"]) == "all"


def _all_targets():
    """The targets of attribution.target: all: train.targets, or the names of a model
    the user brings (model.targets, else the names in its seqlantern checkpoint)."""
    m = config["model"]
    if not LOAD_MODEL:
        names = list(config["train"]["targets"])
    elif m.get("targets"):
        names = list(m["targets"])
    elif m.get("checkpoint") and Path(m["checkpoint"]).is_file():
        try:
            names = list(json.loads(Path(m["checkpoint"]).read_text()).get("targets") or [])
        except (OSError, ValueError):
            names = []
    else:
        names = []
    if not names:
        sys.exit(
            "config attribution.target: all needs the names of the model's outputs; "
            "set model.targets (one name per output)"
        )
    bad = [t for t in names if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", str(t))]
    if bad:
        sys.exit(
            f"config attribution.target: all: target name {bad[0]!r} cannot name a folder "
            "(use letters, digits, '_', '.', '-'); rename it in train.targets/model.targets"
        )
    if bool(config["compare_training"]["enabled"]):
        sys.exit(
            "config compare_training.enabled: not available with attribution.target: all; "
            "compare training variants for one target (attribution.target: <name>)"
        )
    return [str(t) for t in names]


ALL_TARGETS = _all_targets() if PER_TARGET else []
if PER_TARGET and DEBIAS:
    print(
        "seqlantern: attribution.target: all: debias is not run (single-target runs only); "
        f"targets: {', '.join(ALL_TARGETS)}",
        file=sys.stderr,
    )


def target_config(target):
    """The config of one target's sub-run: this run's, with that target attributed,
    written under targets/<target>/ and reading demo/, encode/ and train/ from here.
    Debias (a checkpoint rule and a retraining) is left to single-target runs; the
    parse-time notice and each target's report say so."""
    import copy

    c = copy.deepcopy(config)
    c["attribution"]["target"] = target
    c["results_dir"] = R(f"targets/{target}")
    c["shared_dir"] = SHARED
    c["debias"]["enabled"] = False
    return c


def target_rule_prefix(target):
    """Rule-name prefix of a target's sub-run (``target_Dev_annotate_seqlets``)."""
    safe = re.sub(r"\W", "_", target)
    return f"target_{safe}_"


def L(path):
    """A rule's log path (``logs/<rule>/...``, inside ``results_dir`` when it is set)."""
    return f"{LOGS}/{path}"


def B(path):
    """A rule's benchmark path (``benchmarks/<rule>/...``, likewise)."""
    return f"{BENCHMARKS}/{path}"


def q(value):
    """Shell-quote one value for a command line."""
    return shlex.quote(str(value))


def csv(values):
    """Comma-join a list for CLI options that take one."""
    return ",".join(str(v) for v in values)


def fasta_input():
    return S("demo/sequences.fa") if DEMO else config["data"]["fasta"]


def targets_input():
    return S("demo/targets.tsv") if DEMO else config["data"]["targets"]


def truth_input():
    return S("demo/truth.tsv") if DEMO else config["data"]["truth"]


def encode_inputs(wildcards):
    out = {"fasta": fasta_input()}
    if GENOMIC:
        out = {"genome": config["data"]["genome"]}
        if config["data"].get("bed"):
            out["bed"] = config["data"]["bed"]
    if config["split"]["file"]:
        out["split"] = config["split"]["file"]
    return out


def encode_source():
    src = f"--fasta {q(fasta_input())}"
    if GENOMIC:
        src = f"--genome {q(config['data']['genome'])}"
        if config["data"].get("bed"):
            src += f" --bed {q(config['data']['bed'])}"
    return src


def feedback_input():
    """The expert feedback BED of train.feedback.bed (a rule input when set)."""
    bed = config["train"]["feedback"]["bed"]
    return [bed] if bed else []


def model_inputs(wildcards):
    m = config["model"]
    if m.get("import_path"):
        return {"weights": m["weights"]}
    if m.get("checkpoint"):
        return {"model": m["checkpoint"]}
    return {"model": S("train/model.json")}


def model_args():
    m = config["model"]
    if m.get("import_path"):
        args = (
            f"--import-path {q(m['import_path'])} --weights {q(m['weights'])} "
            f"--model-kwargs {q(json.dumps(m.get('kwargs', {})))}"
        )
        if m.get("targets"):
            args += f" --model-targets {q(csv(m['targets']))}"
        if m.get("output"):
            args += f" --model-output {q(json.dumps(m['output'], sort_keys=True))}"
        return args
    return f"--model {q(m.get('checkpoint') or S('train/model.json'))}"


def attribution_selection():
    s = str(config["attribution"]["sequences"])
    if s in ("all", "train", "valid", "test"):
        return f"--which {s}"
    return f"--names-file {q(s)}"


SHUFFLED = config["seqlets"]["null_model"] == "shuffled"
SHARDS = int(config["shards"])
SHARD_IDS = [str(s) for s in range(SHARDS)]


wildcard_constraints:
    shard=r"\d+",


def shard_files(pattern):
    """One path per shard, in shard order (the gather rules' inputs)."""
    return expand(pattern, shard=SHARD_IDS)


def seqlet_inputs(wildcards):
    if SHUFFLED:
        return {"controls": R(f"attribute/shards/{wildcards.shard}/controls.npy")}
    return {}


def seqlet_outputs():
    out = {"candidates": R("seqlets/shards/{shard}/candidates.tsv")}
    if SHUFFLED:
        out["strengths"] = R("seqlets/shards/{shard}/control_strengths.npy")
    return out


def seqlet_control_args(wildcards, input, output):
    if SHUFFLED:
        return f"--control-attributions {q(input.controls)} --control-out {q(output.strengths)}"
    return ""


def merge_seqlet_inputs(wildcards):
    out = {"candidates": shard_files(R("seqlets/shards/{shard}/candidates.tsv"))}
    if SHUFFLED:
        out["strengths"] = shard_files(R("seqlets/shards/{shard}/control_strengths.npy"))
    return out


def merge_seqlet_args(wildcards, input):
    if SHUFFLED:
        return f"--control-strengths {' '.join(q(p) for p in input.strengths)}"
    return ""


def report_inputs(wildcards):
    out = {
        "elements": R("shortcuts/elements.tsv"),
        "groups": R("shortcuts/groups.tsv"),
        "dataset": R("shortcuts/dataset.tsv"),
        "index": S("encode/index.tsv"),
        "onehot": S("encode/onehot.npy"),
        "attributions": R("attribute/attributions.npy"),
        "predictions": R("attribute/predictions.tsv"),
        "motifs": motif_db(),
        "calibration": R("seqlets/calibration.tsv"),
        "artifacts": config["annotate"]["artifacts"],
        "constant": R("annotate/constant.tsv"),
        "constant_reliance": R("shortcuts/constant.tsv"),
        # linked from the report's "Output files" section
        "links": [
            R("export/candidates.bed"),
            R("export/artifacts.bed"),
            R("export/all_elements.bed"),
            *[R(f"export/{b}") for b in BROWSER_BEDS],
            R("shortcuts/elements.tsv"),
            R("shortcuts/groups.tsv"),
            *([R("tracks/attribution.bw"), R("tracks/elements.bb")] if TRACKS else []),
        ],
    }
    if not LOAD_MODEL:
        out["metrics"] = S("train/metrics.tsv")
        out["curve"] = S("train/learning_curve.png")
    elif SCORE_MODEL:
        out["metrics"] = S("score/metrics.tsv")
    if HAS_TRUTH:
        out["evaluation"] = R("evaluate/evaluation.tsv")
    if COMPARE_TRAINING:
        out["training_comparison"] = R("variants/comparison.tsv")
    if PATTERNS:
        out["patterns"] = R("patterns/patterns.tsv")
        out["pattern_matrices"] = R("patterns/pattern_matrices.tsv")
        out["pattern_members"] = R("patterns/pattern_members.tsv")
        out["links"] += [R("patterns/patterns.meme"), R("patterns/patterns.tsv"),
                         R("patterns/pattern_members.tsv")]
    if DEBIAS:
        out["debias_spans"] = R("debias/artifact_spans.tsv")
    if config["diagnostics"]["enabled"]:
        out["methods"] = R("methods/comparison.tsv")
        out["curves"] = R("methods/faithfulness_curves.tsv")
        out["erf"] = R("methods/erf.tsv")
        out["erf_profile"] = R("methods/erf_profile.tsv")
        out["erf_growth"] = R("methods/erf_growth.tsv")
        out["erf_growth_fit"] = R("methods/erf_growth_fit.tsv")
    return out


def report_debias_input(wildcards):
    """The debias comparison when the retraining runs (read after the checkpoint). A
    separate input function: until the checkpoint has run, Snakemake replaces only this
    input by a placeholder, so the report's other inputs stay known (`snakemake -n -p`)."""
    if DEBIAS and debias_retrains():
        return R("debias/comparison.tsv")
    return []


def report_optional(input):
    args = ""
    for key in ("metrics", "curve", "evaluation", "debias", "methods", "curves", "erf",
                "erf_profile", "constant_reliance", "debias_spans", "erf_growth",
                "erf_growth_fit", "patterns", "pattern_matrices", "pattern_members",
                "training_comparison"):
        value = input[key] if key in input.keys() else None
        if value:  # an empty list: the input function chose no file
            args += f" --{key.replace('_', '-')} {q(value)}"
    return args


def tracks_inputs(wildcards):
    """The tracks' inputs: gathered maps, encoding, all elements (and the genome, the
    hypothetical shards when those tracks are asked for)."""
    out = {
        "attributions": R("attribute/attributions.npy"),
        "predictions": R("attribute/predictions.tsv"),
        "onehot": S("encode/onehot.npy"),
        "index": S("encode/index.tsv"),
        "elements_bed": R("export/all_elements.bed"),
    }
    if GENOMIC:
        out["genome"] = config["data"]["genome"]
    if HYPOTHETICAL_TRACKS:
        out["hypothetical"] = shard_files(R("attribute/shards/{shard}/hypothetical.npy"))
    return out


CT = config["compare_training"]
COMPARE_TRAINING = bool(CT["enabled"]) and not LOAD_MODEL
TRAIN_VARIANTS = [v for v in CT["variants"] if v != "distill"] if COMPARE_TRAINING else []
DISTILL = COMPARE_TRAINING and "distill" in CT["variants"]
TEACHERS = list(CT["teachers"]) if DISTILL else []
for _t in TEACHERS:
    if _t != "plain" and _t not in TRAIN_VARIANTS:
        sys.exit(
            f"config compare_training.teachers: {_t!r} is not trained in this run; "
            f"add it to compare_training.variants or use one of "
            f"{', '.join(['plain', *TRAIN_VARIANTS])}"
        )
STUDENTS = [f"distill_{t}" for t in TEACHERS]


def teacher_model(wildcards):
    """The checkpoint a student learns from: the plain model or a trained variant."""
    t = wildcards.teacher
    return S("train/model.json") if t == "plain" else R(f"variants/{t}/model.json")
FEEDBACK_FROM_ELEMENTS = "feedback" in TRAIN_VARIANTS and not CT["feedback_bed"]


def variant_feedback_bed():
    """The feedback variant's BED: compare_training.feedback_bed, or the run's artifact
    elements as M- regions."""
    return CT["feedback_bed"] or R("variants/feedback.bed")


def variant_feedback_input(wildcards):
    return [variant_feedback_bed()] if wildcards.variant == "feedback" else []


def variant_args(wildcards, input):
    """The variant's own option, after the run's train options (the last flag wins)."""
    v = wildcards.variant
    if v in ("salient_mask", "random_mask"):
        mode = "salient" if v == "salient_mask" else "random"
        return f"--salient-mask-probability {CT['mask_probability']} --salient-mask-mode {mode}"
    if v == "consistency":
        return f"--consistency-weight {CT['consistency_weight']} --consistency-transforms rc,shift"
    if v == "feedback":
        return f"--feedback-bed {q(variant_feedback_bed())}"
    return ""


def compare_training_inputs(wildcards):
    out = {"plain": S("train/model.json")}
    for v in TRAIN_VARIANTS:
        out[v] = R(f"variants/{v}/model.json")
    for t, student in zip(TEACHERS, STUDENTS):
        out[student] = R(f"variants/{student}/model.json")
    if "feedback" in TRAIN_VARIANTS:
        out["feedback_bed"] = variant_feedback_bed()
    if HAS_TRUTH:
        out["truth"] = truth_input()
    return out


def compare_training_variants(wildcards, input):
    names = ["plain", *TRAIN_VARIANTS, *STUDENTS]
    return " ".join(q(f"{n}={input[n]}") for n in names)


def compare_training_extra(wildcards, input):
    args = " ".join(f"--teacher-of {s}={t}" for t, s in zip(TEACHERS, STUDENTS))
    if "truth" in input.keys():
        args += f" --truth {q(input.truth)}"
    if "feedback_bed" in input.keys():
        args += f" --feedback-bed {q(input.feedback_bed)}"
    return args


def all_outputs():
    out = [
        R("report/report.html"),
        R("export/candidates.bed"),
        R("export/artifacts.bed"),
        R("export/all_elements.bed"),
    ]
    if HAS_TRUTH:
        out.append(R("evaluate/evaluation.tsv"))
    if TRACKS:
        out += [R("tracks/attribution.bw"), R("tracks/elements.bb"), *HYPOTHETICAL_TRACKS]
    if PATTERNS:
        out.append(R("patterns/patterns.tsv"))
    if COMPARE_TRAINING:
        out.append(R("variants/comparison.tsv"))
    if SEGMENT:
        out.append(R("segment/segments.tsv"))
    return out


def attribution_target_column():
    """Name of the attributed target column (attribution.target by name or index)."""
    t = config["attribution"]["target"]
    names = config["train"]["targets"]
    return names[int(t)] if str(t).isdigit() else str(t)


def debias_retrains():
    """Whether the debias retraining runs: at least debias.min_share of the inputs carry
    an adapter/primer/vector span (read after the mask_artifacts checkpoint). Below that
    the retrained model differs from the original by chance alone."""
    spans = checkpoints.mask_artifacts.get().output.spans
    with open(spans) as fh:
        rows = {line.split("\t", 1)[0] for line in list(fh)[1:] if line.strip()}
    with open(S("encode/index.tsv")) as fh:
        n = sum(1 for line in fh) - 1
    return len(rows) >= config["debias"]["min_share"] * max(n, 1) and len(rows) > 0


def debias_training_input():
    """Training inputs of the debiased model: neutralised, or the originals (penalty)."""
    if config["debias"]["method"] == "penalty":
        return S("encode/onehot.npy")
    return R("debias/onehot.npy")


def debias_penalty_args(wildcards, input):
    method = config["debias"]["method"]
    if method == "neutralise":
        return ""
    args = f"--penalty-spans {q(input.spans)}"
    if method == "both":
        args += f" --penalty-onehot {q(input.original)}"
    return args


def families_arg():
    """--families for the rules that name TF families (optional file)."""
    f = config["annotate"].get("families")
    return f"--families {q(f)}" if f else ""
