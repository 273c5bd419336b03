-- The SQLite mirror of migrations/postgres/0004_figures.sql.
ALTER TABLE runs ADD COLUMN span_cost REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_cost_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_input REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_input_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_output REAL NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_output_n INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN span_count INTEGER NOT NULL DEFAULT 0;

ALTER TABLE sessions ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'completed', 'errored'));
ALTER TABLE sessions ADD COLUMN run_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN errored_runs INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tool_calls INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN cost_usd REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN input_tokens REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN output_tokens REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN tokens REAL NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN last_at TEXT;
ALTER TABLE sessions ADD COLUMN duration_ms REAL NOT NULL DEFAULT 0;

CREATE INDEX idx_sessions_project_status ON sessions (project_id, status, created_at DESC, id DESC);
CREATE INDEX idx_sessions_project_duration ON sessions (project_id, duration_ms, id);
CREATE INDEX idx_sessions_project_runs ON sessions (project_id, run_count, id);
CREATE INDEX idx_sessions_project_tool_calls ON sessions (project_id, tool_calls, id);
CREATE INDEX idx_sessions_project_cost ON sessions (project_id, cost_usd, id);
CREATE INDEX idx_sessions_project_tokens ON sessions (project_id, tokens, id);
CREATE INDEX idx_runs_project_status ON runs (project_id, status, started_at DESC, id DESC);
CREATE INDEX idx_spans_run_model ON spans (run_id) WHERE kind = 'model';

CREATE TABLE pending_rebuilds (what TEXT PRIMARY KEY NOT NULL);
INSERT INTO pending_rebuilds (what) VALUES ('figures');
