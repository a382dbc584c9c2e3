rule simulate_demo:
    input:
        motifs=config["demo"]["motifs"],
    output:
        fasta=S("demo/sequences.fa"),
        targets=S("demo/targets.tsv"),
        truth=S("demo/truth.tsv"),
    params:
        options=options("simulate"),
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
        "seqlantern simulate --motifs {input.motifs} {params.options} --fasta {output.fasta} --targets {output.targets}"
        " --truth {output.truth} > {log} 2>&1"


rule encode_sequences:
    input:
        unpack(encode_inputs),
    output:
        onehot=S("encode/onehot.npy"),
        index=S("encode/index.tsv"),
    params:
        source=encode_source(),
        options=options("encode"),
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
        "seqlantern encode {params.source} {params.options}"
        " --onehot {output.onehot} --index {output.index} > {log} 2>&1"
