# The paper's figures, from the tables summarize_layers wrote, as PNG (for the report) and PDF (for papers).


rule draw_figure:
    input:
        nets=PLAN.table("nets"),
        per_layer=PLAN.table("per_layer"),
        effects=PLAN.table("effects"),
        findings=PLAN.table("findings"),
    output:
        png=report(PLAN.figure("{figure}", "png"), category="Figures", caption="../report/figure.rst"),
        pdf=PLAN.figure("{figure}", "pdf"),
    params:
        paper="--paper" if PLAN.paper_overlay() else "",
        dpi=config["plots"]["dpi"],
        context=PLAN.figure_context(),
    log:
        PLAN.log("draw_figure", "{figure}"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    shell:
        "{PYTHON} -m transferability figure {wildcards.figure} --nets {input.nets} --per-layer {input.per_layer} "
        "--effects {input.effects} --findings {input.findings} --context {params.context:q} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
