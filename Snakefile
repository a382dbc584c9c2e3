# seqlantern: which bases a DNA sequence model relies on, and whether that is biology.
# Entry point: `snakemake --cores 2` runs the bundled demo (config/config.yaml).
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"


if PER_TARGET:
    # attribution.target: all: the inputs are encoded and the model trained once (above);
    # each target runs every later stage as its own sub-run of this same workflow, in
    # <results_dir>/targets/<target>/ (rules target_<name>_<rule>).
    for _target in ALL_TARGETS:

        module:
            name:
                _target
            snakefile:
                "Snakefile"
            config:
                target_config(_target)

        _prefix = target_rule_prefix(_target)

        use rule * from _target exclude simulate_demo, encode_sequences, train_model, score_model, all as _prefix*

    rule all:
        input:
            [] if LOAD_MODEL else S("train/model.json"),
            [S("score/metrics.tsv")] if SCORE_MODEL else [],
            [R(f"targets/{t}/report/report.html") for t in ALL_TARGETS],
            [R(f"targets/{t}/export/all_elements.bed") for t in ALL_TARGETS],
        default_target: True

else:

    include: "workflow/rules/attribution.smk"
    include: "workflow/rules/annotation.smk"
    include: "workflow/rules/debias.smk"
    include: "workflow/rules/guidance.smk"
    include: "workflow/rules/report.smk"

    rule all:
        input:
            all_outputs(),
        default_target: True
