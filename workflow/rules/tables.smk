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
        "{PYTHON} -m transferability collect --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"


rule summarize_layers:
    input:
        "results/tables/nets.csv",
    output:
        per_layer=report("results/tables/per_layer.csv", category="Tables", caption="../report/per_layer.rst"),
        effects=report("results/tables/effects.csv", category="Tables", caption="../report/effects.rst"),
        unit_effects=report("results/tables/unit_effects.csv", category="Tables", caption="../report/unit_effects.rst"),
        reduced_data=report("results/tables/reduced_data.csv", category="Tables", caption="../report/reduced_data.rst"),
        findings=report("results/tables/findings.csv", category="Tables", caption="../report/findings.rst"),
    log:
        "logs/summarize_layers.log",
    conda:
        "../../envs/environment.yaml"
    shell:
        "{PYTHON} -m transferability summarize --nets {input} --per-layer {output.per_layer} "
        "--effects {output.effects} --unit-effects {output.unit_effects} --reduced-data {output.reduced_data} "
        "--findings {output.findings} > {log} 2>&1"


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
        "{PYTHON} -m transferability paper-comparison --per-layer {input} --out {output} > {log} 2>&1"


rule collect_epochs:
    input:
        metrics=all_metrics(),
        epochs=[path.replace("metrics.json", "epochs.csv") for path in all_metrics()],  # read beside each
    output:
        report("results/tables/epochs.csv", category="Tables", caption="../report/epochs.rst"),
    log:
        "logs/collect_epochs.log",
    conda:
        "../../envs/environment.yaml"
    params:
        split_kinds=json.dumps({split: split_kind(split) for split in split_definitions()}),
    shell:
        "{PYTHON} -m transferability collect-epochs --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"
