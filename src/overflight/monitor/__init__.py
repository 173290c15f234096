"""The live monitor: ADS-B feeds → the same ZoneIndex as the batch analyses → alerts, with coverage records.

Modules: `sbs` (SBS-1 text, compiled batch parser), `beast` (Beast binary frames, Mode S via pyModeS),
`modes` (Mode S DF17 frame builder for simulations and tests), `geofence` (per-aircraft state, enter/exit
events), `feeds` (feed URLs, readers with reconnect and heartbeats), `sinks` (JSON lines, webhook, case),
`coverage` (when and where the monitor was listening, and the coverage evidence it supports), `runner`
(the running monitor, its signals and status file).
"""

from __future__ import annotations

from overflight.monitor.geofence import SOURCES, Geofence, Positions

__all__ = ["SOURCES", "Geofence", "Positions"]
