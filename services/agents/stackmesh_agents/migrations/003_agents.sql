-- Llama Stack agents: an agent's config, its sessions and their turns, each row recording its
-- owner. A turn is a stored response; a session's next turn continues its last_response_id,
-- so transcripts live in the responses table only. `position` orders rows by creation, which
-- timestamps cannot break ties in.
CREATE TABLE agents (
    agent_id      TEXT PRIMARY KEY,
    position      BIGSERIAL,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    owner         TEXT NOT NULL,
    agent_config  JSONB NOT NULL
);

CREATE TABLE sessions (
    session_id        TEXT PRIMARY KEY,
    agent_id          TEXT NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,
    position          BIGSERIAL,
    name              TEXT NOT NULL,
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    owner             TEXT NOT NULL,
    last_response_id  TEXT
);
CREATE INDEX sessions_in_order ON sessions (agent_id, position);

-- `turn` is the Turn JSON with its steps; `response_id` its latest response (a resumed turn
-- has one per run). A turn being resumed is `in_progress`, so only one resume runs at once.
CREATE TABLE turns (
    turn_id      TEXT PRIMARY KEY,
    session_id   TEXT NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    position     BIGSERIAL,
    response_id  TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('completed', 'awaiting_input', 'in_progress')),
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    turn         JSONB NOT NULL
);
CREATE INDEX turns_in_order ON turns (session_id, position);
