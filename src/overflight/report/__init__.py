"""Reports: the self-contained HTML investigation report, its SVG map and timeline."""
