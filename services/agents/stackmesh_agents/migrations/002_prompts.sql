-- Llama Stack prompts: one row per prompt, holding which version is its default, and one row
-- per version. Versions are never rewritten: an update adds the latest plus 1.
-- `position` orders prompts by creation, which created_at (whole seconds) cannot break ties in.
CREATE TABLE prompts (
    id               TEXT PRIMARY KEY,
    position         BIGSERIAL,
    created_at       BIGINT NOT NULL,
    owner            TEXT NOT NULL,
    default_version  INTEGER NOT NULL
);

CREATE TABLE prompt_versions (
    prompt_id   TEXT NOT NULL REFERENCES prompts (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    created_at  BIGINT NOT NULL,
    owner       TEXT NOT NULL,
    prompt      TEXT NOT NULL,
    variables   TEXT[] NOT NULL,
    PRIMARY KEY (prompt_id, version)
);
