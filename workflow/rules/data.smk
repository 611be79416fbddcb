# Decode the data set once into uint8 arrays that every training job memory-maps.


rule cache_dataset:
    output:
        DATA,
        meta="results/data/meta.json",
    params:
        dataset=json.dumps(config["dataset"]),
        # Paths, sizes and times of the files read: an added, removed or edited image rebuilds the cache
        # (Snakemake reruns a job whose params changed), and every net after it. A listing, not a decode.
        source=lambda wildcards: source_fingerprint(config["dataset"]),
    log:
        "logs/cache_dataset.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/cache_dataset.tsv"
    retries: 0  # a bad data set fails the same way every time: report it once
    threads: 4  # image-decoding threads; Snakemake lowers it to --cores, set-threads raises it
    shell:
        "python -m transferability cache-data --dataset {params.dataset:q} --workers {threads} "
        "--out results/data > {log} 2>&1"
