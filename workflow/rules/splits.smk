# The class halves A and B of each split, as a readable table.


rule split_classes:
    input:
        meta=PLAN.meta,
        classes=lambda wildcards: PLAN.class_list_files(wildcards.split),
    output:
        PLAN.split_file(),
    log:
        PLAN.log("split_classes", "{split}"),
    retries: 0  # a split that cannot be made fails the same way every time
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        definition=lambda wildcards: json.dumps(PLAN.splits()[wildcards.split]),
    shell:
        "python -m transferability split --meta {input.meta} --definition {params.definition:q} "
        "--out {output} > {log} 2>&1"
