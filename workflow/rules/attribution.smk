# Attribution, shuffled controls and seqlet calls run once per shard ({shard} in
# 0..shards-1); gather rules combine only what needs every sequence (common.smk: SHARD_IDS).
rule attribute_sequences:
    input:
        unpack(model_inputs),
        onehot=S("encode/onehot.npy"),
        index=S("encode/index.tsv"),
    output:
        attributions=R("attribute/shards/{shard}/attributions.npy"),
        hypothetical=R("attribute/shards/{shard}/hypothetical.npy"),
        predictions=R("attribute/shards/{shard}/predictions.tsv"),
    params:
        model=model_args(),
        selection=attribution_selection(),
        options=options("attribute"),
        extra=lambda wildcards, output: (
            f"--shards {SHARDS} --shard {wildcards.shard} --hypothetical {output.hypothetical}"
        ),
    threads: config["threads"]
    log:
        L("attribute_sequences/{shard}.log"),
    benchmark:
        B("attribute_sequences/{shard}.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
        gpu_model=GPU_MODEL,
    conda:
        ENV
    shell:
        "seqlantern attribute --onehot {input.onehot} --index {input.index} {params.model}"
        " {params.selection} {params.options} {params.extra} --threads {threads}"
        " --out {output.attributions} --predictions {output.predictions} > {log} 2>&1"


# the same attribution on dinucleotide-shuffled copies (the shuffled null's controls)
use rule attribute_sequences as attribute_controls with:
    output:
        attributions=R("attribute/shards/{shard}/controls.npy"),
        predictions=R("attribute/shards/{shard}/controls.tsv"),
    params:
        model=model_args(),
        selection=attribution_selection(),
        options=options("attribute"),
        extra=lambda wildcards: (
            f"--shards {SHARDS} --shard {wildcards.shard}"
            f" --shuffles {config['seqlets']['shuffles']}"
        ),
    log:
        L("attribute_controls/{shard}.log"),
    benchmark:
        B("attribute_controls/{shard}.tsv")


rule gather_attributions:
    input:
        attributions=shard_files(R("attribute/shards/{shard}/attributions.npy")),
        predictions=shard_files(R("attribute/shards/{shard}/predictions.tsv")),
    output:
        attributions=R("attribute/attributions.npy"),
        predictions=R("attribute/predictions.tsv"),
    threads: 1
    log:
        L("gather_attributions/gather_attributions.log"),
    benchmark:
        B("gather_attributions/gather_attributions.tsv")
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern gather-attributions --attributions {input.attributions}"
        " --predictions {input.predictions} --out {output.attributions}"
        " --out-predictions {output.predictions} > {log} 2>&1"


rule fit_seqlet_null:
    input:
        attributions=shard_files(R("attribute/shards/{shard}/attributions.npy")),
    output:
        null=R("seqlets/null.tsv"),
    params:
        options=options("fit-null"),
    threads: 1
    log:
        L("fit_seqlet_null/fit_seqlet_null.log"),
    benchmark:
        B("fit_seqlet_null/fit_seqlet_null.tsv")
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern fit-null --attributions {input.attributions} {params.options}"
        " --out {output.null} > {log} 2>&1"


rule call_seqlets:
    input:
        unpack(seqlet_inputs),
        attributions=R("attribute/shards/{shard}/attributions.npy"),
        predictions=R("attribute/shards/{shard}/predictions.tsv"),
        null=R("seqlets/null.tsv"),
    output:
        **seqlet_outputs(),
    params:
        options=options("call-seqlets"),
        controls=seqlet_control_args,
    threads: config["threads"]
    log:
        L("call_seqlets/{shard}.log"),
    benchmark:
        B("call_seqlets/{shard}.tsv")
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern call-seqlets --attributions {input.attributions}"
        " --predictions {input.predictions} {params.options} --null-file {input.null}"
        " {params.controls} --out {output.candidates} > {log} 2>&1"


rule merge_seqlets:
    input:
        unpack(merge_seqlet_inputs),
    output:
        seqlets=R("seqlets/seqlets.tsv"),
        calibration=R("seqlets/calibration.tsv"),
    params:
        options=options("merge-seqlets"),
        controls=merge_seqlet_args,
    threads: 1
    log:
        L("merge_seqlets/merge_seqlets.log"),
    benchmark:
        B("merge_seqlets/merge_seqlets.tsv")
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern merge-seqlets --candidates {input.candidates} {params.options}"
        " {params.controls}"
        " --out {output.seqlets} --calibration {output.calibration} > {log} 2>&1"


if config["diagnostics"]["enabled"]:

    rule compare_methods:
        input:
            unpack(model_inputs),
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            # not read: a side diagnostic runs after the core stages (their BEDs and
            # tables are written first; on 2 cores it would otherwise hold both)
            after_core=R("export/all_elements.bed"),
        output:
            table=report(
                R("methods/comparison.tsv"),
                caption="../report/methods.rst",
                category="Diagnostics",
            ),
            curves=R("methods/faithfulness_curves.tsv"),
            erf=R("methods/erf.tsv"),
            erf_profile=R("methods/erf_profile.tsv"),
        params:
            model=model_args(),
            options=options("compare-methods"),
        threads: config["threads"]
        log:
            L("compare_methods/compare_methods.log"),
        benchmark:
            B("compare_methods/compare_methods.tsv")
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern compare-methods --onehot {input.onehot} --index {input.index}"
            " {params.model} {params.options} --threads {threads}"
            " --out-table {output.table} --out-curves {output.curves} --out-erf {output.erf}"
            " --out-erf-profile {output.erf_profile} > {log} 2>&1"

    rule study_erf_growth:
        output:
            table=R("methods/erf_growth.tsv"),
            fit=report(
                R("methods/erf_growth_fit.tsv"),
                caption="../report/erf_growth.rst",
                category="Diagnostics",
            ),
        params:
            options=options("erf-growth"),
        threads: 1
        log:
            L("study_erf_growth/study_erf_growth.log"),
        benchmark:
            B("study_erf_growth/study_erf_growth.tsv")
        resources:
            mem_mb=2000,
            runtime=20,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern erf-growth {params.options} --threads {threads}"
            " --out {output.table} --out-fit {output.fit} > {log} 2>&1"


if SEGMENT:

    rule segment_sequences:
        input:
            unpack(model_inputs),
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
        output:
            segments=R("segment/segments.tsv"),
            evaluation=R("segment/evaluation.tsv") if HAS_TRUTH else [],
        params:
            model=model_args(),
            options=options("segment"),
            truth=f"--truth {q(truth_input())}" if HAS_TRUTH else "",
            evaluation=lambda wildcards, output: (
                f"--evaluation {output.evaluation}" if HAS_TRUTH else ""
            ),
            which=attribution_selection(),
        threads: config["threads"]
        log:
            L("segment_sequences/segment_sequences.log"),
        benchmark:
            B("segment_sequences/segment_sequences.tsv")
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=GPU,
        conda:
            ENV
        shell:
            "seqlantern segment {params.model} --onehot {input.onehot}"
            " --index {input.index} {params.which} {params.options} {params.truth}"
            " {params.evaluation} --threads {threads}"
            " --out {output.segments} > {log} 2>&1"
