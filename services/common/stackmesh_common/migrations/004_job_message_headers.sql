-- The NATS headers a job's message carries (request id, W3C trace context), kept with the
-- record so a message the sweeper publishes late still joins the request that queued it.
ALTER TABLE jobs ADD COLUMN message_headers jsonb NOT NULL DEFAULT '{}';
