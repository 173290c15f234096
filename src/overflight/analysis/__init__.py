"""Analyses: transit, prism and attribution (each module is imported on its own)."""


__all__: list[str] = []
