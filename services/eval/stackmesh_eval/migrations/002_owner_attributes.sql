-- Tenant isolation: a dataset records its owner's attributes (team, roles, ...) beside its
-- owner, so access rules may share it with callers holding the same values
-- (stackmesh_common.access); `seeded` marks the ones the distribution file registers, which
-- every caller reads. Rows (dataset_rows, eval_rows) are reached through their dataset or
-- job only, whose access is checked.
ALTER TABLE datasets
    ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN seeded boolean NOT NULL DEFAULT false;

-- Lists keep the caller's datasets (and their team's): the owner leads the index.
CREATE INDEX datasets_by_owner ON datasets (owner, created_at, id);
