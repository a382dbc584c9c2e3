rule render_report:
    input:
        unpack(report_inputs),
        debias=report_debias_input,
    output:
        report=report(
            R("report/report.html"),
            caption="../report/report_html.rst",
            category="Report",
        ),
        config=R("report/config.yaml"),
    params:
        optional=lambda wildcards, input: report_optional(input),
        options=options("report"),
        config_yaml=q(yaml.safe_dump(config, sort_keys=False)),
    threads: 1
    log:
        L("render_report/render_report.log"),
    benchmark:
        B("render_report/render_report.tsv")
    resources:
        mem_mb=4000,
        runtime=20,
        gpu=0,
    conda:
        ENV
    shell:
        "printf '%s' {params.config_yaml} > {output.config} && "
        "seqlantern report --elements {input.elements} --index {input.index}"
        " --onehot {input.onehot} --attributions {input.attributions}"
        " --predictions {input.predictions} --motifs {input.motifs} {params.optional}"
        " --groups {input.groups} --dataset {input.dataset}"
        " --calibration {input.calibration} --artifacts {input.artifacts}"
        " --constant {input.constant} --config {output.config} {params.options}"
        " --links {input.links}"
        " --out {output.report} > {log} 2>&1"
