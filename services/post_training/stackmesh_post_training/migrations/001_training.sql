-- What each optimizer step of a job reported; a resumed job rewrites the steps it redoes.
CREATE TABLE training_steps (
    job_id          TEXT NOT NULL,
    step            INTEGER NOT NULL,
    epoch           INTEGER NOT NULL,
    loss            DOUBLE PRECISION NOT NULL,
    learning_rate   DOUBLE PRECISION NOT NULL,
    tokens_per_s    DOUBLE PRECISION NOT NULL,
    metrics         JSONB NOT NULL,
    PRIMARY KEY (job_id, step)
);

-- Checkpoints a job wrote (full trainer state, resumable); `model_id` is set on the one
-- registered with the inference service.
CREATE TABLE checkpoints (
    job_id      TEXT NOT NULL,
    step        INTEGER NOT NULL,
    epoch       INTEGER NOT NULL,
    path        TEXT NOT NULL,
    train_loss  DOUBLE PRECISION,
    model_id    TEXT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, step)
);
