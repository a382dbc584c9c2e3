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
            columns=q(csv(config["train"]["targets"])),
            name_column=q(config["data"]["name_column"]),
            task=config["train"]["task"],
            architecture=config["train"]["architecture"],
            options=q(json.dumps(config["train"]["options"])),
            epochs=config["train"]["epochs"],
            batch_size=config["train"]["batch_size"],
            learning_rate=config["train"]["learning_rate"],
            patience=config["train"]["patience"],
            max_minutes=config["train"]["max_minutes"],
            augment="--augment-rc" if config["train"]["augment_rc"] else "",
            seed=config["seed"],
            device=config["device"],
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
            " --targets {input.targets} --columns {params.columns}"
            " --name-column {params.name_column} --task {params.task}"
            " --architecture {params.architecture} --model-options {params.options}"
            " --epochs {params.epochs} --batch-size {params.batch_size}"
            " --learning-rate {params.learning_rate} --patience {params.patience}"
            " --max-minutes {params.max_minutes} {params.augment} --seed {params.seed}"
            " --device {params.device} --threads {threads} --out-model {output.model}"
            " --metrics {output.metrics} --curve {output.curve} > {log} 2>&1"
