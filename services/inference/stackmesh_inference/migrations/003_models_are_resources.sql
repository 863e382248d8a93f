-- Models move into the shared `resources` table (kind "models").
INSERT INTO resources (kind, id, provider_id, provider_resource_id, type, params, aliases, created_at)
SELECT 'models', id, provider_id, provider_resource_id, model_type, metadata, aliases, created_at FROM models
ON CONFLICT DO NOTHING;
DROP TABLE models;
