# Decode the data set once into uint8 arrays that every training job memory-maps.


rule cache_dataset:
    output:
        DATA,
        meta="results/data/meta.json",
    params:
        dataset=json.dumps(config["dataset"]),
    log:
        "logs/cache_dataset.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/cache_dataset.tsv"
    threads: 4  # image-decoding threads; Snakemake lowers it to --cores, set-threads raises it
    shell:
        "{PYTHON} -m transferability cache-data --dataset {params.dataset:q} --workers {threads} "
        "--out results/data > {log} 2>&1"
