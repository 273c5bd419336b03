-- Named API keys with a scope, and an index for the public API (issue 25). A project keeps its
-- one project key, which `key rotate` replaces (the original's meaning), and may have any number
-- of named keys beside it, each `ingest` (sends traces) or `read` (the public API and MCP; may
-- add scores).
ALTER TABLE private.api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'ingest' CHECK (scope IN ('ingest', 'read'));
ALTER TABLE private.api_keys ADD COLUMN is_project_key BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE private.api_keys ADD COLUMN last_used_at TIMESTAMPTZ;
DROP INDEX private.idx_api_keys_project_id;
CREATE UNIQUE INDEX idx_api_keys_project_key ON private.api_keys (project_id) WHERE is_project_key = TRUE;
CREATE INDEX idx_api_keys_project_created ON private.api_keys (project_id, created_at);
-- The public API's runs filter by name (store/src/query/runs.rs), newest first.
CREATE INDEX idx_runs_project_name ON private.runs (project_id, name, started_at, id);
-- The public API's runs filter by a model few runs use (store/src/query/runs.rs, ModelPlan):
-- its spans, and runs that name it in their metadata.
CREATE INDEX idx_spans_project_model ON private.spans (project_id,
    (CASE WHEN jsonb_typeof(attributes->'model') = 'string' THEN attributes->>'model' END)) WHERE kind = 'model';
CREATE INDEX idx_runs_project_model ON private.runs (project_id,
    (CASE WHEN jsonb_typeof(metadata->'model') = 'string' THEN metadata->>'model' END));
