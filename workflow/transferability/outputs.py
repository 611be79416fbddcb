"""The names of a run's tables and figures, without pandas, matplotlib or torch: the command line's choices, the
plan's outputs and the modules that write them read them here (the Snakefile imports this at every start)."""

SUMMARY_TABLES = ("per_layer", "effects", "unit_effects", "reduced_data", "findings", "freezing")  # summarize writes
FIGURES = ("figure2_top", "figure2_bottom", "figure3", "freezing", "reduced_data")  # plots.FIGURES draws each
FIGURE_TABLES = ("findings", "freezing")  # the summary tables the figures read (and nets.csv's cluster values)
FINAL_TABLES = ("nets", "per_layer", "effects", "findings")  # the tables every run ends with
