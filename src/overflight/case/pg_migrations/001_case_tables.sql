-- 001: the shared case tables, one set for every case in the database, keyed by case_id.
--
-- Each case is reached through the views of its own schema (created by overflight.case.pg_backend when the
-- case is created); row-level security lets a role see and write only the rows of the cases it is a member
-- of (roles ovf_<case>_reader / _analyst / _reviewer). Values are stored exactly as in a DuckDB case file
-- (WKB in bytea, JSON as text); the PostGIS columns are derived from them and indexed for prefiltering.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE TABLE overflight.cases (
    case_id text PRIMARY KEY,
    schema_name text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL DEFAULT current_user
);

CREATE TABLE overflight.meta (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    key text,
    value text
);
CREATE TABLE overflight.sources (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    name text,
    kind text,
    link text,
    reliability text,
    notes text
);
CREATE TABLE overflight.claims (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    statement text,
    claimant text,
    claimant_type text,
    source_id text,
    date_made timestamptz,
    stance text,
    what text,
    where_zones text,
    where_wkb bytea,
    window_start timestamptz,
    window_end timestamptz,
    count_min bigint,
    count_max bigint,
    answers text,
    credibility integer,
    url text,
    notes text
);
CREATE TABLE overflight.observations (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    kind text,
    source_id text,
    lon double precision,
    lat double precision,
    time_start timestamptz,
    time_end timestamptz,
    precision_m double precision,
    area text,
    credibility integer,
    illustrative boolean,
    description text,
    count bigint,
    properties text
);
CREATE TABLE overflight.tracks (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    dataset text,
    track_id text,
    time timestamptz,
    lon double precision,
    lat double precision,
    alt_m double precision,
    source_id text,
    illustrative boolean,
    extras text
);
CREATE TABLE overflight.zones (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    name text,
    kind text,
    geometry bytea,
    floor_m double precision,
    ceiling_m double precision,
    valid_from timestamptz,
    valid_to timestamptz,
    properties text,
    set_name text,
    set_version text,
    set_licence text,
    set_source text,
    set_sha256 text,
    set_kind text,
    set_point_of_view text,
    set_notes text
);
CREATE TABLE overflight.analysis_runs (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    kind text,
    parameters text,
    inputs text,
    zoneset text,
    boundary_set text,
    boundary_version text,
    overflight_version text,
    started timestamptz,
    finished timestamptz,
    result_columns text,
    result_hash text,
    n_rows bigint,
    user_name text
);
CREATE TABLE overflight.analysis_results (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    run_id text,
    row_no bigint,
    data text
);
CREATE TABLE overflight.evidence (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    id text,
    claim_id text,
    kind text,
    direction text,
    reasoning text,
    reliability text,
    credibility integer,
    source_id text,
    run_id text,
    result_row bigint,
    observation_id text
);
CREATE TABLE overflight.verdicts (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    claim_id text,
    verdict text,
    reasoning text,
    inputs_hash text,
    rule_version text,
    evaluated_at timestamptz,
    overflight_version text
);
CREATE TABLE overflight.audit_log (
    case_id text NOT NULL DEFAULT current_setting('overflight.case'),
    seq bigint,
    at_utc timestamptz,
    user_name text,
    action text,
    table_name text,
    key text,
    before text,
    after text,
    hash text
);

-- PostGIS geometries derived from the stored values (prefiltering only: overflight decides memberships).
ALTER TABLE overflight.zones ADD COLUMN geom geometry GENERATED ALWAYS AS (ST_GeomFromWKB(geometry, 4326)) STORED;
ALTER TABLE overflight.claims ADD COLUMN where_geom geometry
    GENERATED ALWAYS AS (ST_GeomFromWKB(where_wkb, 4326)) STORED;
ALTER TABLE overflight.observations ADD COLUMN geom geometry(Point, 4326)
    GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
CREATE INDEX zones_geom ON overflight.zones USING gist (geom);
CREATE INDEX claims_where_geom ON overflight.claims USING gist (where_geom);
CREATE INDEX observations_geom ON overflight.observations USING gist (geom);

-- Keys stay unique by the store (delete-then-insert in one transaction), as in the DuckDB file; these
-- indexes make the per-case lookups fast. The audit log's sequence is unique per case: a second writer
-- can never append the same entry number.
CREATE INDEX meta_key ON overflight.meta (case_id, key);
CREATE INDEX sources_key ON overflight.sources (case_id, id);
CREATE INDEX claims_key ON overflight.claims (case_id, id);
CREATE INDEX observations_key ON overflight.observations (case_id, id);
CREATE INDEX tracks_key ON overflight.tracks (case_id, dataset);
CREATE INDEX zones_key ON overflight.zones (case_id, id);
CREATE INDEX analysis_runs_key ON overflight.analysis_runs (case_id, id);
CREATE INDEX analysis_results_key ON overflight.analysis_results (case_id, run_id, row_no);
CREATE INDEX evidence_key ON overflight.evidence (case_id, id);
CREATE INDEX verdicts_key ON overflight.verdicts (case_id, claim_id);
ALTER TABLE overflight.audit_log ADD PRIMARY KEY (case_id, seq);

-- The role that holds a level of access to a case.
CREATE FUNCTION overflight.role_name(case_id text, level text) RETURNS text
    LANGUAGE sql IMMUTABLE AS
$$ SELECT 'ovf_' || regexp_replace(lower(case_id), '[^a-z0-9]+', '_', 'g') || '_' || level $$;

-- The cases a role may read ('reader'), write ('analyst') or approve in ('reviewer'). SECURITY DEFINER so
-- no role needs to read the registry itself; it is evaluated once per statement (an uncorrelated subquery).
CREATE FUNCTION overflight.cases_of(who text, level text) RETURNS SETOF text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS
$$ SELECT c.case_id FROM overflight.cases c
   JOIN pg_catalog.pg_roles r ON r.rolname = overflight.role_name(c.case_id, level)
   WHERE pg_catalog.pg_has_role(who, r.oid, 'MEMBER') $$;
REVOKE ALL ON FUNCTION overflight.cases_of(text, text) FROM PUBLIC;

ALTER TABLE overflight.meta ENABLE ROW LEVEL SECURITY;
CREATE POLICY meta_read ON overflight.meta FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
-- Approving a verdict for publication (meta rows approval.<claim>) takes a reviewer, and the approval names
-- the role that gave it; every other meta row takes an analyst.
CREATE POLICY meta_insert ON overflight.meta FOR INSERT WITH CHECK (
    case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst'))
    AND (key NOT LIKE 'approval.%' OR (case_id IN (SELECT overflight.cases_of(current_user::text, 'reviewer'))
                                       AND (value::json ->> 'approved_by') = current_user::text)));
CREATE POLICY meta_delete ON overflight.meta FOR DELETE USING (
    case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst'))
    AND (key NOT LIKE 'approval.%' OR case_id IN (SELECT overflight.cases_of(current_user::text, 'reviewer'))));
ALTER TABLE overflight.sources ENABLE ROW LEVEL SECURITY;
CREATE POLICY sources_read ON overflight.sources FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY sources_insert ON overflight.sources FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY sources_delete ON overflight.sources FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.claims ENABLE ROW LEVEL SECURITY;
CREATE POLICY claims_read ON overflight.claims FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY claims_insert ON overflight.claims FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY claims_delete ON overflight.claims FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.observations ENABLE ROW LEVEL SECURITY;
CREATE POLICY observations_read ON overflight.observations FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY observations_insert ON overflight.observations FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY observations_delete ON overflight.observations FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.tracks ENABLE ROW LEVEL SECURITY;
CREATE POLICY tracks_read ON overflight.tracks FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY tracks_insert ON overflight.tracks FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY tracks_delete ON overflight.tracks FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.zones ENABLE ROW LEVEL SECURITY;
CREATE POLICY zones_read ON overflight.zones FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY zones_insert ON overflight.zones FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY zones_delete ON overflight.zones FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.analysis_runs ENABLE ROW LEVEL SECURITY;
CREATE POLICY analysis_runs_read ON overflight.analysis_runs FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY analysis_runs_insert ON overflight.analysis_runs FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY analysis_runs_delete ON overflight.analysis_runs FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.analysis_results ENABLE ROW LEVEL SECURITY;
CREATE POLICY analysis_results_read ON overflight.analysis_results FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY analysis_results_insert ON overflight.analysis_results FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY analysis_results_delete ON overflight.analysis_results FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.evidence ENABLE ROW LEVEL SECURITY;
CREATE POLICY evidence_read ON overflight.evidence FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY evidence_insert ON overflight.evidence FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY evidence_delete ON overflight.evidence FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.verdicts ENABLE ROW LEVEL SECURITY;
CREATE POLICY verdicts_read ON overflight.verdicts FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY verdicts_insert ON overflight.verdicts FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
CREATE POLICY verdicts_delete ON overflight.verdicts FOR DELETE USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
ALTER TABLE overflight.audit_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON overflight.audit_log FOR SELECT USING (case_id IN (SELECT overflight.cases_of(current_user::text, 'reader')));
CREATE POLICY audit_log_insert ON overflight.audit_log FOR INSERT WITH CHECK (case_id IN (SELECT overflight.cases_of(current_user::text, 'analyst')));
