# The tidy table of every trained net, and what the paper reads off it.
# Each rule's params.code hashes the code of the command it runs (provenance.code_version: its module in
# commands/ and the package modules it uses): an edited or upgraded command or module reruns what it computes, never a net.


rule collect_results:
    input:
        metrics=PLAN.all_metrics(),
        epochs=PLAN.all_epochs(),  # read beside each metrics.json
    output:
        report(LAYOUT.table("nets"), category="Tables", caption="../report/nets.rst"),
    log:
        LAYOUT.log("collect_results"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("collect"),
        split_kinds=json.dumps(plan.split_kinds(config)),
    shell:
        "python -m transferability collect --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"


rule summarize_layers:
    input:
        LAYOUT.table("nets"),
    output:
        **{
            name: report(LAYOUT.table(name), category="Tables", caption=f"../report/{name}.rst")
            for name in SUMMARY_TABLES
        },
    log:
        LAYOUT.log("summarize_layers"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("summarize"),
        tables=lambda wildcards, output: os.path.dirname(output[0]),  # where summarize writes them all
    shell:
        "python -m transferability summarize --nets {input} --out-dir {params.tables} > {log} 2>&1"


rule compare_with_paper:
    input:
        LAYOUT.table("per_layer"),
    output:
        report(LAYOUT.table("paper_comparison"), category="Tables", caption="../report/paper_comparison.rst"),
    log:
        LAYOUT.log("compare_with_paper"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("paper_comparison"),
    shell:
        "python -m transferability paper-comparison --per-layer {input} --out {output} > {log} 2>&1"


rule collect_epochs:
    input:
        metrics=PLAN.all_metrics(),
        epochs=PLAN.all_epochs(),  # read beside each metrics.json
    output:
        report(LAYOUT.table("epochs"), category="Tables", caption="../report/epochs.rst"),
    log:
        LAYOUT.log("collect_epochs"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("collect_epochs"),
        split_kinds=json.dumps(plan.split_kinds(config)),
    shell:
        "python -m transferability collect-epochs --split-kinds {params.split_kinds:q} --out {output} {input.metrics} > {log} 2>&1"
