-- #19: most emails are about requests, so their `inbound_email_id` and `reconciliation` are
-- NULL; the two unique constraints indexed those NULLs all the same: two index entries a row
-- that no lookup uses, written again by every UPDATE of a row that is not HOT (marking an
-- email sent, with its copy, seldom is). Unique partial indexes keep the same rule (one email
-- per inbound email and event, one per reconciliation and event) for the rows it is about;
-- `ON CONFLICT DO NOTHING` takes any unique index, and `inbound_email_id = $1` lookups (and
-- the foreign key's) imply the predicate.
ALTER TABLE notifications DROP CONSTRAINT notifications_inbound_event;
CREATE UNIQUE INDEX notifications_inbound_event ON notifications (inbound_email_id, event)
    WHERE inbound_email_id IS NOT NULL;

ALTER TABLE notifications DROP CONSTRAINT notifications_reconciliation_event;
CREATE UNIQUE INDEX notifications_reconciliation_event ON notifications (reconciliation, event)
    WHERE reconciliation IS NOT NULL;
