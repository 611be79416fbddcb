# Beyond the paper: what the layers learned (CKA similarity, linear probes, the conv1 filter atlas) and
# whether these cheap measures rank the layers as the transfer drop does. See the README's section
# "What the layers learned" and transferability/similarity.py, measures.py, layer_figures.py.
# Each rule's params.code hashes the code of the command it runs (provenance.code_version: its module in
# commands/ and the package modules it uses): an edited or upgraded command or module reruns what it computes, never a net.
# The settings are params of wildcards alone: Snakemake leaves a param computed from input or output out of its
# rerun trigger (analyses.max_features in `unit` reran nothing when it changed).


rule measure_similarity:
    input:
        LAYOUT.data_files(),
        meta=LAYOUT.meta,
        split=LAYOUT.split_file(),
        weights=lambda wildcards: PLAN.unit_weights(wildcards.split, wildcards.seed, fine_tuned=True),
    output:
        LAYOUT.analysis_file("similarity"),
    log:
        LAYOUT.log("measure_similarity", "{split}/seed{seed}"),
    benchmark:
        LAYOUT.benchmark("measure_similarity", "{split}/seed{seed}")
    conda:
        "../../envs/environment.yaml"
    threads: config["train"]["threads"]
    params:
        code=provenance.code_version("similarity"),
        unit=lambda wildcards: PLAN.analysis_unit(wildcards.split, wildcards.seed),
        images=config["analyses"]["similarity_images"],
        fine_tuned=lambda wildcards: " ".join(plan.fine_tuned_nets(config, wildcards.split)),
    shell:
        "python -m transferability similarity --unit {params.unit:q} --threads {threads} --images {params.images} "
        "--out {output} {params.fine_tuned} > {log} 2>&1"


rule train_probes:
    input:
        LAYOUT.data_files(),
        meta=LAYOUT.meta,
        split=LAYOUT.split_file(),
        weights=lambda wildcards: PLAN.unit_weights(wildcards.split, wildcards.seed),
    output:
        LAYOUT.analysis_file("probes"),
    log:
        LAYOUT.log("train_probes", "{split}/seed{seed}"),
    benchmark:
        LAYOUT.benchmark("train_probes", "{split}/seed{seed}")
    conda:
        "../../envs/environment.yaml"
    threads: config["train"]["threads"]
    params:
        code=provenance.code_version("probes"),
        unit=lambda wildcards: PLAN.analysis_unit(wildcards.split, wildcards.seed),
        images_per_class=config["analyses"]["probe_images_per_class"],
        targets=lambda wildcards: plan.probe_targets(config, wildcards.split),
    shell:
        "python -m transferability probes --unit {params.unit:q} --threads {threads} --images-per-class {params.images_per_class} "
        "--targets {params.targets} --out {output} > {log} 2>&1"


rule compare_layer_measures:
    input:
        nets=LAYOUT.table("nets"),
        similarity=PLAN.analysis_units("similarity"),
        probes=PLAN.analysis_units("probes"),
    output:
        **{
            kind: report(path, category="Layers", caption=f"../report/{os.path.basename(path)[:-4]}.rst")
            for kind, path in PLAN.layer_measure_outputs().items()
        },
        png=report(
            LAYOUT.figure("layer_measures", "png"), category="Layers", caption="../report/layer_measures_figure.rst"
        ),
        pdf=LAYOUT.figure("layer_measures", "pdf"),
    log:
        LAYOUT.log("compare_layer_measures"),
    benchmark:
        LAYOUT.benchmark("compare_layer_measures")
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("layer_measures"),
        split_kinds=json.dumps(plan.split_kinds(config)),
        dpi=config["plots"]["dpi"],
        tables=lambda wildcards, output: " ".join(
            f"--{kind}-out {output[kind]}" for kind in ("similarity", "probes") if kind in output.keys()
        ),
    shell:
        "python -m transferability layer-measures --nets {input.nets} --split-kinds {params.split_kinds:q} "
        "--similarity {input.similarity} --probes {input.probes} {params.tables} --measures-out {output.measures} "
        "--correlations-out {output.correlations} --dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"


rule draw_filter_atlas:
    input:
        weights=PLAN.atlas_weights(),
    output:
        png=report(LAYOUT.figure("filters", "png"), category="Layers", caption="../report/filters.rst"),
        pdf=LAYOUT.figure("filters", "pdf"),
    log:
        LAYOUT.log("draw_filter_atlas"),
    benchmark:
        LAYOUT.benchmark("draw_filter_atlas")
    localrule: True
    conda:
        "../../envs/environment.yaml"
    params:
        code=provenance.code_version("filters"),
        model=json.dumps(architecture(config["model"]), sort_keys=True),
        unit="--split-name {} --seed {}".format(*plan.atlas_unit(config)) if plan.analysis_splits(config) else "",
        dpi=config["plots"]["dpi"],
    shell:
        "python -m transferability filters --weights {input.weights} --model {params.model:q} {params.unit} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
