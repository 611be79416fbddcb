# The paper's figures, from the tables summarize_layers wrote, as PNG (for the report) and PDF (for papers).


def figure_context():
    """What each figure's subtitle and legends say about the run: data set, net, training, half names."""
    train = config["train"]
    training = f"{train['iterations']} iterations" if train["iterations"] else f"{train['epochs']} epochs"
    halves = {name: {half: half_label(spec, half) for half in "AB"} for name, spec in config["splits"]["explicit"].items()}
    return {"dataset": config["dataset"]["kind"], "model": config["model"]["preset"], "training": training,
            "halves": halves}


def half_label(spec, half):
    """A half's name in the config, else its classes (a file of classes: the file's name)."""
    if half in spec.get("names", {}):
        return spec["names"][half]
    classes = spec[half]
    if isinstance(classes, str):
        return os.path.basename(classes)
    text = ", ".join(map(str, classes))
    return text if len(text) <= 28 else text[:25] + "..."


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
        "{PYTHON} -m transferability figure {wildcards.figure} --nets {input.nets} --per-layer {input.per_layer} "
        "--effects {input.effects} --findings {input.findings} --context {params.context:q} {params.paper} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
