"""The names of a run's tables and figures, without pandas, matplotlib or torch: the command line's choices, the
plan's outputs and the modules that write them read them here (the Snakefile imports this at every start)."""

SUMMARY_TABLES = ("per_layer", "effects", "unit_effects", "reduced_data", "findings")  # what summarize writes, in order
FIGURES = ("figure2_top", "figure2_bottom", "figure3", "reduced_data")  # the paper's figures (plots.FIGURES draws each)
FIGURE_TABLES = ("findings",)  # the summary tables the figures read (they draw nets.csv's per-cluster values)
FINAL_TABLES = ("nets", "per_layer", "effects", "findings")  # the tables every run ends with
