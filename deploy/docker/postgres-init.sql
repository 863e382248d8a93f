-- Runs once, when the postgres container initialises its volume. Services own their schemas
-- but cannot create extensions; the local launcher does the same for embedded PostgreSQL.
CREATE EXTENSION IF NOT EXISTS vector;
