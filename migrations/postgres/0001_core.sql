-- The original NorthStar's core tracing schema (reference §2.1, §2.2), same names, columns,
-- types, constraints and indexes, in schema `private`.
CREATE SCHEMA IF NOT EXISTS private;

CREATE TABLE private.projects (
    id         UUID PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE private.api_keys (
    id         UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
-- Exactly one key row per project: rotation replaces it.
CREATE UNIQUE INDEX idx_api_keys_project_id ON private.api_keys (project_id);

CREATE TABLE private.sessions (
    id         UUID PRIMARY KEY,
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    metadata   JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_sessions_project_id ON private.sessions (project_id);
CREATE INDEX idx_sessions_created_at ON private.sessions (created_at);

CREATE TABLE private.runs (
    id         UUID PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES private.sessions (id) ON DELETE CASCADE,
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    status     TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error')),
    error      JSONB,
    metadata   JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_runs_session_id ON private.runs (session_id);
CREATE INDEX idx_runs_project_id ON private.runs (project_id);
CREATE INDEX idx_runs_started_at ON private.runs (started_at);

CREATE TABLE private.spans (
    id             UUID PRIMARY KEY,
    run_id         UUID NOT NULL REFERENCES private.runs (id) ON DELETE CASCADE,
    project_id     UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    parent_span_id UUID REFERENCES private.spans (id) ON DELETE SET NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('agent', 'workflow', 'model', 'tool', 'custom')),
    name           TEXT NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    ended_at       TIMESTAMPTZ,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error')),
    error          JSONB,
    iteration      INTEGER,
    attributes     JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_spans_run_id ON private.spans (run_id);
CREATE INDEX idx_spans_parent_span_id ON private.spans (parent_span_id);
CREATE INDEX idx_spans_project_id ON private.spans (project_id);
CREATE INDEX idx_spans_started_at ON private.spans (started_at);
CREATE INDEX idx_spans_kind ON private.spans (kind);

CREATE TABLE private.events (
    id         UUID PRIMARY KEY,
    run_id     UUID NOT NULL REFERENCES private.runs (id) ON DELETE CASCADE,
    span_id    UUID REFERENCES private.spans (id) ON DELETE SET NULL,
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('user_input', 'system_message', 'assistant_message',
                   'reasoning', 'tool_arguments', 'tool_result', 'final_response', 'custom')),
    created_at TIMESTAMPTZ NOT NULL,
    content    JSONB NOT NULL,
    attributes JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX idx_events_run_id ON private.events (run_id);
CREATE INDEX idx_events_span_id ON private.events (span_id);
CREATE INDEX idx_events_project_id ON private.events (project_id);
CREATE INDEX idx_events_type ON private.events (type);
CREATE INDEX idx_events_created_at ON private.events (created_at);

CREATE TYPE private.score_data_type AS ENUM ('numeric', 'categorical', 'boolean');
CREATE TYPE private.score_source AS ENUM ('human', 'api', 'auto');

CREATE TABLE private.scores (
    id           UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id   UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    trace_id     UUID NOT NULL REFERENCES private.runs (id) ON DELETE CASCADE,
    span_id      UUID REFERENCES private.spans (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (btrim(name) <> ''),
    value        DOUBLE PRECISION NOT NULL,
    data_type    private.score_data_type NOT NULL DEFAULT 'numeric',
    string_value TEXT,
    source       private.score_source NOT NULL,
    comment      TEXT,
    created_by   TEXT,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT scores_categorical_value_check CHECK (
        (data_type = 'categorical' AND string_value IS NOT NULL AND btrim(string_value) <> '')
        OR (data_type <> 'categorical' AND string_value IS NULL)
    ),
    CONSTRAINT scores_boolean_value_check CHECK (data_type <> 'boolean' OR value IN (0, 1))
);
CREATE INDEX idx_scores_trace_created ON private.scores (project_id, trace_id, created_at DESC);
CREATE INDEX idx_scores_name_created ON private.scores (project_id, name, created_at DESC)
    INCLUDE (value, data_type);
CREATE INDEX idx_scores_span ON private.scores (span_id) WHERE span_id IS NOT NULL;
