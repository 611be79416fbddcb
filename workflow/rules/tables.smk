# The tidy table of every trained net, and what the paper reads off it.
# Each rule's params.code hashes the code of the command it runs (plan.code_version: its function in cli.py
# and the package modules it uses): an edited or upgraded command or module reruns what it computes, never a net.


rule collect_results:
    input:
        metrics=PLAN.all_metrics(),
        epochs=PLAN.all_epochs(),  # read beside each metrics.json
    output:
        report(PLAN.table("nets"), category="Tables", caption="../report/nets.rst"),
    log:
        PLAN.log("collect_results"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=PLAN.code("collect"),
        split_kinds=json.dumps(PLAN.split_kinds()),
    shell:
        "python -m transferability collect --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"


rule summarize_layers:
    input:
        PLAN.table("nets"),
    output:
        per_layer=report(PLAN.table("per_layer"), category="Tables", caption="../report/per_layer.rst"),
        effects=report(PLAN.table("effects"), category="Tables", caption="../report/effects.rst"),
        unit_effects=report(PLAN.table("unit_effects"), category="Tables", caption="../report/unit_effects.rst"),
        reduced_data=report(PLAN.table("reduced_data"), category="Tables", caption="../report/reduced_data.rst"),
        findings=report(PLAN.table("findings"), category="Tables", caption="../report/findings.rst"),
    log:
        PLAN.log("summarize_layers"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=PLAN.code("summarize"),
    shell:
        "python -m transferability summarize --nets {input} --per-layer {output.per_layer} "
        "--effects {output.effects} --unit-effects {output.unit_effects} --reduced-data {output.reduced_data} "
        "--findings {output.findings} > {log} 2>&1"


rule compare_with_paper:
    input:
        PLAN.table("per_layer"),
    output:
        report(PLAN.table("paper_comparison"), category="Tables", caption="../report/paper_comparison.rst"),
    log:
        PLAN.log("compare_with_paper"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=PLAN.code("paper_comparison"),
    shell:
        "python -m transferability paper-comparison --per-layer {input} --out {output} > {log} 2>&1"


rule collect_epochs:
    input:
        metrics=PLAN.all_metrics(),
        epochs=PLAN.all_epochs(),  # read beside each metrics.json
    output:
        report(PLAN.table("epochs"), category="Tables", caption="../report/epochs.rst"),
    log:
        PLAN.log("collect_epochs"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=PLAN.code("collect_epochs"),
        split_kinds=json.dumps(PLAN.split_kinds()),
    shell:
        "python -m transferability collect-epochs --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"
