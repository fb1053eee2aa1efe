-- Inbound emails are personal data. The bytes kept of a message that could not be read are
-- sealed with the document keys in the same columns as an unverified email's copy
-- (sealed_key_id, sealed_nonce, sealed_raw); `raw` only holds bytes stored in clear before
-- this, which `refundd keys rotate` seals. Texts are purged on the documents' retention
-- schedule (purged_at). A message over the intake's limits (too many or too large
-- attachments) is refused whole: outcome 'refused', the reason in `error`, nothing else kept.
ALTER TABLE inbound_emails
    ADD COLUMN purged_at  timestamptz,
    DROP CONSTRAINT inbound_emails_outcome_check,
    ADD CONSTRAINT inbound_emails_outcome_check
        CHECK (outcome IN ('created', 'attached', 'ignored', 'failed', 'unverified', 'refused')),
    ADD CONSTRAINT inbound_emails_sealed_check
        CHECK ((sealed_key_id IS NULL) = (sealed_nonce IS NULL)
               AND (sealed_key_id IS NULL) = (sealed_raw IS NULL));
CREATE INDEX inbound_emails_unpurged_idx ON inbound_emails (received_at) WHERE purged_at IS NULL;
