-- Durable job records, one table in every service's schema; JetStream carries only job ids.
CREATE TABLE jobs (
    id text PRIMARY KEY,
    kind text NOT NULL,
    state text NOT NULL CHECK (state IN ('scheduled', 'in_progress', 'completed', 'failed', 'cancelled')),
    -- The typed request of the job: a serialized google.protobuf.Any.
    payload bytea NOT NULL,
    owner text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    progress_completed integer NOT NULL DEFAULT 0,
    progress_total integer NOT NULL DEFAULT 0,
    phase text NOT NULL DEFAULT '',
    result jsonb,
    error jsonb,
    attempts integer NOT NULL DEFAULT 0,
    cancel_requested boolean NOT NULL DEFAULT false,
    -- False until JetStream confirmed the job's message; a sweeper publishes what is left.
    published boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_by_kind ON jobs (kind, created_at DESC, id);
CREATE INDEX jobs_unpublished ON jobs (kind) WHERE NOT published;
