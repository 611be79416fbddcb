# The paper's figures, from the tidy table, as PNG (for the report) and PDF (for papers).


rule draw_figure:
    input:
        "results/tables/nets.csv",
    output:
        png=report("results/figures/{figure}.png", category="Figures", caption="../report/figure.rst"),
        pdf="results/figures/{figure}.pdf",
    params:
        paper="--paper" if paper_overlay() else "",
        dpi=config["plots"]["dpi"],
    log:
        "logs/draw_figure/{figure}.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "{PYTHON} -m transferability figure {wildcards.figure} --nets {input} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
