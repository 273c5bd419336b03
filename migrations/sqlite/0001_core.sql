-- The SQLite mirror of migrations/postgres/0001_core.sql. Same tables and columns; UUIDs are
-- lower-case hyphenated TEXT, timestamps are TEXT in one canonical form
-- (YYYY-MM-DDTHH:MM:SS.ffffffZ, so text order is time order), JSON is TEXT checked by json_valid.
CREATE TABLE projects (
    id         TEXT PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now'))
);

CREATE TABLE api_keys (
    id         TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    revoked_at TEXT
);
CREATE UNIQUE INDEX idx_api_keys_project_id ON api_keys (project_id);

CREATE TABLE sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL,
    ended_at   TEXT,
    metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
);
CREATE INDEX idx_sessions_project_id ON sessions (project_id);
CREATE INDEX idx_sessions_created_at ON sessions (created_at);

CREATE TABLE runs (
    id         TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at   TEXT,
    status     TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error')),
    error      TEXT CHECK (error IS NULL OR json_valid(error)),
    metadata   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata))
);
CREATE INDEX idx_runs_session_id ON runs (session_id);
CREATE INDEX idx_runs_project_id ON runs (project_id);
CREATE INDEX idx_runs_started_at ON runs (started_at);

CREATE TABLE spans (
    id             TEXT PRIMARY KEY NOT NULL,
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    project_id     TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    parent_span_id TEXT REFERENCES spans (id) ON DELETE SET NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('agent', 'workflow', 'model', 'tool', 'custom')),
    name           TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    ended_at       TEXT,
    status         TEXT NOT NULL CHECK (status IN ('running', 'ok', 'error')),
    error          TEXT CHECK (error IS NULL OR json_valid(error)),
    iteration      INTEGER,
    attributes     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes))
);
CREATE INDEX idx_spans_run_id ON spans (run_id);
CREATE INDEX idx_spans_parent_span_id ON spans (parent_span_id);
CREATE INDEX idx_spans_project_id ON spans (project_id);
CREATE INDEX idx_spans_started_at ON spans (started_at);
CREATE INDEX idx_spans_kind ON spans (kind);

CREATE TABLE events (
    id         TEXT PRIMARY KEY NOT NULL,
    run_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    span_id    TEXT REFERENCES spans (id) ON DELETE SET NULL,
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    type       TEXT NOT NULL CHECK (type IN ('user_input', 'system_message', 'assistant_message',
                   'reasoning', 'tool_arguments', 'tool_result', 'final_response', 'custom')),
    created_at TEXT NOT NULL,
    content    TEXT NOT NULL CHECK (json_valid(content)),
    attributes TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(attributes))
);
CREATE INDEX idx_events_run_id ON events (run_id);
CREATE INDEX idx_events_span_id ON events (span_id);
CREATE INDEX idx_events_project_id ON events (project_id);
CREATE INDEX idx_events_type ON events (type);
CREATE INDEX idx_events_created_at ON events (created_at);

CREATE TABLE scores (
    id           TEXT PRIMARY KEY NOT NULL,
    project_id   TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    trace_id     TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    span_id      TEXT REFERENCES spans (id) ON DELETE CASCADE,
    name         TEXT NOT NULL CHECK (trim(name) <> ''),
    value        REAL NOT NULL,
    data_type    TEXT NOT NULL DEFAULT 'numeric' CHECK (data_type IN ('numeric', 'categorical', 'boolean')),
    string_value TEXT,
    source       TEXT NOT NULL CHECK (source IN ('human', 'api', 'auto')),
    comment      TEXT,
    created_by   TEXT,
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f000Z', 'now')),
    CONSTRAINT scores_categorical_value_check CHECK (
        (data_type = 'categorical' AND string_value IS NOT NULL AND trim(string_value) <> '')
        OR (data_type <> 'categorical' AND string_value IS NULL)
    ),
    CONSTRAINT scores_boolean_value_check CHECK (data_type <> 'boolean' OR value IN (0, 1))
);
CREATE INDEX idx_scores_trace_created ON scores (project_id, trace_id, created_at DESC);
CREATE INDEX idx_scores_name_created ON scores (project_id, name, created_at DESC, value, data_type);
CREATE INDEX idx_scores_span ON scores (span_id) WHERE span_id IS NOT NULL;
