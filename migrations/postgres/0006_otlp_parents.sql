-- OTLP ingest (docs/OTLP.md): a span whose parent has not arrived yet is stored without it,
-- and the parent it names waits here. When that parent is stored, the child gets it and the
-- row goes. A parent that never arrives leaves its children at the top of the run's tree.
CREATE TABLE private.span_parents_pending (
    span_id        UUID PRIMARY KEY REFERENCES private.spans (id) ON DELETE CASCADE,
    parent_span_id UUID NOT NULL,
    project_id     UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE
);
CREATE INDEX idx_span_parents_pending_parent ON private.span_parents_pending (parent_span_id);
