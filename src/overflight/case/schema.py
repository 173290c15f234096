"""The tables of a case file (one DuckDB database per investigation).

Times are TIMESTAMPTZ (the connection runs in UTC), geometries WKB in BLOB columns, structured values JSON
text in VARCHAR columns (no DuckDB extension is needed to read a case). Keys are kept unique by the store
(delete-then-insert inside one transaction), not by index constraints.
"""

from __future__ import annotations

SCHEMA_VERSION = "2"

#: versions this overflight opens. Version 1 (overflight ≤ 0924fd0) has no ``audit_log.hash`` column:
#: opening such a file for writing upgrades it (`overflight.case.store.Case`), read-only opens leave it as is.
READABLE_VERSIONS = ("1", "2")

#: meta keys the store maintains itself (not audited entry by entry: the chain covers them)
HEAD_KEY = "audit_head"

# table -> [(column, DuckDB type)]; the order is the column order of the table.
TABLES: dict[str, list[tuple[str, str]]] = {
    "meta": [("key", "VARCHAR"), ("value", "VARCHAR")],
    "sources": [("id", "VARCHAR"), ("name", "VARCHAR"), ("kind", "VARCHAR"), ("link", "VARCHAR"),
                ("reliability", "VARCHAR"), ("notes", "VARCHAR")],
    "claims": [("id", "VARCHAR"), ("statement", "VARCHAR"), ("claimant", "VARCHAR"), ("claimant_type", "VARCHAR"),
               ("source_id", "VARCHAR"), ("date_made", "TIMESTAMPTZ"), ("stance", "VARCHAR"), ("what", "VARCHAR"),
               ("where_zones", "VARCHAR"), ("where_wkb", "BLOB"), ("window_start", "TIMESTAMPTZ"),
               ("window_end", "TIMESTAMPTZ"), ("count_min", "BIGINT"), ("count_max", "BIGINT"),
               ("answers", "VARCHAR"), ("credibility", "INTEGER"), ("url", "VARCHAR"), ("notes", "VARCHAR")],
    "observations": [("id", "VARCHAR"), ("kind", "VARCHAR"), ("source_id", "VARCHAR"), ("lon", "DOUBLE"),
                     ("lat", "DOUBLE"), ("time_start", "TIMESTAMPTZ"), ("time_end", "TIMESTAMPTZ"),
                     ("precision_m", "DOUBLE"), ("area", "VARCHAR"), ("credibility", "INTEGER"),
                     ("illustrative", "BOOLEAN"), ("description", "VARCHAR"), ("count", "BIGINT"),
                     ("properties", "VARCHAR")],
    "tracks": [("dataset", "VARCHAR"), ("track_id", "VARCHAR"), ("time", "TIMESTAMPTZ"), ("lon", "DOUBLE"),
               ("lat", "DOUBLE"), ("alt_m", "DOUBLE"), ("source_id", "VARCHAR"), ("illustrative", "BOOLEAN"),
               ("extras", "VARCHAR")],
    "zones": [("id", "VARCHAR"), ("name", "VARCHAR"), ("kind", "VARCHAR"), ("geometry", "BLOB"),
              ("floor_m", "DOUBLE"), ("ceiling_m", "DOUBLE"), ("valid_from", "TIMESTAMPTZ"),
              ("valid_to", "TIMESTAMPTZ"), ("properties", "VARCHAR"), ("set_name", "VARCHAR"),
              ("set_version", "VARCHAR"), ("set_licence", "VARCHAR"), ("set_source", "VARCHAR"),
              ("set_sha256", "VARCHAR"), ("set_kind", "VARCHAR"), ("set_point_of_view", "VARCHAR"),
              ("set_notes", "VARCHAR")],
    "analysis_runs": [("id", "VARCHAR"), ("kind", "VARCHAR"), ("parameters", "VARCHAR"), ("inputs", "VARCHAR"),
                      ("zoneset", "VARCHAR"), ("boundary_set", "VARCHAR"), ("boundary_version", "VARCHAR"),
                      ("overflight_version", "VARCHAR"), ("started", "TIMESTAMPTZ"), ("finished", "TIMESTAMPTZ"),
                      ("result_columns", "VARCHAR"), ("result_hash", "VARCHAR"), ("n_rows", "BIGINT"),
                      ("user_name", "VARCHAR")],
    "analysis_results": [("run_id", "VARCHAR"), ("row_no", "BIGINT"), ("data", "VARCHAR")],
    "evidence": [("id", "VARCHAR"), ("claim_id", "VARCHAR"), ("kind", "VARCHAR"), ("direction", "VARCHAR"),
                 ("reasoning", "VARCHAR"), ("reliability", "VARCHAR"), ("credibility", "INTEGER"),
                 ("source_id", "VARCHAR"), ("run_id", "VARCHAR"), ("result_row", "BIGINT"),
                 ("observation_id", "VARCHAR")],
    "verdicts": [("claim_id", "VARCHAR"), ("verdict", "VARCHAR"), ("reasoning", "VARCHAR"),
                 ("inputs_hash", "VARCHAR"), ("rule_version", "VARCHAR"), ("evaluated_at", "TIMESTAMPTZ"),
                 ("overflight_version", "VARCHAR")],
    "audit_log": [("seq", "BIGINT"), ("at_utc", "TIMESTAMPTZ"), ("user_name", "VARCHAR"), ("action", "VARCHAR"),
                  ("table_name", "VARCHAR"), ("key", "VARCHAR"), ("before", "VARCHAR"), ("after", "VARCHAR"),
                  ("hash", "VARCHAR")],
}

# The key column of each keyed table.
KEYS: dict[str, str] = {"meta": "key", "sources": "id", "claims": "id", "observations": "id", "zones": "id",
                        "analysis_runs": "id", "evidence": "id", "verdicts": "claim_id"}


def create_statements() -> list[str]:
    """CREATE TABLE statements for every table (idempotent)."""
    return [f"CREATE TABLE IF NOT EXISTS {t} ({', '.join(f'{c} {ty}' for c, ty in cols)})"
            for t, cols in TABLES.items()]


__all__ = ["HEAD_KEY", "KEYS", "READABLE_VERSIONS", "SCHEMA_VERSION", "TABLES", "create_statements"]
