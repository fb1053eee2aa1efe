-- #19: an outbox row is deleted when nothing needs it any more, instead of being kept for ever
-- with its `published_at` and `settled_at` written in. Nothing read a finished row, and each
-- refund left five (about 86 million a day at 200 refunds/s), each written three times, both
-- updates non-HOT (the columns are in partial-index predicates): a new heap tuple and new index
-- entries each time, for a table and indexes that only grew.
--
-- Now (shared::outbox):
-- - a message of an untracked stage (validate, decide, webhook, ...) is deleted by the relay in
--   the transaction that records the broker's confirm;
-- - a tracked message (notify, payout) is marked published by the relay, and deleted when its
--   handler settles it; until then it is open, and the sweeper publishes it again when stalled.
-- So the table holds what waits to be published and the tracked messages in flight; an open
-- message is a row with `published_at` set, and `settled_at` goes.
DELETE FROM outbox
 WHERE settled_at IS NOT NULL
    OR (published_at IS NOT NULL AND routing_key NOT IN ('request.notify', 'request.payout'));

DROP INDEX outbox_open_idx;
DROP INDEX outbox_open_payout_idx;
ALTER TABLE outbox DROP COLUMN settled_at;

-- The sweeper's scan: published tracked messages, oldest first. A row enters it when
-- published, not when inserted.
CREATE INDEX outbox_open_idx ON outbox (published_at)
    WHERE published_at IS NOT NULL AND routing_key IN ('request.notify', 'request.payout');
-- "Is a payout message for this request still open?" (waiting to be published, or published
-- and not settled).
CREATE INDEX outbox_open_payout_idx ON outbox ((payload->>'request_id'))
    WHERE routing_key = 'request.payout';
