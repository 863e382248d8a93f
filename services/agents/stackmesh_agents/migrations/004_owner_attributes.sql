-- Tenant isolation: every row records its owner's attributes (team, roles, ...) beside its
-- owner, so access rules may share it with callers holding the same values
-- (stackmesh_common.access). Items and turns record theirs too, though access to them goes
-- through their conversation or session.
ALTER TABLE responses ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE conversations ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE conversation_items
    ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous',
    ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE prompts ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE prompt_versions ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE agents ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE sessions ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';
ALTER TABLE turns
    ADD COLUMN owner TEXT NOT NULL DEFAULT 'anonymous',
    ADD COLUMN owner_attributes jsonb NOT NULL DEFAULT '{}';

-- Lists keep the caller's rows (and their team's): the owner leads their indexes.
CREATE INDEX responses_by_owner ON responses (owner, created_at, id);
CREATE INDEX prompts_by_owner ON prompts (owner, position);
CREATE INDEX agents_by_owner ON agents (owner, position);
