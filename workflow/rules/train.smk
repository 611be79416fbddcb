# One rule trains every net of the experiment; each net is its own cached, restartable target.


rule train_net:
    input:
        LAYOUT.data_files(),
        meta=LAYOUT.meta,
        split=LAYOUT.split_file(),
        source=lambda wildcards: PLAN.source_weights(wildcards.split, wildcards.seed, wildcards.net),
    output:
        weights=LAYOUT.net_file(WEIGHTS_FILE),
        epochs=LAYOUT.net_file(EPOCHS_FILE),
        metrics=LAYOUT.net_file(METRICS_FILE),
    log:
        LAYOUT.log("train_net", "{split}/seed{seed}/{net}"),
    benchmark:
        LAYOUT.benchmark("train_net", "{split}/seed{seed}/{net}")
    priority: lambda wildcards: PLAN.dependents(wildcards.split, wildcards.net)
    conda:
        "../../envs/environment.yaml"
    threads: config["train"]["threads"]
    resources:
        gpu=config["resources"]["gpus"],  # locally one slot: --resources gpu=<GPUs x resources.nets_per_gpu>
        runtime=lambda wildcards, input, attempt: plan.train_runtime_minutes(config, read_json(input.meta), attempt),
        mem_mb=lambda wildcards, attempt: config["resources"]["mem_mb"] * attempt,
        # How a job runs, not what it computes (device, checkpoint interval, GPU sharing, compilation): a
        # resource, not a param, because params are a rerun trigger and changing these must rerun no net.
        run_options=RunOptions.from_config(config).to_json(),
    params:
        settings=lambda wildcards: json.dumps(
            plan.train_settings(config, wildcards.split, wildcards.seed, wildcards.net), sort_keys=True
        ),
        checkpoints=lambda wildcards: LAYOUT.checkpoint_dir(wildcards.split, wildcards.seed, wildcards.net),
        data=lambda wildcards, input: os.path.dirname(input.meta),
    shell:
        "python -m transferability train --settings {params.settings:q} --data {params.data} "
        "--split {input.split} --source '{input.source}' --out-dir $(dirname {output.metrics}) "
        "--checkpoint-dir {params.checkpoints} --threads {threads} --run-options {resources.run_options:q} > {log} 2>&1"


# A pretrained source (config key source) as half A's units, in the format of a trained baseA's weights: the AnB
# nets read it as they read baseA. The file was checked when the workflow started; its sha256 is a param, so
# another file reconverts it (a touched copy of the same file does not), and the AnB nets' settings hold it too.
if pretrained.has_source(config):

    rule pretrained_source:
        input:
            meta=LAYOUT.meta,
        output:
            LAYOUT.source_units,
        log:
            LAYOUT.log("pretrained_source"),
        retries: 0  # a file that does not fit fails the same way every time
        conda:
            "../../envs/environment.yaml"
        resources:
            # Where the file lies, not what it holds: a resource, not a param (params are a rerun trigger), so a
            # moved file or another TORCH_HOME retrains nothing; its sha256 (a param) says what it holds.
            weights=str(pretrained.source_path(config["source"])),
        params:
            sha256=pretrained.source_sha256(config),
            model=json.dumps(architecture(config["model"]), sort_keys=True),
        shell:
            "python -m transferability pretrained-source --weights {resources.weights:q} --meta {input.meta} "
            "--model {params.model:q} --out {output} > {log} 2>&1"


onstart:
    start_warm_server()


# A job in the graph, not an onsuccess hook: a run killed after its last net (or with nothing left to do)
# would skip the hook and keep every checkpoint; this job is simply rerun. Only once every net is trained:
# a net whose outputs Snakemake never recorded as done is rewritten from its final checkpoint.
rule remove_finished_checkpoints:
    input:
        PLAN.all_metrics(),
    output:
        LAYOUT.checkpoints_removed,
    log:
        LAYOUT.log("remove_finished_checkpoints"),
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        # the run's folders of nets and of checkpoints (those are outside every rule's outputs, on purpose)
        nets=lambda wildcards, output: LAYOUT.nets_root,
        root=lambda wildcards, output: LAYOUT.checkpoints,
    shell:
        "python -m transferability remove-checkpoints --nets {params.nets} --root {params.root} "
        "--out {output} {input} > {log} 2>&1"


onsuccess:
    stop_warm_server()
    print_run_summary()


onerror:
    stop_warm_server()
    print_failed_jobs()
