# How transferable are features in deep neural networks? (Yosinski et al. 2014), as a workflow:
# data -> class halves -> base nets -> the 7x4 transfer grid -> tables -> figures.
from snakemake.utils import min_version

min_version("9.0")


# The default experiment, unless a --configfile is given: a preset or a user's config is complete on
# its own (with the schema's defaults), so the default's data-set-specific choices never leak into it.
if not workflow.overwrite_configfiles:

    configfile: f"{workflow.basedir}/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/splits.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/analyses.smk"


rule all:
    default_target: True
    input:
        PLAN.final_outputs(),
