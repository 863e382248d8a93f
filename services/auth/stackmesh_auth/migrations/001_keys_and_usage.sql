-- API keys, stored as the SHA-256 of the secret (a 256-bit random secret needs no slow hash).
CREATE TABLE api_keys (
    id text PRIMARY KEY,
    key_hash bytea NOT NULL UNIQUE,
    prefix text NOT NULL,
    principal text NOT NULL,
    attributes jsonb NOT NULL DEFAULT '{}',
    description text NOT NULL DEFAULT '',
    -- NULL: the distribution's quota rules apply; 0: unlimited.
    requests_per_minute bigint,
    tokens_per_day bigint,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_principal ON api_keys (principal, created_at DESC);

-- Tokens each principal used per UTC day, as reported by the services that spend them.
CREATE TABLE usage_daily (
    principal text NOT NULL,
    day date NOT NULL,
    tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (principal, day)
);
