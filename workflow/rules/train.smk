# One rule trains every net of the experiment; each net is its own cached, restartable target.


rule train_net:
    input:
        DATA,
        meta="results/data/meta.json",
        split="results/splits/{split}.tsv",
        source=source_weights,
    output:
        weights="results/nets/{split}/seed{seed}/{net}/weights.safetensors",
        epochs="results/nets/{split}/seed{seed}/{net}/epochs.csv",
        metrics="results/nets/{split}/seed{seed}/{net}/metrics.json",
    params:
        settings=lambda wildcards: json.dumps(train_settings(wildcards), sort_keys=True),
        checkpoints=lambda wildcards: checkpoint_dir(wildcards.split, wildcards.seed, wildcards.net),
    log:
        "logs/train_net/{split}/seed{seed}/{net}.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/train_net/{split}/seed{seed}/{net}.tsv"
    threads: config["train"]["threads"]
    resources:
        gpu=config["resources"]["gpus"],  # locally one slot: --resources gpu=<GPUs x resources.nets_per_gpu>
        runtime=train_runtime_minutes,
        mem_mb=lambda wildcards, attempt: config["resources"]["mem_mb"] * attempt,
    shell:
        "python -m transferability train --settings {params.settings:q} --data results/data "
        "--split {input.split} --source '{input.source}' --out-dir $(dirname {output.metrics}) "
        "--checkpoint-dir {params.checkpoints} --threads {threads} "
        f"{RUN_OPTIONS} > {{log}} 2>&1"  # filled in now: the shell command of a module sees no globals


onstart:
    start_warm_server()


# A job in the graph, not an onsuccess hook: a run killed after its last net (or with nothing left to do)
# would skip the hook and keep every checkpoint; this job is simply rerun. Only once every net is trained:
# a net whose outputs Snakemake never recorded as done is rewritten from its final checkpoint.
rule remove_finished_checkpoints:
    input:
        all_metrics(),
    output:
        CHECKPOINTS_REMOVED,
    log:
        "logs/remove_finished_checkpoints.log",
    localrule: True
    conda:
        "../../envs/environment.yaml"
    shell:
        "python -m transferability remove-checkpoints --nets results/nets --root results/checkpoints "
        "--out {output} {input} > {log} 2>&1"


onsuccess:
    stop_warm_server()


onerror:
    stop_warm_server()
