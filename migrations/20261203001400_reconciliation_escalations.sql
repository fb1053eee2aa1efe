-- A reconciliation that found differences escalates them to the merchant's support address,
-- through the notify stage like every email: the sla role writes the letter with the report
-- and queues its notify message (notify_message_id); the notify stage claims one
-- `notifications` row for it, keyed by the reconciliation ("<merchant> <day>").
ALTER TABLE reconciliations
    ADD COLUMN notify_message_id uuid UNIQUE,
    ADD COLUMN escalation_to text,
    ADD COLUMN escalation_language text,
    ADD COLUMN escalation_subject text,
    ADD COLUMN escalation_text text;

ALTER TABLE notifications
    ADD COLUMN reconciliation text,
    DROP CONSTRAINT notifications_about_check,
    ADD CONSTRAINT notifications_about_check
        CHECK (request_id IS NOT NULL OR inbound_email_id IS NOT NULL OR reconciliation IS NOT NULL),
    ADD CONSTRAINT notifications_reconciliation_event UNIQUE (reconciliation, event);
