# The paper's figures, drawn from nets.csv's per-cluster values and findings.csv, as PNG (for the report) and PDF
# (for papers): each mean and interval is the one the tables report.
# Each rule's params.code hashes the code of the command it runs (provenance.code_version: its module in
# commands/ and the package modules it uses): an edited or upgraded command or module reruns what it computes, never a net.


rule draw_figure:
    input:
        nets=LAYOUT.table("nets"),
        tables=[LAYOUT.table(name) for name in FIGURE_TABLES],
    output:
        png=report(LAYOUT.figure("{figure}", "png"), category="Figures", caption="../report/figure.rst"),
        pdf=LAYOUT.figure("{figure}", "pdf"),
    log:
        LAYOUT.log("draw_figure", "{figure}"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("figure"),
        paper="--paper" if plan.paper_overlay(config) else "",
        dpi=config["plots"]["dpi"],
        context=json.dumps(plan.figure_context(config)),
    shell:
        "python -m transferability figure {wildcards.figure} --nets {input.nets} --tables {input.tables} "
        "--context {params.context:q} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"


rule draw_training_curves:
    input:
        LAYOUT.table("epochs"),
    output:
        table=report(LAYOUT.table("training_curves"), category="Tables", caption="../report/training_curves_table.rst"),
        png=report(LAYOUT.figure("training_curves", "png"), category="Figures", caption="../report/training_curves.rst"),
        pdf=LAYOUT.figure("training_curves", "pdf"),
    log:
        LAYOUT.log("draw_training_curves"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("training_curves"),
        dpi=config["plots"]["dpi"],
        context=json.dumps(plan.figure_context(config)),
    shell:
        "python -m transferability training-curves --epochs {input} --table {output.table} --context {params.context:q} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
