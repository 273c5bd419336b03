-- The SQLite mirror of migrations/postgres/0002_dashboard_indexes.sql.
CREATE INDEX idx_sessions_project_created ON sessions (project_id, created_at DESC, id DESC);
CREATE INDEX idx_runs_project_started ON runs (project_id, started_at DESC, id DESC);
CREATE INDEX idx_runs_session_started ON runs (session_id, started_at);
CREATE INDEX idx_spans_run_kind ON spans (run_id, kind);
CREATE INDEX idx_events_run_span ON events (run_id, span_id, created_at);
CREATE INDEX idx_scores_project_name_value ON scores (project_id, name, value);
