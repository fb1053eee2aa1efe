-- Email intake: what each inbound message was, what became of it, and the automatic answer
-- queued for it. Card numbers are masked before anything here is written.
ALTER TABLE inbound_emails
    ADD COLUMN kind           text,
    ADD COLUMN language       text,
    ADD COLUMN body_text      text,
    -- Why a message could not be taken in (outcome 'failed').
    ADD COLUMN error          text,
    -- The bytes of a message that could not be parsed (card numbers masked), so nothing is lost.
    ADD COLUMN raw            bytea,
    -- The automatic answer, written by the intake and sent by the notify stage: the notify
    -- message with event 'intake_reply' carries reply_message_id as its message_id.
    ADD COLUMN reply_subject  text,
    ADD COLUMN reply_text     text,
    ADD COLUMN reply_message_id uuid UNIQUE,
    ADD COLUMN replied_at     timestamptz,
    ADD CONSTRAINT inbound_emails_outcome_check
        CHECK (outcome IN ('created', 'attached', 'ignored', 'failed'));
CREATE INDEX inbound_emails_sender_replied_idx ON inbound_emails (sender, replied_at)
    WHERE replied_at IS NOT NULL;
CREATE INDEX inbound_emails_request_idx ON inbound_emails (request_id);
