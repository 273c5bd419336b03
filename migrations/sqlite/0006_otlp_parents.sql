-- The SQLite mirror of migrations/postgres/0006_otlp_parents.sql.
CREATE TABLE span_parents_pending (
    span_id        TEXT PRIMARY KEY NOT NULL REFERENCES spans (id) ON DELETE CASCADE,
    parent_span_id TEXT NOT NULL,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX idx_span_parents_pending_parent ON span_parents_pending (parent_span_id);
