-- Nothing stuck: the sweeper (sla role) re-queues the stage message of a request that made no
-- progress for a while (its message parked, dropped or lost). It counts its sweeps per request
-- so it backs off, and escalates after a few; a move to another state starts the count again.
ALTER TABLE refund_requests
    ADD COLUMN sweeps integer NOT NULL DEFAULT 0,
    ADD COLUMN swept_at timestamptz;
