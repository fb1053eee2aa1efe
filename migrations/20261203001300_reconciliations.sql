-- Reconciliation with the gateways (#18): one row per merchant and day, written by the sla
-- role's daily run (and claimed first, so several copies of the role run it once); the
-- report holds the differences (missing at the gateway, missing here, amount or outcome
-- differs) for the people who settle them.
CREATE TABLE reconciliations (
    merchant     text        NOT NULL,
    day          date        NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    differences  integer,
    report       jsonb,
    PRIMARY KEY (merchant, day)
);
