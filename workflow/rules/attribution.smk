rule attribute_sequences:
    input:
        unpack(model_inputs),
        onehot="results/encode/onehot.npy",
        index="results/encode/index.tsv",
    output:
        attributions="results/attribute/attributions.npy",
        hypothetical="results/attribute/hypothetical.npy",
        predictions="results/attribute/predictions.tsv",
    params:
        model=model_args(),
        selection=attribution_selection(),
        target=q(config["attribution"]["target"]),
        output=config["attribution"]["output"],
        correction="" if config["attribution"]["gradient_correction"] else "--no-correction",
        batch_size=config["attribution"]["batch_size"],
        method=method_args(),
        device=config["device"],
        seed=config["seed"],
    threads: config["threads"]
    log:
        "logs/attribute_sequences/attribute_sequences.log",
    benchmark:
        "benchmarks/attribute_sequences/attribute_sequences.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    conda:
        ENV
    shell:
        "seqlantern attribute --onehot {input.onehot} --index {input.index} {params.model}"
        " {params.selection} --target {params.target} --output {params.output}"
        " {params.correction} {params.method} --batch-size {params.batch_size}"
        " --device {params.device}"
        " --threads {threads} --seed {params.seed} --out {output.attributions}"
        " --hypothetical {output.hypothetical}"
        " --predictions {output.predictions} > {log} 2>&1"


rule attribute_controls:
    input:
        unpack(model_inputs),
        onehot="results/encode/onehot.npy",
        index="results/encode/index.tsv",
    output:
        attributions="results/attribute/controls.npy",
        predictions="results/attribute/controls.tsv",
    params:
        model=model_args(),
        selection=attribution_selection(),
        target=q(config["attribution"]["target"]),
        output=config["attribution"]["output"],
        correction="" if config["attribution"]["gradient_correction"] else "--no-correction",
        batch_size=config["attribution"]["batch_size"],
        method=method_args(),
        shuffles=config["seqlets"]["shuffles"],
        device=config["device"],
        seed=config["seed"],
    threads: config["threads"]
    log:
        "logs/attribute_controls/attribute_controls.log",
    benchmark:
        "benchmarks/attribute_controls/attribute_controls.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    conda:
        ENV
    shell:
        "seqlantern attribute --onehot {input.onehot} --index {input.index} {params.model}"
        " {params.selection} --target {params.target} --output {params.output}"
        " {params.correction} {params.method} --batch-size {params.batch_size}"
        " --device {params.device}"
        " --threads {threads} --seed {params.seed} --shuffles {params.shuffles}"
        " --out {output.attributions} --predictions {output.predictions} > {log} 2>&1"


rule call_seqlets:
    input:
        unpack(seqlet_inputs),
        attributions="results/attribute/attributions.npy",
        predictions="results/attribute/predictions.tsv",
    output:
        seqlets="results/seqlets/seqlets.tsv",
    params:
        window=config["seqlets"]["window"],
        min_length=config["seqlets"]["min_length"],
        max_length=config["seqlets"]["max_length"],
        flank=config["seqlets"]["flank"],
        pvalue=config["seqlets"]["pvalue"],
        null=seqlet_null_args,
        signs=config["seqlets"]["signs"],
        seed=config["seed"],
    log:
        "logs/call_seqlets/call_seqlets.log",
    benchmark:
        "benchmarks/call_seqlets/call_seqlets.tsv"
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern call-seqlets --attributions {input.attributions}"
        " --predictions {input.predictions} --window {params.window}"
        " --min-length {params.min_length} --max-length {params.max_length}"
        " --flank {params.flank} --pvalue {params.pvalue} {params.null}"
        " --signs {params.signs} --seed {params.seed} --out {output.seqlets} > {log} 2>&1"


if config["diagnostics"]["enabled"]:

    rule compare_methods:
        input:
            unpack(model_inputs),
            onehot="results/encode/onehot.npy",
            index="results/encode/index.tsv",
        output:
            table="results/methods/comparison.tsv",
            curves="results/methods/faithfulness_curves.tsv",
            erf="results/methods/erf.tsv",
            erf_profile="results/methods/erf_profile.tsv",
        params:
            model=model_args(),
            methods=q(csv(config["diagnostics"]["methods"])),
            n=config["diagnostics"]["sequences"],
            which=config["diagnostics"]["which"],
            target=q(config["attribution"]["target"]),
            output=config["attribution"]["output"],
            steps=config["attribution"]["steps"],
            references=config["attribution"]["references"],
            seed=config["seed"],
        threads: config["threads"]
        log:
            "logs/compare_methods/compare_methods.log",
        benchmark:
            "benchmarks/compare_methods/compare_methods.tsv"
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern compare-methods --onehot {input.onehot} --index {input.index}"
            " {params.model} --methods {params.methods} --which {params.which} --n {params.n}"
            " --target {params.target} --output {params.output} --steps {params.steps}"
            " --references {params.references} --threads {threads} --seed {params.seed}"
            " --out-table {output.table} --out-curves {output.curves} --out-erf {output.erf}"
            " --out-erf-profile {output.erf_profile} > {log} 2>&1"
