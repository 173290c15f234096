-- 002: the DuckDB functions the readers of a case use (the web app's track query), on PostgreSQL.
CREATE FUNCTION overflight.epoch_ns(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$$ SELECT (extract(epoch FROM t) * 1000000000)::bigint $$;
GRANT EXECUTE ON FUNCTION overflight.epoch_ns(timestamptz) TO PUBLIC;
