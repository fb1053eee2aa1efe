-- Who the sender is: an email acts on a payment or a request only when its sender is the
-- payment's customer or the request's contact. Anything else is kept as `unverified`, with what
-- it claimed, until the payer confirms it by replying to a confirmation email or support
-- accepts it.
ALTER TABLE inbound_emails DROP CONSTRAINT inbound_emails_outcome_check;
ALTER TABLE inbound_emails
    ADD CONSTRAINT inbound_emails_outcome_check
        CHECK (outcome IN ('created', 'attached', 'ignored', 'failed', 'unverified')),
    -- What an unverified email named: a registered payment, or a request (by our Message-ID
    -- or its RF- tag) whose contact is someone else.
    ADD COLUMN claimed_payment_id uuid REFERENCES payments (id),
    ADD COLUMN claimed_request_id uuid REFERENCES refund_requests (id),
    -- The merchant of what it claimed, so lists can be limited to a merchant's staff.
    ADD COLUMN merchant text,
    -- The message itself (card numbers masked), sealed with the document keys (the row id is
    -- the associated data), so a confirmed or accepted claim is taken in exactly as if it had
    -- come from the right address. Cleared once the claim is resolved.
    ADD COLUMN sealed_key_id text,
    ADD COLUMN sealed_nonce bytea,
    ADD COLUMN sealed_raw bytea,
    -- How the claim was resolved: `confirmed` (the payer replied from their own address) or
    -- `accepted` (by support); the request it opened or joined; who and when.
    ADD COLUMN resolution text CHECK (resolution IN ('confirmed', 'accepted')),
    ADD COLUMN resolved_request_id uuid REFERENCES refund_requests (id),
    ADD COLUMN resolved_by text,
    ADD COLUMN resolved_at timestamptz;
CREATE INDEX inbound_emails_unverified_idx ON inbound_emails (id DESC) WHERE outcome = 'unverified';

-- The email asking a payment's customer (the address registered with the payment: the
-- verified channel) to confirm a claim someone else made on their payment. Its Message-ID is
-- `<rf-{id}-sender_check-1@refundd>`: only a reply threaded to it, from `recipient`, opens the
-- request. At most one is pending per payment, so a stranger cannot flood the payer.
CREATE TABLE sender_confirmations (
    id               uuid PRIMARY KEY,
    inbound_email_id uuid        NOT NULL UNIQUE REFERENCES inbound_emails (id),
    payment_id       uuid        NOT NULL REFERENCES payments (id),
    merchant         text        NOT NULL,
    recipient        text        NOT NULL,
    language         text        NOT NULL,
    subject          text        NOT NULL,
    body_text        text        NOT NULL,
    -- The notify message that sends it.
    notify_message_id uuid       NOT NULL UNIQUE,
    status           text        NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'confirmed', 'accepted', 'expired')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    resolved_at      timestamptz
);
CREATE UNIQUE INDEX sender_confirmations_one_pending_idx
    ON sender_confirmations (payment_id) WHERE status = 'pending';

-- Emails about an inbound email that opened no request (the answer to an unverified email,
-- the confirmation to the payer) are claimed like every other email, by the inbound row.
ALTER TABLE notifications
    ALTER COLUMN request_id DROP NOT NULL,
    ADD COLUMN inbound_email_id uuid REFERENCES inbound_emails (id),
    ADD CONSTRAINT notifications_about_check
        CHECK (request_id IS NOT NULL OR inbound_email_id IS NOT NULL),
    ADD CONSTRAINT notifications_inbound_event UNIQUE (inbound_email_id, event);
