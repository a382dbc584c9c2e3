# seqlantern: which bases a DNA sequence model relies on, and whether that is biology.
# Entry point: `snakemake --cores 2` runs the bundled demo (config/config.yaml).
from snakemake.utils import min_version

min_version("8.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/attribution.smk"
include: "workflow/rules/annotation.smk"
include: "workflow/rules/debias.smk"
include: "workflow/rules/guidance.smk"
include: "workflow/rules/report.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
