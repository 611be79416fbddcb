# The paper's figures, from the tables summarize_layers wrote, as PNG (for the report) and PDF (for papers).


rule draw_figure:
    input:
        nets="results/tables/nets.csv",
        per_layer="results/tables/per_layer.csv",
        effects="results/tables/effects.csv",
        findings="results/tables/findings.csv",
    output:
        png=report("results/figures/{figure}.png", category="Figures", caption="../report/figure.rst"),
        pdf="results/figures/{figure}.pdf",
    params:
        paper="--paper" if paper_overlay() else "",
        dpi=config["plots"]["dpi"],
        context=json.dumps(figure_context()),
    log:
        "logs/draw_figure/{figure}.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability figure {wildcards.figure} --nets {input.nets} --per-layer {input.per_layer} "
        "--effects {input.effects} --findings {input.findings} --context {params.context:q} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
