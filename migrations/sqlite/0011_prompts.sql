-- The SQLite mirror of migrations/postgres/0011_prompts.sql.
CREATE TABLE prompts (
    id                 TEXT PRIMARY KEY NOT NULL,
    project_id         TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    name               TEXT NOT NULL CHECK (length(name) > 0),
    slug               TEXT NOT NULL CHECK (length(slug) > 0),
    description        TEXT,
    current_version_id TEXT REFERENCES prompt_versions (id) ON DELETE SET NULL,
    labels             TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(labels) AND json_type(labels) = 'object'),
    created_by         TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    CONSTRAINT prompts_slug_per_project UNIQUE (project_id, slug)
);
CREATE INDEX idx_prompts_project_name ON prompts (project_id, lower(name));
CREATE INDEX idx_prompts_current_version ON prompts (current_version_id) WHERE current_version_id IS NOT NULL;

CREATE TABLE prompt_versions (
    id                TEXT PRIMARY KEY NOT NULL,
    prompt_id         TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    version_number    INTEGER NOT NULL,
    content           TEXT NOT NULL CHECK (length(content) <= 65536),
    model             TEXT,
    temperature       REAL CHECK (temperature IS NULL OR (temperature >= 0 AND temperature <= 2)),
    max_tokens        INTEGER CHECK (max_tokens IS NULL OR max_tokens > 0),
    variables         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(variables) AND json_type(variables) = 'array'),
    parent_version_id TEXT REFERENCES prompt_versions (id) ON DELETE SET NULL,
    change_note       TEXT,
    content_hash      TEXT NOT NULL,
    created_by        TEXT,
    created_at        TEXT NOT NULL,
    CONSTRAINT prompt_versions_unique_number UNIQUE (prompt_id, version_number)
);
CREATE INDEX idx_prompt_versions_prompt_created ON prompt_versions (prompt_id, created_at DESC);

CREATE TABLE prompt_label_history (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id  TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    prompt_id   TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    label       TEXT NOT NULL CHECK (length(label) > 0),
    version_id  TEXT NOT NULL REFERENCES prompt_versions (id) ON DELETE RESTRICT,
    deployed_at TEXT NOT NULL,
    deployed_by TEXT,
    change_note TEXT
);
CREATE INDEX idx_prompt_label_history_prompt_time ON prompt_label_history (prompt_id, deployed_at DESC);

CREATE TABLE prompt_trace_links (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id        TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    trace_id          TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    span_id           TEXT NOT NULL REFERENCES spans (id) ON DELETE CASCADE,
    prompt_version_id TEXT NOT NULL REFERENCES prompt_versions (id) ON DELETE CASCADE,
    variable_values   TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(variable_values) AND json_type(variable_values) = 'object'),
    linked_at         TEXT NOT NULL,
    CONSTRAINT prompt_trace_links_unique UNIQUE (span_id, prompt_version_id)
);
CREATE INDEX idx_prompt_trace_links_trace ON prompt_trace_links (trace_id);
CREATE INDEX idx_prompt_trace_links_version ON prompt_trace_links (prompt_version_id, trace_id);
