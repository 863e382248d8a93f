-- The owner's attributes when it created the row (team, roles, ...): access rules may share a
-- resource with callers holding the same values (stackmesh_common.access). A store's files and
-- file batches follow their store's access; their owner is who attached them.
ALTER TABLE files ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE vector_stores ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE vector_store_file_batches ADD COLUMN owner text NOT NULL DEFAULT 'anonymous';
ALTER TABLE vector_store_file_batches ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE vector_store_files ADD COLUMN owner text NOT NULL DEFAULT 'anonymous';
ALTER TABLE vector_store_files ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
CREATE INDEX files_by_owner ON files (owner, seq);
CREATE INDEX vector_stores_by_owner ON vector_stores (owner, seq);
