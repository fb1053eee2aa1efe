-- Nothing stuck, for messages: a notify or payout message is "open" from the moment it is
-- published until its handler finished with it (settled_at). The sweeper publishes open
-- messages again when they have been out for a while (parked, dropped at the delivery limit,
-- lost with a broker node), counting each time (resent) so it backs off and escalates; and the
-- payout recheck asks nothing new while a payout message is still open. Only these two stages
-- are tracked: the others are swept by request state (refund_requests.sweeps).
ALTER TABLE outbox
    ADD COLUMN settled_at timestamptz,
    ADD COLUMN resent integer NOT NULL DEFAULT 0;

-- What was finished before this migration: emails with a final row, and every payout message
-- (the request sweep and the payout recheck look after those by state).
UPDATE outbox o SET settled_at = coalesce(o.published_at, now())
 WHERE o.routing_key = 'request.payout'
    OR (o.routing_key = 'request.notify'
        AND EXISTS (SELECT 1 FROM notifications n
                     WHERE n.id = o.message_id AND n.status <> 'pending'));

-- The sweeper's scan: open, published messages, oldest first. Small: only what is in flight.
CREATE INDEX outbox_open_idx ON outbox (published_at)
    WHERE settled_at IS NULL AND routing_key IN ('request.notify', 'request.payout');
-- "Is a payout message for this request still open?"
CREATE INDEX outbox_open_payout_idx ON outbox ((payload->>'request_id'))
    WHERE settled_at IS NULL AND routing_key = 'request.payout';
