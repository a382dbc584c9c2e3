# Debiasing: neutralise artifact spans in every input, retrain, re-attribute, compare.
if DEBIAS:

    checkpoint mask_artifacts:
        input:
            onehot=R("encode/onehot.npy"),
            index=R("encode/index.tsv"),
            constant=R("annotate/constant.tsv"),
            artifacts=config["annotate"]["artifacts"],
        output:
            onehot=R("debias/onehot.npy"),
            spans=R("debias/artifact_spans.tsv"),
        params:
            k=config["debias"]["k"],
            seed=config["seed"],
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
            " --artifacts {input.artifacts} --constant {input.constant} --k {params.k}"
            " --seed {params.seed} --out-onehot {output.onehot}"
            " --out-spans {output.spans} > {log} 2>&1"

    rule train_debiased:
        input:
            onehot=debias_training_input(),
            index=R("encode/index.tsv"),
            targets=targets_input(),
            spans=R("debias/artifact_spans.tsv"),
            original=R("encode/onehot.npy"),
        output:
            model=R("debias/model.json"),
            weights=R("debias/model.safetensors"),
            metrics=R("debias/metrics.tsv"),
            curve=R("debias/learning_curve.png"),
        params:
            train=train_args(),
            penalty=debias_penalty_args,
        threads: config["threads"]
        log:
            L("train_debiased/train_debiased.log"),
        benchmark:
            B("train_debiased/train_debiased.tsv")
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
            gpu_model=GPU_MODEL,
        conda:
            ENV
        shell:
            "seqlantern train --onehot {input.onehot} --index {input.index}"
            " --targets {input.targets} {params.train} {params.penalty}"
            " --threads {threads}"
            " --out-model {output.model} --metrics {output.metrics}"
            " --curve {output.curve} > {log} 2>&1"

    rule attribute_debiased:
        input:
            model=R("debias/model.json"),
            onehot=R("encode/onehot.npy"),
            index=R("encode/index.tsv"),
        output:
            attributions=R("debias/attributions.npy"),
            predictions=R("debias/predictions.tsv"),
        params:
            selection=attribution_selection(),
            target=q(config["attribution"]["target"]),
            output=config["attribution"]["output"],
            correction=(
                "" if config["attribution"]["gradient_correction"] else "--no-correction"
            ),
            batch_size=config["attribution"]["batch_size"],
            method=method_args(),
            device=config["device"],
            seed=config["seed"],
        threads: config["threads"]
        log:
            L("attribute_debiased/attribute_debiased.log"),
        benchmark:
            B("attribute_debiased/attribute_debiased.tsv")
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=GPU,
            gpu_model=GPU_MODEL,
        conda:
            ENV
        shell:
            "seqlantern attribute --onehot {input.onehot} --index {input.index}"
            " --model {input.model} {params.selection} --target {params.target}"
            " --output {params.output} {params.correction} {params.method}"
            " --batch-size {params.batch_size}"
            " --device {params.device} --threads {threads} --seed {params.seed}"
            " --out {output.attributions} --predictions {output.predictions} > {log} 2>&1"

    rule compare_debias:
        input:
            spans=R("debias/artifact_spans.tsv"),
            index=R("encode/index.tsv"),
            before=R("attribute/attributions.npy"),
            predictions_before=R("attribute/predictions.tsv"),
            after=R("debias/attributions.npy"),
            predictions_after=R("debias/predictions.tsv"),
            targets=targets_input(),
            onehot=R("encode/onehot.npy"),
            model_before=R("train/model.json"),
            model_after=R("debias/model.json"),
        output:
            comparison=report(
                R("debias/comparison.tsv"),
                caption="../report/debias.rst",
                category="Diagnostics",
            ),
        params:
            column=q(attribution_target_column()),
            target=q(config["attribution"]["target"]),
            output=config["attribution"]["output"],
            seed=config["seed"],
            name_column=q(config["data"]["name_column"]),
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
            " --targets {input.targets} --column {params.column}"
            " --name-column {params.name_column} --onehot {input.onehot}"
            " --model-before {input.model_before} --model-after {input.model_after}"
            " --target {params.target} --output {params.output} --seed {params.seed}"
            " --out {output.comparison} > {log} 2>&1"
