-- Stored responses: the Response object as returned, the input items of this request, and
-- the context the model saw before them (a previous response's context, input and output),
-- so previous_response_id continues without walking the chain.
CREATE TABLE responses (
    id              TEXT PRIMARY KEY,
    created_at      BIGINT NOT NULL,
    model           TEXT NOT NULL,
    owner           TEXT NOT NULL,
    response        JSONB NOT NULL,
    input_items     JSONB NOT NULL,
    context_items   JSONB NOT NULL
);
CREATE INDEX responses_by_creation ON responses (created_at, id);

CREATE TABLE conversations (
    id          TEXT PRIMARY KEY,
    created_at  BIGINT NOT NULL,
    owner       TEXT NOT NULL,
    metadata    JSONB NOT NULL
);

-- Items in the order they were added; `position` orders them across appends.
CREATE TABLE conversation_items (
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    id              TEXT NOT NULL,
    position        BIGSERIAL,
    created_at      BIGINT NOT NULL,
    item            JSONB NOT NULL,
    PRIMARY KEY (conversation_id, id)
);
CREATE INDEX conversation_items_in_order ON conversation_items (conversation_id, position);
