-- Shields move into the shared `resources` table (kind "shields").
INSERT INTO resources (kind, id, provider_id, provider_resource_id, params, created_at)
SELECT 'shields', identifier, provider_id, provider_resource_id, params, created_at FROM shields
ON CONFLICT DO NOTHING;
DROP TABLE shields;
