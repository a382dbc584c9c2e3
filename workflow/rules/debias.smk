# Debiasing: neutralise artifact spans in every input, retrain, re-attribute, compare.
if DEBIAS:

    checkpoint mask_artifacts:
        input:
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            constant=R("annotate/constant.tsv"),
            artifacts=config["annotate"]["artifacts"],
        output:
            onehot=R("debias/onehot.npy"),
            spans=R("debias/artifact_spans.tsv"),
        params:
            options=options("mask-artifacts"),
        threads: 1
        log:
            L("mask_artifacts/mask_artifacts.log"),
        benchmark:
            B("mask_artifacts/mask_artifacts.tsv")
        resources:
            mem_mb=2000,
            runtime=30,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern mask-artifacts --onehot {input.onehot} --index {input.index}"
            " --artifacts {input.artifacts} --constant {input.constant} {params.options}"
            " --out-onehot {output.onehot}"
            " --out-spans {output.spans} > {log} 2>&1"

    # the same training as train_model, on the neutralised inputs, with the penalty
    use rule train_model as train_debiased with:
        input:
            onehot=debias_training_input(),
            index=S("encode/index.tsv"),
            targets=targets_input(),
            spans=R("debias/artifact_spans.tsv"),
            original=S("encode/onehot.npy"),
            feedback=feedback_input(),
        output:
            model=R("debias/model.json"),
            weights=R("debias/model.safetensors"),
            metrics=R("debias/metrics.tsv"),
            curve=R("debias/learning_curve.png"),
        params:
            options=options("train"),
            penalty=debias_penalty_args,
        log:
            L("train_debiased/train_debiased.log"),
        benchmark:
            B("train_debiased/train_debiased.tsv")

    # the same attribution as attribute_sequences, with the debiased model, unsharded
    use rule attribute_sequences as attribute_debiased with:
        input:
            model=R("debias/model.json"),
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
        output:
            attributions=R("debias/attributions.npy"),
            predictions=R("debias/predictions.tsv"),
        params:
            model=lambda wildcards, input: f"--model {q(input.model)}",
            selection=attribution_selection(),
            options=options("attribute"),
            extra="",
        log:
            L("attribute_debiased/attribute_debiased.log"),
        benchmark:
            B("attribute_debiased/attribute_debiased.tsv")

    rule compare_debias:
        input:
            spans=R("debias/artifact_spans.tsv"),
            index=S("encode/index.tsv"),
            before=R("attribute/attributions.npy"),
            predictions_before=R("attribute/predictions.tsv"),
            after=R("debias/attributions.npy"),
            predictions_after=R("debias/predictions.tsv"),
            targets=targets_input(),
            onehot=S("encode/onehot.npy"),
            model_before=S("train/model.json"),
            model_after=R("debias/model.json"),
        output:
            comparison=report(
                R("debias/comparison.tsv"),
                caption="../report/debias.rst",
                category="Diagnostics",
            ),
        params:
            column=q(attribution_target_column()),
            options=options("compare-debias"),
        threads: 1
        log:
            L("compare_debias/compare_debias.log"),
        benchmark:
            B("compare_debias/compare_debias.tsv")
        resources:
            mem_mb=2000,
            runtime=10,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern compare-debias --spans {input.spans} --index {input.index}"
            " --before {input.before} --predictions-before {input.predictions_before}"
            " --after {input.after} --predictions-after {input.predictions_after}"
            " --targets {input.targets} --column {params.column} --onehot {input.onehot}"
            " --model-before {input.model_before} --model-after {input.model_after}"
            " {params.options} --out {output.comparison} > {log} 2>&1"
