# Training with attributions (compare_training.enabled): each variant is the plain
# training with one attribution-guided option on, then everything is measured side by side.
if COMPARE_TRAINING:

    wildcard_constraints:
        variant="|".join(TRAIN_VARIANTS) or "none",
        teacher="|".join(TEACHERS) or "none",

    if FEEDBACK_FROM_ELEMENTS:

        rule make_feedback_bed:
            input:
                onehot=S("encode/onehot.npy"),
                index=S("encode/index.tsv"),
                constant=R("annotate/constant.tsv"),
                artifacts=config["annotate"]["artifacts"],
            output:
                bed=R("variants/feedback.bed"),
            threads: 1
            log:
                L("make_feedback_bed/make_feedback_bed.log"),
            benchmark:
                B("make_feedback_bed/make_feedback_bed.tsv")
            resources:
                mem_mb=2000,
                runtime=10,
                gpu=0,
            conda:
                ENV
            shell:
                "seqlantern feedback --onehot {input.onehot} --index {input.index}"
                " --artifacts {input.artifacts} --constant {input.constant}"
                " --out {output.bed} > {log} 2>&1"

    # the same training as train_model, with the variant's option on (its flags last)
    use rule train_model as train_variant with:
        input:
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            targets=targets_input(),
            feedback=variant_feedback_input,
        output:
            model=R("variants/{variant}/model.json"),
            weights=R("variants/{variant}/model.safetensors"),
            metrics=R("variants/{variant}/metrics.tsv"),
            curve=R("variants/{variant}/learning_curve.png"),
        params:
            options=options("train"),
            penalty=variant_args,
        log:
            L("train_variant/{variant}.log"),
        benchmark:
            B("train_variant/{variant}.tsv")

    rule distill_model:
        input:
            teacher=teacher_model,
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
        output:
            model=R("variants/distill_{teacher}/model.json"),
            weights=R("variants/distill_{teacher}/model.safetensors"),
            metrics=R("variants/distill_{teacher}/metrics.tsv"),
            curve=R("variants/distill_{teacher}/learning_curve.png"),
        params:
            options=options("distill"),
        threads: config["threads"]
        log:
            L("distill_model/{teacher}.log"),
        benchmark:
            B("distill_model/{teacher}.tsv")
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
        conda:
            ENV
        shell:
            "seqlantern distill --teacher {input.teacher} --onehot {input.onehot}"
            " --index {input.index} {params.options} --threads {threads}"
            " --out-model {output.model} --metrics {output.metrics} --curve {output.curve}"
            " > {log} 2>&1"

    rule compare_training:
        input:
            unpack(compare_training_inputs),
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            targets=targets_input(),
        output:
            table=report(
                R("variants/comparison.tsv"),
                caption="../report/training_variants.rst",
                category="Diagnostics",
            ),
        params:
            variants=compare_training_variants,
            column=q(attribution_target_column()),
            extra=compare_training_extra,
            options=options("compare-training"),
        threads: config["threads"]
        log:
            L("compare_training/compare_training.log"),
        benchmark:
            B("compare_training/compare_training.tsv")
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern compare-training --variant {params.variants} --onehot {input.onehot}"
            " --index {input.index} --targets {input.targets} --column {params.column}"
            " {params.extra} {params.options} --out {output.table} > {log} 2>&1"
