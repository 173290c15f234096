"""Reports: the self-contained HTML investigation report, its SVG map and timeline."""


__all__: list[str] = []
