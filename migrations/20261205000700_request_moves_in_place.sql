-- #19: a request's moves rewrite its row in place (a HOT update: no index entry written).
--
-- Every move changes `state`; the first also sets `due_on`, the SLA role changes `sla_state`.
-- While any index names a column an UPDATE changes (as a key, in an expression or in a partial
-- index's WHERE), Postgres writes a new entry for the row in every index of the table: seven
-- here, three times a refund. Now no index names `state`, `due_on` or `sla_state`; what
-- looked requests up by them reads the open requests (`ended_at IS NULL`, few: those still
-- being worked on) through `refund_requests_open_idx`, or the ended ones by `ended_at`. Only
-- the last move, which sets `ended_at`, still writes index entries.
--
-- An update in place also needs room on the row's page: a request is about 400 bytes when
-- received and about 1,150 once decided, so `fillfactor` 25 fills a new page to a quarter
-- (about five requests) and leaves the rest for their next versions (the old ones are pruned
-- as the page fills); decided, the five fill it to about 70 %.
DROP INDEX refund_requests_state_idx;
DROP INDEX refund_requests_sla_idx;
DROP INDEX refund_requests_refunded_idx;

-- The open requests: the sweeps, the SLA role, the dashboards and the payout queues.
CREATE INDEX refund_requests_open_idx ON refund_requests (id) WHERE ended_at IS NULL;
-- The ended ones, by when they ended: reports, the metrics' recent refunds, the purges.
CREATE INDEX refund_requests_ended_idx ON refund_requests (ended_at) WHERE ended_at IS NOT NULL;

ALTER TABLE refund_requests SET (fillfactor = 25);
