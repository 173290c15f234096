"""Track tables: readers for track and observation formats, validation, writers.

A track table is a pandas DataFrame with ``track_id`` (str), ``time`` (datetime64[ns, UTC]), ``lon``, ``lat``
(float64), ``alt_m`` (float64, NaN if unknown) and any extra columns, sorted by (track_id, time).
"""

from overflight.tracks.reader import FORMATS, TrackChunks, detect_format, iter_csv_chunks, iter_tracks, read_tracks
from overflight.tracks.table import TRACK_COLUMNS, empty_tracks, make_tracks, parse_times, sort_tracks
from overflight.tracks.validate import RULES, Issue, ValidationReport, Validator, validate_tracks
from overflight.tracks.writers import WRITE_FORMATS, write_tracks

__all__ = [
    "FORMATS",
    "RULES",
    "TRACK_COLUMNS",
    "WRITE_FORMATS",
    "Issue",
    "TrackChunks",
    "ValidationReport",
    "Validator",
    "detect_format",
    "empty_tracks",
    "iter_csv_chunks",
    "iter_tracks",
    "make_tracks",
    "parse_times",
    "read_tracks",
    "sort_tracks",
    "validate_tracks",
    "write_tracks",
]
