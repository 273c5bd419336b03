-- OTLP ingest (docs/OTLP.md): an event from a log record (the GenAI per-message events) can
-- arrive before the span it belongs to. It is stored without its span, which it waits for here;
-- when the span is stored, the event gets it and the row goes.
CREATE TABLE private.event_spans_pending (
    event_id   UUID PRIMARY KEY REFERENCES private.events (id) ON DELETE CASCADE,
    span_id    UUID NOT NULL,
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE
);
CREATE INDEX idx_event_spans_pending_span ON private.event_spans_pending (span_id);
