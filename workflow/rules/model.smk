if not LOAD_MODEL:

    rule train_model:
        input:
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            targets=targets_input(),
            feedback=feedback_input(),
        output:
            model=S("train/model.json"),
            weights=S("train/model.safetensors"),
            metrics=report(
                S("train/metrics.tsv"),
                caption="../report/training.rst",
                category="Model",
            ),
            history=S("train/history.tsv"),
            curve=report(
                S("train/learning_curve.png"),
                caption="../report/training.rst",
                category="Model",
            ),
        params:
            options=options("train"),
            penalty="",
        threads: config["threads"]
        log:
            L("train_model/train_model.log"),
        benchmark:
            B("train_model/train_model.tsv")
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
            gpu_model=GPU_MODEL,
        conda:
            ENV
        shell:
            "seqlantern train --onehot {input.onehot} --index {input.index}"
            " --targets {input.targets} {params.options} {params.penalty}"
            " --threads {threads} --out-model {output.model}"
            " --metrics {output.metrics} --curve {output.curve} > {log} 2>&1"


if SCORE_MODEL:

    rule score_model:
        input:
            unpack(model_inputs),
            onehot=S("encode/onehot.npy"),
            index=S("encode/index.tsv"),
            targets=targets_input(),
        output:
            metrics=report(
                S("score/metrics.tsv"),
                caption="../report/score.rst",
                category="Model",
            ),
        params:
            model=model_args(),
            options=options("score-model"),
        threads: config["threads"]
        log:
            L("score_model/score_model.log"),
        benchmark:
            B("score_model/score_model.tsv")
        resources:
            mem_mb=8000,
            runtime=60,
            gpu=GPU,
            gpu_model=GPU_MODEL,
        conda:
            ENV
        shell:
            "seqlantern score-model --onehot {input.onehot} --index {input.index}"
            " --targets {input.targets} {params.model} {params.options}"
            " --threads {threads} --metrics {output.metrics} > {log} 2>&1"
