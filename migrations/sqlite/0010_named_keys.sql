-- The SQLite mirror of migrations/postgres/0010_named_keys.sql.
ALTER TABLE api_keys ADD COLUMN scope TEXT NOT NULL DEFAULT 'ingest' CHECK (scope IN ('ingest', 'read'));
ALTER TABLE api_keys ADD COLUMN is_project_key INTEGER NOT NULL DEFAULT 1 CHECK (is_project_key IN (0, 1));
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;
DROP INDEX idx_api_keys_project_id;
CREATE UNIQUE INDEX idx_api_keys_project_key ON api_keys (project_id) WHERE is_project_key = TRUE;
CREATE INDEX idx_api_keys_project_created ON api_keys (project_id, created_at);
-- The public API's runs filter by name (store/src/query/runs.rs), newest first.
CREATE INDEX idx_runs_project_name ON runs (project_id, name, started_at, id);
-- The public API's runs filter by a model few runs use (store/src/query/runs.rs, ModelPlan).
CREATE INDEX idx_spans_project_model ON spans (project_id,
    (CASE WHEN json_type(attributes, '$.model') = 'text' THEN json_extract(attributes, '$.model') END)) WHERE kind = 'model';
CREATE INDEX idx_runs_project_model ON runs (project_id,
    (CASE WHEN json_type(metadata, '$.model') = 'text' THEN json_extract(metadata, '$.model') END));
