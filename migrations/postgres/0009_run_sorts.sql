-- The runs list's sorts and previews, each answered by an index at any number of runs
-- (store/src/query/runs.rs writes the same expressions; an index is used only for the same
-- expression). A running run has no length: it sorts as the longest.
CREATE INDEX idx_runs_project_duration ON private.runs (project_id, (ended_at - started_at), id);
-- The cost rule (store/src/query/mod.rs): the model spans' cost, else the run's metadata.
CREATE INDEX idx_runs_project_cost ON private.runs (project_id,
    (CASE WHEN span_cost_n > 0 THEN span_cost
          ELSE COALESCE((CASE WHEN jsonb_typeof(metadata->'cost_usd') = 'number' THEN (metadata->>'cost_usd')::double precision END), 0) END),
    id);
CREATE INDEX idx_runs_project_tokens ON private.runs (project_id,
    ((CASE WHEN span_input_n > 0 THEN span_input
           ELSE COALESCE((CASE WHEN jsonb_typeof(metadata->'total_input_tokens') = 'number' THEN (metadata->>'total_input_tokens')::double precision END), 0) END)
     + (CASE WHEN span_output_n > 0 THEN span_output
           ELSE COALESCE((CASE WHEN jsonb_typeof(metadata->'total_output_tokens') = 'number' THEN (metadata->>'total_output_tokens')::double precision END), 0) END)),
    id);
-- A run's first input, for the lists' previews: a few rows per run.
CREATE INDEX idx_events_run_input ON private.events (run_id, created_at, seq) WHERE type = 'user_input';
-- The models of a run's model spans, each found by one lookup (store/src/query/mod.rs,
-- run_models); it replaces the index on the run alone, which it serves as well.
CREATE INDEX idx_spans_run_models ON private.spans (run_id,
    (CASE WHEN jsonb_typeof(attributes->'model') = 'string' THEN attributes->>'model' END)) WHERE kind = 'model';
DROP INDEX private.idx_spans_run_model;
-- A session's runs in order, ties by id, read a page at a time: with the id in the index a
-- session of 100,000 runs reads the page's rows, not all of them to sort.
CREATE INDEX idx_runs_session_started_id ON private.runs (session_id, started_at, id);
DROP INDEX private.idx_runs_session_started;
