-- Each rate-limited principal's request budget, shared by every auth replica: the generic cell
-- rate algorithm's theoretical arrival time (when the budget would be full again, and then some).
-- Unlogged: a request spends no WAL flush on it (~0.3 ms of the check); a Postgres crash or
-- failover resets the budgets, which only lets a minute's worth through again.
CREATE UNLOGGED TABLE request_limits (
    principal text PRIMARY KEY,
    tat timestamptz NOT NULL
);
