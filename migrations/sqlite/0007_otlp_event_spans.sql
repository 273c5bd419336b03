-- The SQLite mirror of migrations/postgres/0007_otlp_event_spans.sql.
CREATE TABLE event_spans_pending (
    event_id   TEXT PRIMARY KEY NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    span_id    TEXT NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE
);
CREATE INDEX idx_event_spans_pending_span ON event_spans_pending (span_id);
