-- The runs list's sorts and previews (see the Postgres migration; same expressions as
-- store/src/query/runs.rs). The duration sort scans: SQLite's time functions make a poor
-- index key, and a laptop's runs sort in milliseconds.
CREATE INDEX idx_runs_project_cost ON runs (project_id,
    (CASE WHEN span_cost_n > 0 THEN span_cost
          ELSE COALESCE((CASE WHEN json_type(metadata, '$.cost_usd') IN ('integer', 'real') THEN json_extract(metadata, '$.cost_usd') END), 0) END),
    id);
CREATE INDEX idx_runs_project_tokens ON runs (project_id,
    ((CASE WHEN span_input_n > 0 THEN span_input
           ELSE COALESCE((CASE WHEN json_type(metadata, '$.total_input_tokens') IN ('integer', 'real') THEN json_extract(metadata, '$.total_input_tokens') END), 0) END)
     + (CASE WHEN span_output_n > 0 THEN span_output
           ELSE COALESCE((CASE WHEN json_type(metadata, '$.total_output_tokens') IN ('integer', 'real') THEN json_extract(metadata, '$.total_output_tokens') END), 0) END)),
    id);
CREATE INDEX idx_events_run_input ON events (run_id, created_at) WHERE type = 'user_input';
CREATE INDEX idx_spans_run_models ON spans (run_id,
    (CASE WHEN json_type(attributes, '$.model') = 'text' THEN json_extract(attributes, '$.model') END)) WHERE kind = 'model';
DROP INDEX idx_spans_run_model;
CREATE INDEX idx_runs_session_started_id ON runs (session_id, started_at, id);
DROP INDEX idx_runs_session_started;
