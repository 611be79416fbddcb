# The class halves A and B of each split, as a readable table.


rule split_classes:
    input:
        meta="results/data/meta.json",
    output:
        "results/splits/{split}.tsv",
    params:
        definition=lambda wildcards: json.dumps(split_definitions()[wildcards.split]),
    log:
        "logs/split_classes/{split}.log",
    retries: 0  # a split that cannot be made fails the same way every time
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability split --meta {input.meta} --definition {params.definition:q} "
        "--out {output} > {log} 2>&1"
