# The class halves A and B of each split, as a readable table.


rule split_classes:
    input:
        meta=LAYOUT.meta,
        classes=lambda wildcards: PLAN.class_list_files(wildcards.split),
    output:
        LAYOUT.split_file(),
    log:
        LAYOUT.log("split_classes", "{split}"),
    retries: 0  # a split that cannot be made fails the same way every time
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        definition=lambda wildcards: json.dumps(plan.split_definitions(config)[wildcards.split]),
    shell:
        "python -m transferability split --meta {input.meta} --definition {params.definition:q} "
        "--out {output} > {log} 2>&1"
