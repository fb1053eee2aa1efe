-- Sessions of the support console (/console). Signing in with an API key makes a session: the
-- browser holds a random token in an HttpOnly cookie and the table holds only its SHA-256, so a
-- leaked table opens no session. A session acts with its key's role and merchant scope, and
-- ends when signed out, after its idle or absolute limit, or as soon as its key is revoked
-- (every lookup joins the key). `csrf` is the token every form of the session carries; `flash`
-- is the answer to the last action, shown once by the next page.
CREATE TABLE console_sessions (
    id            uuid        PRIMARY KEY,
    token_hash    text        NOT NULL UNIQUE,
    api_key_id    uuid        NOT NULL REFERENCES api_keys (id),
    csrf          text        NOT NULL,
    language      text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_seen_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    signed_out_at timestamptz,
    flash         jsonb
);
CREATE INDEX console_sessions_expires_idx ON console_sessions (expires_at) WHERE signed_out_at IS NULL;

-- The console finds a payment by what a customer quotes: the gateway's transaction id, the
-- merchant's order number or the customer's email (payments::search).
CREATE INDEX payments_txn_idx ON payments (gateway_txn_id);
CREATE INDEX payments_order_number_idx ON payments (order_number) WHERE order_number IS NOT NULL;
CREATE INDEX payments_customer_email_idx ON payments (lower(customer_email)) WHERE customer_email IS NOT NULL;

-- What each email said, as sent (subject, text and HTML parts), so the console opens it as the
-- customer saw it. Cleared with the inbound emails' texts once the request is past retention
-- (inbound_emails::purge).
ALTER TABLE notifications
    ADD COLUMN subject   text,
    ADD COLUMN body_text text,
    ADD COLUMN body_html text;
