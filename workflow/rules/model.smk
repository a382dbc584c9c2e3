if not LOAD_MODEL:

    rule train_model:
        input:
            onehot="results/encode/onehot.npy",
            index="results/encode/index.tsv",
            targets=targets_input(),
        output:
            model="results/train/model.json",
            weights="results/train/model.safetensors",
            metrics="results/train/metrics.tsv",
            history="results/train/history.tsv",
            curve="results/train/learning_curve.png",
        params:
            train=train_args(),
        threads: config["threads"]
        log:
            "logs/train_model/train_model.log",
        benchmark:
            "benchmarks/train_model/train_model.tsv"
        resources:
            mem_mb=8000,
            runtime=120,
            gpu=GPU,
            gpu_model=GPU_MODEL,
        conda:
            ENV
        shell:
            "seqlantern train --onehot {input.onehot} --index {input.index}"
            " --targets {input.targets} {params.train} --threads {threads}"
            " --out-model {output.model}"
            " --metrics {output.metrics} --curve {output.curve} > {log} 2>&1"
