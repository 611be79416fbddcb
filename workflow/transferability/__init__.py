"""Layer-by-layer feature transferability (Yosinski et al. 2014), as a library the workflow calls."""
