# Decode the data set once into uint8 arrays that every training job memory-maps; runs over the same
# data set config share it (results/cache/<kind>-<hash>, layout.py).


rule cache_dataset:
    output:
        LAYOUT.data_files(),
        meta=LAYOUT.meta,
    log:
        LAYOUT.data_log,
    benchmark:
        LAYOUT.data_benchmark
    retries: 0  # a bad data set fails the same way every time: report it once
    conda:
        "../../envs/environment.yaml"
    threads: 4  # image-decoding threads; Snakemake lowers it to --cores, set-threads raises it
    params:
        dataset=json.dumps(data_identity(config["dataset"])),
        # Paths, sizes and times of the files read: an added, removed or edited image rebuilds the cache
        # (Snakemake reruns a job whose params changed), and every net after it. A listing, not a decode.
        # (Files the job downloaded itself: unchanged since, the value recorded before the download.) A function
        # of wildcards only: Snakemake leaves params computed from input or output out of its rerun trigger.
        source=lambda wildcards: source_param(config["dataset"], LAYOUT.meta),
        out=lambda wildcards, output: os.path.dirname(output.meta),
    # The log gets every line; the console its summary (per-class counts, skipped files, the error), not the
    # details indented below it (each skipped file, each class of a large data set): datasets.listing_lines.
    shell:
        "python -m transferability cache-data --dataset {params.dataset:q} --workers {threads} "
        "--out {params.out} > {log} 2>&1 || failed=$?; "
        "grep -v '^  ' {log} >&2 || true; exit ${{failed:-0}}"
