# Beyond the paper: what the layers learned (CKA similarity, linear probes, the conv1 filter atlas) and
# whether these cheap measures rank the layers as the transfer drop does. See the README's section
# "What the layers learned" and transferability/similarity.py, measures.py, layer_figures.py.

rule measure_similarity:
    input:
        DATA,
        meta="results/data/meta.json",
        split="results/splits/{split}.tsv",
        weights=unit_weights("base", "fine_tuned"),
    output:
        "results/analyses/{split}/seed{seed}/similarity.csv",
    params:
        model=MODEL_JSON,
        max_features=config["analyses"]["max_features"],
        images=config["analyses"]["similarity_images"],
        fine_tuned=lambda wildcards: " ".join(fine_tuned_nets(wildcards)),
    log:
        "logs/measure_similarity/{split}/seed{seed}.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/analyses/measure_similarity/{split}/seed{seed}.tsv"
    threads: config["train"]["threads"]
    shell:
        f"python -m transferability similarity {UNIT_OPTIONS} --images {{params.images}} "
        "--out {output} {params.fine_tuned} > {log} 2>&1"


rule train_probes:
    input:
        DATA,
        meta="results/data/meta.json",
        split="results/splits/{split}.tsv",
        weights=unit_weights("base"),
    output:
        "results/analyses/{split}/seed{seed}/probes.csv",
    params:
        model=MODEL_JSON,
        max_features=config["analyses"]["max_features"],
        images_per_class=config["analyses"]["probe_images_per_class"],
        targets=lambda wildcards: " ".join(sorted({d[1] for d in directions_of_split(wildcards.split)})),
    log:
        "logs/train_probes/{split}/seed{seed}.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/analyses/train_probes/{split}/seed{seed}.tsv"
    threads: config["train"]["threads"]
    shell:
        f"python -m transferability probes {UNIT_OPTIONS} --images-per-class {{params.images_per_class}} "
        "--targets {params.targets} --out {output} > {log} 2>&1"


rule compare_layer_measures:
    input:
        nets="results/tables/nets.csv",
        similarity=analysis_units("similarity") if "similarity" in ANALYSES else [],
        probes=analysis_units("probes") if "probes" in ANALYSES else [],
    output:
        measures=report(LAYER_MEASURE_OUTPUTS["measures"], category="Layers", caption="../report/layer_measures.rst"),
        correlations=report(LAYER_MEASURE_OUTPUTS["correlations"], category="Layers",
                            caption="../report/layer_measure_correlations.rst"),
        **({"similarity": report(LAYER_MEASURE_OUTPUTS["similarity"], category="Layers", caption="../report/similarity.rst")}
           if "similarity" in ANALYSES else {}),
        **({"probes": report(LAYER_MEASURE_OUTPUTS["probes"], category="Layers", caption="../report/probes.rst")}
           if "probes" in ANALYSES else {}),
        png=report("results/figures/layer_measures.png", category="Layers", caption="../report/layer_measures_figure.rst"),
        pdf="results/figures/layer_measures.pdf",
    params:
        split_kinds=json.dumps({split: split_kind(split) for split in split_definitions()}),
        dpi=config["plots"]["dpi"],
        tables=lambda wildcards, output: " ".join(f"--{kind}-out {output[kind]}" for kind in ("similarity", "probes")
                                                  if kind in output.keys()),
    log:
        "logs/compare_layer_measures.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/analyses/compare_layer_measures.tsv"
    shell:
        "python -m transferability layer-measures --nets {input.nets} --split-kinds {params.split_kinds:q} "
        "--similarity {input.similarity} --probes {input.probes} {params.tables} --measures-out {output.measures} "
        "--correlations-out {output.correlations} --dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"


rule draw_filter_atlas:
    input:
        weights=[f"{net_dir(*atlas_unit(), net)}/weights.safetensors" for net in ("baseA", "baseB")] if analysis_splits() else [],
    output:
        png=report("results/figures/filters.png", category="Layers", caption="../report/filters.rst"),
        pdf="results/figures/filters.pdf",
    params:
        model=MODEL_JSON,
        unit=lambda wildcards: "--split-name {} --seed {}".format(*atlas_unit()),
        dpi=config["plots"]["dpi"],
    log:
        "logs/draw_filter_atlas.log",
    conda:
        "../../envs/environment.yaml"
    benchmark:
        "benchmarks/analyses/draw_filter_atlas.tsv"
    shell:
        "python -m transferability filters --weights {input.weights} --model {params.model:q} {params.unit} "
        "--dpi {params.dpi} --out {output.png} {output.pdf} > {log} 2>&1"
