# The tidy table of every trained net, and what the paper reads off it.


rule collect_results:
    input:
        metrics=all_metrics(),
        epochs=[path.replace("metrics.json", "epochs.csv") for path in all_metrics()],  # read beside each
    output:
        report("results/tables/nets.csv", category="Tables", caption="../report/nets.rst"),
    params:
        split_kinds=json.dumps({split: split_kind(split) for split in split_definitions()}),
    log:
        "logs/collect_results.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability collect --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"


rule summarize_layers:
    input:
        "results/tables/nets.csv",
    output:
        per_layer=report("results/tables/per_layer.csv", category="Tables", caption="../report/per_layer.rst"),
        effects=report("results/tables/effects.csv", category="Tables", caption="../report/effects.rst"),
        findings=report("results/tables/findings.csv", category="Tables", caption="../report/findings.rst"),
    log:
        "logs/summarize_layers.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability summarize --nets {input} --per-layer {output.per_layer} "
        "--effects {output.effects} --findings {output.findings} > {log} 2>&1"


rule compare_with_paper:
    input:
        "results/tables/per_layer.csv",
    output:
        report("results/tables/paper_comparison.csv", category="Tables", caption="../report/paper_comparison.rst"),
    log:
        "logs/compare_with_paper.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability compare --per-layer {input} --out {output} > {log} 2>&1"
