-- Inbound emails are personal data: the bytes kept of a message that could not be read are
-- encrypted with the document keys (raw_key_id, raw_nonce; `refundd keys rotate` seals rows
-- stored in clear before this), and texts are purged on the documents' retention schedule.
-- A message over the intake's limits (too many or too large attachments) is refused whole:
-- outcome 'refused', the reason in `error`, nothing else of it stored.
ALTER TABLE inbound_emails
    ADD COLUMN raw_key_id text,
    ADD COLUMN raw_nonce  bytea,
    ADD COLUMN purged_at  timestamptz,
    DROP CONSTRAINT inbound_emails_outcome_check,
    ADD CONSTRAINT inbound_emails_outcome_check
        CHECK (outcome IN ('created', 'attached', 'ignored', 'failed', 'refused')),
    ADD CONSTRAINT inbound_emails_raw_sealed_check
        CHECK ((raw_key_id IS NULL) = (raw_nonce IS NULL));
CREATE INDEX inbound_emails_unpurged_idx ON inbound_emails (received_at) WHERE purged_at IS NULL;
