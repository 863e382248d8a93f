CREATE TABLE shields (
    identifier text PRIMARY KEY,
    provider_id text NOT NULL,
    -- What the provider runs the shield on, e.g. the inference model of a llama-guard shield.
    provider_resource_id text NOT NULL,
    params jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
