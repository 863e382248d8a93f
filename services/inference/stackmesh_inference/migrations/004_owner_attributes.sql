-- Who stored each chat completion and the owner's attributes (team, roles, ...) then: access
-- rules may share a resource with callers holding the same values (stackmesh_common.access).
-- Completions stored before had no owner: they were the anonymous caller's.
ALTER TABLE chat_completions ADD COLUMN owner text NOT NULL DEFAULT 'anonymous';
ALTER TABLE chat_completions ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
CREATE INDEX chat_completions_by_owner ON chat_completions (owner, created, id);
ALTER TABLE batches ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
