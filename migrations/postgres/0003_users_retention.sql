-- Dashboard users, their projects, and per-project retention (issue 6). Not in the original,
-- whose projects lived in the browser and had no owners (reference §4.1).
CREATE TABLE private.users (
    id            UUID PRIMARY KEY,
    -- Stored lower-case and trimmed; unique.
    email         TEXT NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND email <> ''),
    -- argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- A server admin sees and manages every project.
    is_admin      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE private.project_members (
    project_id UUID NOT NULL REFERENCES private.projects (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES private.users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('member', 'admin')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX idx_project_members_user ON private.project_members (user_id);

-- Runs older than this many days are deleted by the retention task; NULL keeps everything.
ALTER TABLE private.projects ADD COLUMN retention_days INTEGER CHECK (retention_days IS NULL OR retention_days > 0);
