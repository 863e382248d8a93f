-- Datasets: rows are copied in at registration (from a URI or inline), in one transaction,
-- so a dataset is either whole or absent, and iterrows pages by index.
CREATE TABLE datasets (
    id          TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL,
    -- The source as registered; inline rows live in dataset_rows, not here.
    source      JSONB NOT NULL,
    metadata    JSONB NOT NULL,
    provider_id TEXT NOT NULL,
    owner       TEXT NOT NULL,
    row_count   INTEGER NOT NULL DEFAULT 0,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE dataset_rows (
    dataset_id  TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    row_index   INTEGER NOT NULL,
    row         JSONB NOT NULL,
    PRIMARY KEY (dataset_id, row_index)
);

-- One row of an evaluation job: its generation and its score under each scoring function.
-- The key makes a redelivered shard skip rows already done and never store a row twice.
CREATE TABLE eval_rows (
    job_id      TEXT NOT NULL,
    row_index   INTEGER NOT NULL,
    generation  JSONB NOT NULL,
    scores      JSONB NOT NULL,
    -- The shard delivery that stored it (1 unless a worker died mid-shard).
    attempt     INTEGER NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, row_index)
);
