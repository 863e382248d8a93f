-- OpenAI batches: the batch's own fields (its job record holds state, attempts, progress).
CREATE TABLE batches (
    id text PRIMARY KEY,
    -- Creation order (created_at has whole seconds): what lists page by.
    seq bigserial NOT NULL,
    owner text NOT NULL,
    endpoint text NOT NULL,
    input_file_id text NOT NULL,
    completion_window text NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    status text NOT NULL,
    model text,
    errors jsonb,
    output_file_id text,
    error_file_id text,
    idempotency_key text,
    -- Hash of the create parameters: a repeated key with other parameters is a conflict.
    params_hash text NOT NULL,
    created_at integer NOT NULL,
    expires_at integer NOT NULL,
    in_progress_at integer,
    finalizing_at integer,
    completed_at integer,
    failed_at integer,
    expired_at integer,
    cancelling_at integer,
    cancelled_at integer
);
CREATE UNIQUE INDEX batches_idempotency ON batches (owner, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX batches_by_owner ON batches (owner, seq DESC);

-- One row per input line; a result is written once (pending → completed | failed), so a
-- redelivered batch re-runs only what never finished and outputs each custom_id once.
CREATE TABLE batch_lines (
    batch_id text NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
    line integer NOT NULL,
    custom_id text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'completed', 'failed')),
    body jsonb,
    result jsonb,
    input_tokens integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0,
    PRIMARY KEY (batch_id, line)
);
CREATE INDEX batch_lines_pending ON batch_lines (batch_id, line) WHERE status = 'pending';
