-- #19: a customer's email about a move is sent from its `notifications` row, not from a work
-- message. The move writes the row `pending` with `due_at` (its transaction's time); the
-- notify stage claims due rows itself (`FOR UPDATE SKIP LOCKED`, by this index), sends them
-- and marks them. A transient failure sets the row due again after the next retry tier and
-- counts the attempt. Each email so spares a message: its outbox row (insert, mark, delete),
-- its publish, delivery and ack.
--
-- Rows with no `due_at` are sent when their work message comes, as before: escalations, the
-- intake's answers, and every row written before this migration (their messages are in the
-- outbox or the queues already). Adding the columns rewrites nothing (a constant default).
ALTER TABLE notifications
    ADD COLUMN due_at timestamptz,
    ADD COLUMN attempts integer NOT NULL DEFAULT 0;

CREATE INDEX notifications_due ON notifications (due_at)
    WHERE status = 'pending' AND due_at IS NOT NULL;
