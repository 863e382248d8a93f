-- Each rate-limited principal's request budget, shared by every auth replica: the generic cell
-- rate algorithm's theoretical arrival time (when the budget would be full again, and then some).
CREATE TABLE request_limits (
    principal text PRIMARY KEY,
    tat timestamptz NOT NULL
);
