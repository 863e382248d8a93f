-- The scored answers of each finished dialog of a synthetic data generation job, stored at
-- once: a redelivered job skips these dialogs, and the job's result is filtered from them.
CREATE TABLE synthetic_dialogs (
    job_id          TEXT NOT NULL,
    dialog_index    INTEGER NOT NULL,
    -- [{"index", "answer", "score" (null when unscored), "error"}], in sampling order.
    candidates      JSONB NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, dialog_index)
);
