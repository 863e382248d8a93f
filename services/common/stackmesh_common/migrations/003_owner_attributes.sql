-- The owner's attributes when it created the row (team, roles, ...): access rules may share a
-- resource with callers holding the same values (stackmesh_common.access).
ALTER TABLE jobs ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE resources ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
CREATE INDEX jobs_by_owner ON jobs (owner, kind, created_at DESC, id);
