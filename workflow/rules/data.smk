rule simulate_demo:
    input:
        motifs=config["demo"]["motifs"],
    output:
        fasta=R("demo/sequences.fa"),
        targets=R("demo/targets.tsv"),
        truth=R("demo/truth.tsv"),
    params:
        n=config["demo"]["n"],
        length=config["demo"]["length"],
        seed=config["seed"],
    threads: 1
    log:
        L("simulate_demo/simulate_demo.log"),
    benchmark:
        B("simulate_demo/simulate_demo.tsv")
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern simulate --motifs {input.motifs} --n {params.n} --length {params.length}"
        " --seed {params.seed} --fasta {output.fasta} --targets {output.targets}"
        " --truth {output.truth} > {log} 2>&1"


rule encode_sequences:
    input:
        unpack(encode_inputs),
    output:
        onehot=R("encode/onehot.npy"),
        index=R("encode/index.tsv"),
    params:
        source=encode_source(),
        length=config["encode"]["length"] or 0,
        min_length=config["encode"]["min_length"],
        iupac=config["encode"]["iupac"],
        lowercase=config["encode"]["lowercase"],
        valid_fraction=config["split"]["valid_fraction"],
        test_fraction=config["split"]["test_fraction"],
        valid_chroms=q(csv(config["split"]["valid_chroms"])),
        test_chroms=q(csv(config["split"]["test_chroms"])),
        seed=config["seed"],
    threads: 1
    log:
        L("encode_sequences/encode_sequences.log"),
    benchmark:
        B("encode_sequences/encode_sequences.tsv")
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern encode {params.source} --length {params.length}"
        " --min-length {params.min_length} --iupac {params.iupac}"
        " --lowercase {params.lowercase} --valid-fraction {params.valid_fraction}"
        " --test-fraction {params.test_fraction} --valid-chroms {params.valid_chroms}"
        " --test-chroms {params.test_chroms} --seed {params.seed}"
        " --onehot {output.onehot} --index {output.index} > {log} 2>&1"
