-- SLA state of each open request, kept current by the sla role (every minute).
ALTER TABLE refund_requests ADD COLUMN sla_state text
    CHECK (sla_state IN ('on_track', 'at_risk', 'breached', 'paused'));
ALTER TABLE refund_requests ADD COLUMN sla_checked_at timestamptz;
CREATE INDEX refund_requests_sla_idx ON refund_requests (sla_state, due_on) WHERE ended_at IS NULL;
