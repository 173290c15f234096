"""Analyses: transit, prism and attribution (each module is imported on its own)."""
