-- Run and session figures in columns (store/src/figures.rs keeps them): the dashboard's lists
-- sort and filter by index instead of summing spans at read time.
ALTER TABLE private.runs
    ADD COLUMN span_cost     DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN span_cost_n   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN span_input    DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN span_input_n  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN span_output   DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN span_output_n BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN span_count    BIGINT NOT NULL DEFAULT 0;

ALTER TABLE private.sessions
    ADD COLUMN status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'errored')),
    ADD COLUMN run_count     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN errored_runs  BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN tool_calls    BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN cost_usd      DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN input_tokens  DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN output_tokens DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN tokens        DOUBLE PRECISION NOT NULL DEFAULT 0,
    ADD COLUMN last_at       TIMESTAMPTZ,
    ADD COLUMN duration_ms   DOUBLE PRECISION NOT NULL DEFAULT 0;

-- One per sort of the sessions list, and the status filter under the default order.
CREATE INDEX idx_sessions_project_status ON private.sessions (project_id, status, created_at DESC, id DESC);
CREATE INDEX idx_sessions_project_duration ON private.sessions (project_id, duration_ms, id);
CREATE INDEX idx_sessions_project_runs ON private.sessions (project_id, run_count, id);
CREATE INDEX idx_sessions_project_tool_calls ON private.sessions (project_id, tool_calls, id);
CREATE INDEX idx_sessions_project_cost ON private.sessions (project_id, cost_usd, id);
CREATE INDEX idx_sessions_project_tokens ON private.sessions (project_id, tokens, id);
-- The runs list's status filter and its count.
CREATE INDEX idx_runs_project_status ON private.runs (project_id, status, started_at DESC, id DESC);
-- A run's model spans, for the model names a runs list shows.
CREATE INDEX idx_spans_run_model ON private.spans (run_id) WHERE kind = 'model';

-- Work the server does after migrating, in Rust (the cost rule lives there): here, computing
-- the new columns for the rows already stored.
CREATE TABLE private.pending_rebuilds (what TEXT PRIMARY KEY);
INSERT INTO private.pending_rebuilds (what) VALUES ('figures');

-- Text search of the sessions and runs lists ("contains", any case) through trigram indexes:
-- one text per row of its id, name and top-level metadata values. Queries test it first and
-- then the exact fields (store/src/query/sql.rs, search_prefilter). pg_trgm is a trusted
-- extension: any role that may create objects in the database may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE FUNCTION private.search_text(id uuid, name text, metadata jsonb) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN id::text || ' ' || COALESCE(name, '') || ' ' ||
           COALESCE((SELECT string_agg(kv.value, ' ')
                     FROM jsonb_each_text(CASE WHEN jsonb_typeof(metadata) = 'object' THEN metadata END) AS kv), '');
CREATE INDEX idx_sessions_search ON private.sessions USING gin (private.search_text(id, NULL, metadata) gin_trgm_ops);
CREATE INDEX idx_runs_search ON private.runs USING gin (private.search_text(id, name, metadata) gin_trgm_ops);
