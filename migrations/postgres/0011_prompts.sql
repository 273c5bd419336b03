-- The prompt registry (issue 26), in the original's schema (its migration 025, reference §2.2):
-- prompts with their label map, numbered versions, every label move, and the spans each
-- version was used in. Ids and content hashes are made by the server.
CREATE TABLE private.prompts (
    id                 UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    project_id         UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    name               TEXT NOT NULL,
    slug               TEXT NOT NULL,
    description        TEXT,
    current_version_id UUID,
    labels             JSONB NOT NULL DEFAULT '{}'::jsonb,
    created_by         TEXT,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prompts_slug_per_project UNIQUE (project_id, slug),
    CONSTRAINT prompts_name_nonempty CHECK (length(name) > 0),
    CONSTRAINT prompts_slug_nonempty CHECK (length(slug) > 0),
    CONSTRAINT prompts_labels_is_object CHECK (jsonb_typeof(labels) = 'object')
);
CREATE INDEX idx_prompts_project_name ON private.prompts (project_id, lower(name));

CREATE TABLE private.prompt_versions (
    id                UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id         UUID NOT NULL REFERENCES private.prompts (id) ON DELETE CASCADE,
    project_id        UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    version_number    INTEGER NOT NULL,
    content           TEXT NOT NULL,
    model             TEXT,
    temperature       NUMERIC(4,3),
    max_tokens        INTEGER,
    variables         JSONB NOT NULL DEFAULT '[]'::jsonb,
    parent_version_id UUID REFERENCES private.prompt_versions (id) ON DELETE SET NULL,
    change_note       TEXT,
    content_hash      TEXT NOT NULL,
    created_by        TEXT,
    created_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prompt_versions_unique_number UNIQUE (prompt_id, version_number),
    CONSTRAINT prompt_versions_content_size CHECK (length(content) <= 65536),
    CONSTRAINT prompt_versions_temperature_range CHECK (temperature IS NULL OR (temperature >= 0 AND temperature <= 2)),
    CONSTRAINT prompt_versions_max_tokens_positive CHECK (max_tokens IS NULL OR max_tokens > 0),
    CONSTRAINT prompt_versions_variables_is_array CHECK (jsonb_typeof(variables) = 'array')
);
CREATE INDEX idx_prompt_versions_prompt_created ON private.prompt_versions (prompt_id, created_at DESC);

ALTER TABLE private.prompts ADD CONSTRAINT prompts_current_version_fk
    FOREIGN KEY (current_version_id) REFERENCES private.prompt_versions (id) ON DELETE SET NULL;
CREATE INDEX idx_prompts_current_version ON private.prompts (current_version_id) WHERE current_version_id IS NOT NULL;

CREATE TABLE private.prompt_label_history (
    id          BIGSERIAL PRIMARY KEY,
    project_id  UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    prompt_id   UUID NOT NULL REFERENCES private.prompts (id) ON DELETE CASCADE,
    label       TEXT NOT NULL,
    version_id  UUID NOT NULL REFERENCES private.prompt_versions (id) ON DELETE RESTRICT,
    deployed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    deployed_by TEXT,
    change_note TEXT,
    CONSTRAINT prompt_label_history_label_nonempty CHECK (length(label) > 0)
);
CREATE INDEX idx_prompt_label_history_prompt_time ON private.prompt_label_history (prompt_id, deployed_at DESC);

CREATE TABLE private.prompt_trace_links (
    id                BIGSERIAL PRIMARY KEY,
    project_id        UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    trace_id          UUID NOT NULL REFERENCES private.runs (id) ON DELETE CASCADE,
    span_id           UUID NOT NULL REFERENCES private.spans (id) ON DELETE CASCADE,
    prompt_version_id UUID NOT NULL REFERENCES private.prompt_versions (id) ON DELETE CASCADE,
    variable_values   JSONB NOT NULL DEFAULT '{}'::jsonb,
    linked_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT prompt_trace_links_unique UNIQUE (span_id, prompt_version_id),
    CONSTRAINT prompt_trace_links_variables_is_object CHECK (jsonb_typeof(variable_values) = 'object')
);
CREATE INDEX idx_prompt_trace_links_trace ON private.prompt_trace_links (trace_id);
-- A version's runs (its page, the runs filter): by version, then run.
CREATE INDEX idx_prompt_trace_links_version ON private.prompt_trace_links (prompt_version_id, trace_id);
