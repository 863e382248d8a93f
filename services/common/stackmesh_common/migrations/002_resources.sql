-- Registered resources of every kind a service routes to a provider (models, shields, and
-- next datasets, benchmarks, scoring functions, tool groups, prompts).
CREATE TABLE resources (
    kind text NOT NULL,
    id text NOT NULL,
    provider_id text NOT NULL,
    provider_resource_id text NOT NULL,
    -- A kind's own type, e.g. a model's "llm" or "embedding"; "" where a kind has none.
    type text NOT NULL DEFAULT '',
    params jsonb NOT NULL DEFAULT '{}',
    aliases text[] NOT NULL DEFAULT '{}',
    -- Config-seeded and migrated resources belong to nobody in particular.
    owner text NOT NULL DEFAULT 'anonymous',
    -- "config" for resources the distribution file names, "api" for those callers registered.
    source text NOT NULL DEFAULT 'api' CHECK (source IN ('config', 'api')),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, id)
);
