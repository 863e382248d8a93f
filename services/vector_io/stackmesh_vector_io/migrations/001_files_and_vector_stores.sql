-- Files: metadata here, bytes in the object store under object_key.
-- `seq` orders lists: several rows share a created_at second.
CREATE TABLE files (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    filename text NOT NULL,
    purpose text NOT NULL,
    bytes bigint NOT NULL,
    content_type text NOT NULL DEFAULT '',
    object_key text NOT NULL,
    owner text NOT NULL,
    created_at integer NOT NULL,
    expires_at integer
);
CREATE INDEX files_expires ON files (expires_at) WHERE expires_at IS NOT NULL;

-- Vector stores: the control plane; their chunks live in the store's provider.
CREATE TABLE vector_stores (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name text,
    owner text NOT NULL,
    provider_id text NOT NULL,
    embedding_model text NOT NULL,
    embedding_dimension integer NOT NULL,
    metadata jsonb NOT NULL DEFAULT '{}',
    -- Expiry policy: this many days after last_active_at (anchor "last_active_at").
    expires_after_days integer,
    created_at integer NOT NULL,
    last_active_at integer NOT NULL
);

CREATE TABLE vector_store_file_batches (
    id text PRIMARY KEY,
    vector_store_id text NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    cancelled boolean NOT NULL DEFAULT false,
    created_at integer NOT NULL
);

-- One row per file attached to a store; its status is the state of the file's ingestion job.
CREATE TABLE vector_store_files (
    vector_store_id text NOT NULL REFERENCES vector_stores (id) ON DELETE CASCADE,
    file_id text NOT NULL,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    -- Bumped when the file is attached again: a job of an older generation does nothing.
    generation integer NOT NULL DEFAULT 1,
    batch_id text REFERENCES vector_store_file_batches (id) ON DELETE SET NULL,
    status text NOT NULL CHECK (status IN ('in_progress', 'completed', 'cancelled', 'failed')),
    attributes jsonb NOT NULL DEFAULT '{}',
    -- The resolved static strategy: {"max_chunk_size_tokens": n, "chunk_overlap_tokens": m}.
    chunking jsonb NOT NULL,
    usage_bytes bigint NOT NULL DEFAULT 0,
    chunk_count integer NOT NULL DEFAULT 0,
    last_error_code text,
    last_error_message text,
    created_at integer NOT NULL,
    PRIMARY KEY (vector_store_id, file_id)
);
CREATE INDEX vector_store_files_seq ON vector_store_files (vector_store_id, seq);
CREATE INDEX vector_store_files_batch ON vector_store_files (batch_id) WHERE batch_id IS NOT NULL;
CREATE INDEX vector_store_files_file ON vector_store_files (file_id);
