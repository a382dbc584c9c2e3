rule find_constant:
    input:
        onehot=S("encode/onehot.npy"),
        index=S("encode/index.tsv"),
    output:
        regions=R("annotate/constant.tsv"),
        fasta=R("annotate/constant.fa"),
    params:
        options=options("find-constant"),
    threads: 1
    log:
        L("find_constant/find_constant.log"),
    benchmark:
        B("find_constant/find_constant.tsv")
    resources:
        mem_mb=2000,
        runtime=20,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern find-constant --onehot {input.onehot} --index {input.index}"
        " {params.options}"
        " --out {output.regions} --fasta {output.fasta} > {log} 2>&1"


if SPECIES:

    rule select_motifs:
        input:
            motifs=config["annotate"]["motifs"],
            families=config["annotate"]["families"],
        output:
            motifs=R("annotate/motifs.meme"),
        params:
            options=options("select-motifs"),
        threads: 1
        log:
            L("select_motifs/select_motifs.log"),
        benchmark:
            B("select_motifs/select_motifs.tsv")
        resources:
            mem_mb=1000,
            runtime=10,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern select-motifs --motifs {input.motifs} --families {input.families}"
            " {params.options} --out {output.motifs} > {log} 2>&1"


rule annotate_seqlets:
    input:
        constant=R("annotate/constant.tsv"),
        seqlets=R("seqlets/seqlets.tsv"),
        onehot=S("encode/onehot.npy"),
        attributions=R("attribute/shards/{shard}/attributions.npy"),
        hypothetical=R("attribute/shards/{shard}/hypothetical.npy"),
        predictions=R("attribute/shards/{shard}/predictions.tsv"),
        index=S("encode/index.tsv"),
        motifs=motif_db(),
        artifacts=config["annotate"]["artifacts"],
    output:
        elements=R("annotate/shards/{shard}/elements.tsv"),
    params:
        families=families_arg(),
        options=options("annotate"),
    threads: config["threads"]
    log:
        L("annotate_seqlets/{shard}.log"),
    benchmark:
        B("annotate_seqlets/{shard}.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    shell:
        "NUMBA_NUM_THREADS={threads} seqlantern annotate --shard --seqlets {input.seqlets}"
        " --onehot {input.onehot} --attributions {input.attributions}"
        " --predictions {input.predictions}"
        " --index {input.index} --motifs {input.motifs} {params.families}"
        " --artifacts {input.artifacts} --hypothetical {input.hypothetical}"
        " --constant {input.constant} {params.options}"
        " --out {output.elements} > {log} 2>&1"


rule group_elements:
    input:
        elements=shard_files(R("annotate/shards/{shard}/elements.tsv")),
        onehot=S("encode/onehot.npy"),
        index=S("encode/index.tsv"),
        motifs=motif_db(),
    output:
        elements=R("annotate/elements.tsv"),
        groups=R("annotate/groups.tsv"),
    params:
        families=families_arg(),
        options=options("group-elements"),
    threads: 1
    log:
        L("group_elements/group_elements.log"),
    benchmark:
        B("group_elements/group_elements.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern group-elements --elements {input.elements} --onehot {input.onehot}"
        " --index {input.index} --motifs {input.motifs} {params.families}"
        " {params.options}"
        " --out {output.elements} --groups {output.groups} > {log} 2>&1"


rule test_shortcuts:
    input:
        unpack(model_inputs),
        onehot=S("encode/onehot.npy"),
        elements=R("annotate/elements.tsv"),
        groups=R("annotate/groups.tsv"),
        predictions=R("attribute/predictions.tsv"),
        constant=R("annotate/constant.tsv"),
        index=S("encode/index.tsv"),
    output:
        elements=report(
            R("shortcuts/elements.tsv"),
            caption="../report/elements.rst",
            category="Elements",
        ),
        groups=report(
            R("shortcuts/groups.tsv"),
            caption="../report/groups.rst",
            category="Elements",
        ),
        dataset=R("shortcuts/dataset.tsv"),
        constant=R("shortcuts/constant.tsv"),
    params:
        model=model_args(),
        options=options("shortcuts"),
    threads: config["threads"]
    log:
        L("test_shortcuts/test_shortcuts.log"),
    benchmark:
        B("test_shortcuts/test_shortcuts.tsv")
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
        gpu_model=GPU_MODEL,
    conda:
        ENV
    shell:
        "seqlantern shortcuts --onehot {input.onehot} --elements {input.elements}"
        " --groups {input.groups} --predictions {input.predictions} {params.model}"
        " {params.options} --threads {threads} --out-elements {output.elements} --out-groups {output.groups}"
        " --out-dataset {output.dataset} --constant {input.constant} --index {input.index}"
        " --out-constant {output.constant} > {log} 2>&1"


if PATTERNS:

    rule discover_patterns:
        input:
            elements=R("shortcuts/elements.tsv"),
            onehot=S("encode/onehot.npy"),
            attributions=R("attribute/attributions.npy"),
            predictions=R("attribute/predictions.tsv"),
            hypothetical=shard_files(R("attribute/shards/{shard}/hypothetical.npy")),
            motifs=motif_db(),
        output:
            meme=R("patterns/patterns.meme"),
            patterns=report(
                R("patterns/patterns.tsv"),
                caption="../report/patterns.rst",
                category="Elements",
            ),
            members=R("patterns/pattern_members.tsv"),
            matrices=R("patterns/pattern_matrices.tsv"),
        params:
            families=families_arg(),
            options=options("patterns"),
        threads: config["threads"]
        log:
            L("discover_patterns/discover_patterns.log"),
        benchmark:
            B("discover_patterns/discover_patterns.tsv")
        resources:
            mem_mb=4000,
            runtime=60,
            gpu=0,
        conda:
            ENV
        shell:
            "NUMBA_NUM_THREADS={threads} seqlantern patterns --elements {input.elements}"
            " --onehot {input.onehot} --attributions {input.attributions}"
            " --predictions {input.predictions} --hypothetical {input.hypothetical}"
            " --motifs {input.motifs} {params.families} {params.options}"
            " --out-meme {output.meme} --out-patterns {output.patterns}"
            " --out-members {output.members} --out-matrices {output.matrices} > {log} 2>&1"


rule export_bed:
    input:
        elements=R("shortcuts/elements.tsv"),
        index=S("encode/index.tsv"),
    output:
        candidates=report(
            R("export/candidates.bed"),
            caption="../report/detail_bed.rst",
            category="Elements",
            subcategory="BED",
        ),
        artifacts=report(
            R("export/artifacts.bed"),
            caption="../report/detail_bed.rst",
            category="Elements",
            subcategory="BED",
        ),
        all=report(
            R("export/all_elements.bed"),
            caption="../report/detail_bed.rst",
            category="Elements",
            subcategory="BED",
        ),
        browser=report(
            multiext(R("export/"), *BROWSER_BEDS),
            caption="../report/browser_bed.rst",
            category="Genome tracks",
        ),
    params:
        options=options("export"),
        run_name=lambda wildcards, output: q(Path(output.all).parent.parent.name),
    threads: 1
    log:
        L("export_bed/export_bed.log"),
    benchmark:
        B("export_bed/export_bed.tsv")
    resources:
        mem_mb=2000,
        runtime=10,
        gpu=0,
    conda:
        ENV
    shell:
        "seqlantern export --elements {input.elements} --index {input.index}"
        " --candidates {output.candidates} --artifacts-bed {output.artifacts}"
        " --all {output.all} {params.options} --run-name {params.run_name}"
        " > {log} 2>&1"


if TRACKS:

    rule write_tracks:
        input:
            unpack(tracks_inputs),
        output:
            bigwig=report(
                R("tracks/attribution.bw"),
                caption="../report/tracks.rst",
                category="Genome tracks",
            ),
            bigbed=report(
                R("tracks/elements.bb"),
                caption="../report/tracks.rst",
                category="Genome tracks",
            ),
            hypothetical=HYPOTHETICAL_TRACKS,
        params:
            genome=lambda wildcards, input: (
                f"--genome {q(input.genome)}" if "genome" in input.keys() else ""
            ),
            hypothetical=lambda wildcards, input, output: (
                f"--hypothetical {' '.join(q(h) for h in input.hypothetical)}"
                f" --out-hypothetical {' '.join(q(h) for h in output.hypothetical)}"
                if output.hypothetical
                else ""
            ),
        threads: 1
        log:
            L("write_tracks/write_tracks.log"),
        benchmark:
            B("write_tracks/write_tracks.tsv")
        resources:
            mem_mb=2000,
            runtime=60,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern tracks --attributions {input.attributions}"
            " --predictions {input.predictions} --onehot {input.onehot} --index {input.index}"
            " {params.genome} --elements-bed {input.elements_bed}"
            " --out-bigwig {output.bigwig} --out-bigbed {output.bigbed}"
            " {params.hypothetical} > {log} 2>&1"


if HAS_TRUTH:

    rule evaluate_truth:
        input:
            elements=R("shortcuts/elements.tsv"),
            truth=truth_input(),
            predictions=R("attribute/predictions.tsv"),
            motifs=motif_db(),
        output:
            evaluation=report(
                R("evaluate/evaluation.tsv"),
                caption="../report/evaluation.rst",
                category="Evaluation",
            ),
        params:
            families=families_arg(),
        threads: 1
        log:
            L("evaluate_truth/evaluate_truth.log"),
        benchmark:
            B("evaluate_truth/evaluate_truth.tsv")
        resources:
            mem_mb=2000,
            runtime=10,
            gpu=0,
        conda:
            ENV
        shell:
            "seqlantern evaluate --elements {input.elements} --truth {input.truth}"
            " --predictions {input.predictions} --motifs {input.motifs} {params.families}"
            " --out {output.evaluation} > {log} 2>&1"
