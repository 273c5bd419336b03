-- Indexes behind the dashboard's lists: each page filters by project and orders by time, and
-- the run figures read a run's model and tool spans.
CREATE INDEX idx_sessions_project_created ON private.sessions (project_id, created_at DESC, id DESC);
CREATE INDEX idx_runs_project_started ON private.runs (project_id, started_at DESC, id DESC);
CREATE INDEX idx_runs_session_started ON private.runs (session_id, started_at);
CREATE INDEX idx_spans_run_kind ON private.spans (run_id, kind);
CREATE INDEX idx_events_run_span ON private.events (run_id, span_id, created_at);
CREATE INDEX idx_scores_project_name_value ON private.scores (project_id, name, value);
