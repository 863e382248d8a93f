CREATE TABLE models (
    id text PRIMARY KEY,
    provider_id text NOT NULL,
    provider_resource_id text NOT NULL,
    model_type text NOT NULL CHECK (model_type IN ('llm', 'embedding', 'rerank')),
    metadata jsonb NOT NULL DEFAULT '{}',
    aliases text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE chat_completions (
    id text PRIMARY KEY,
    model text NOT NULL,
    created integer NOT NULL,
    -- The ChatCompletion as returned to the caller, and the messages it answered.
    completion jsonb NOT NULL,
    input_messages jsonb NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX chat_completions_created ON chat_completions (created, id);
CREATE INDEX chat_completions_model_created ON chat_completions (model, created, id);
