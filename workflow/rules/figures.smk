# The paper's figures, from the tables summarize_layers wrote, as PNG (for the report) and PDF (for papers).


rule draw_figure:
    input:
        nets="results/tables/nets.csv",
        per_layer="results/tables/per_layer.csv",
        effects="results/tables/effects.csv",
        reduced_data="results/tables/reduced_data.csv",
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
        "{PYTHON} -m transferability figure {wildcards.figure} --nets {input.nets} --per-layer {input.per_layer} "
        "--effects {input.effects} --reduced-data {input.reduced_data} --findings {input.findings} --context {params.context:q} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"


rule draw_training_curves:
    input:
        "results/tables/epochs.csv",
    output:
        table=report(
            "results/tables/training_curves.csv", category="Tables", caption="../report/training_curves_table.rst"
        ),
        png=report("results/figures/training_curves.png", category="Figures", caption="../report/training_curves.rst"),
        pdf="results/figures/training_curves.pdf",
    log:
        "logs/draw_training_curves.log",
    conda:
        "../../envs/environment.yaml"
    params:
        dpi=config["plots"]["dpi"],
        context=json.dumps(figure_context()),
    shell:
        "{PYTHON} -m transferability training-curves --epochs {input} --table {output.table} --context {params.context:q} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
