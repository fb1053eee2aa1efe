-- The refund-processing schema: Postgres is the truth, RabbitMQ only carries work.

-- Captured card payments that refunds go back to. Card numbers never enter the system:
-- only the brand and the last four digits.
CREATE TABLE payments (
    id              uuid PRIMARY KEY,
    merchant        text        NOT NULL,
    policy_id       text        NOT NULL,
    gateway         text        NOT NULL,
    gateway_txn_id  text        NOT NULL,
    amount_minor    bigint      NOT NULL CHECK (amount_minor > 0),
    currency        char(3)     NOT NULL,
    paid_at         timestamptz NOT NULL,
    card_brand      text,
    card_last4      char(4)     CHECK (card_last4 ~ '^[0-9]{4}$'),
    cardholder_name text,
    customer_email  text,
    customer_language text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payments_gateway_txn_key UNIQUE (gateway, gateway_txn_id)
);

CREATE TABLE refund_requests (
    id              uuid PRIMARY KEY,
    payment_id      uuid        REFERENCES payments (id),
    merchant        text,
    state           text        NOT NULL,
    version         integer     NOT NULL DEFAULT 1 CHECK (version > 0),
    channel         text        NOT NULL CHECK (channel IN ('api', 'email')),
    reason          text,
    facts           jsonb       NOT NULL DEFAULT '{}'::jsonb,
    policy_id       text,
    policy_version  text,
    decision        jsonb,
    amount_minor    bigint      CHECK (amount_minor IS NULL OR amount_minor >= 0),
    currency        char(3),
    received_at     timestamptz NOT NULL,
    complete_at     timestamptz,
    due_on          date,
    contact_email   text,
    language        text,
    idempotency_key text,
    request_hash    text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refund_requests_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX refund_requests_state_idx ON refund_requests (state, due_on);
CREATE INDEX refund_requests_payment_idx ON refund_requests (payment_id);

-- Identity documents and other scans. Bytes are encrypted at rest; only extracted fields and
-- hashes are in clear.
CREATE TABLE documents (
    id              uuid PRIMARY KEY,
    request_id      uuid        NOT NULL REFERENCES refund_requests (id),
    kind            text        NOT NULL,
    content_type    text,
    size_bytes      integer     NOT NULL CHECK (size_bytes >= 0),
    sha256          text        NOT NULL,
    fields          jsonb       NOT NULL DEFAULT '{}'::jsonb,
    ciphertext      bytea,
    nonce           bytea,
    key_id          text,
    validation      jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    purged_at       timestamptz
);
CREATE INDEX documents_request_idx ON documents (request_id);

-- The audit trail: one row per transition, append-only.
CREATE TABLE request_events (
    id          bigserial PRIMARY KEY,
    request_id  uuid        NOT NULL REFERENCES refund_requests (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    from_state  text,
    to_state    text        NOT NULL,
    reason      text,
    details     jsonb       NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX request_events_request_idx ON request_events (request_id, id);

CREATE FUNCTION request_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'request_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$;
CREATE TRIGGER request_events_no_update BEFORE UPDATE OR DELETE ON request_events
    FOR EACH ROW EXECUTE FUNCTION request_events_append_only();
CREATE TRIGGER request_events_no_truncate BEFORE TRUNCATE ON request_events
    FOR EACH STATEMENT EXECUTE FUNCTION request_events_append_only();

-- Messages to publish, written in the same transaction as the change they announce.
CREATE TABLE outbox (
    id           bigserial PRIMARY KEY,
    message_id   uuid        NOT NULL UNIQUE,
    routing_key  text        NOT NULL,
    payload      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    -- Failed publishing attempts (e.g. nothing bound to the routing key), for operators.
    attempts     integer     NOT NULL DEFAULT 0,
    last_error   text
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('refundd_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_inserted AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Messages a consumer has already applied: redelivery finds its row and changes nothing.
CREATE TABLE processed_messages (
    consumer     text        NOT NULL,
    message_id   uuid        NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
);

-- Every call to a payment gateway is preceded by a committed attempt row.
CREATE TABLE payout_attempts (
    id               uuid PRIMARY KEY,
    request_id       uuid        NOT NULL REFERENCES refund_requests (id),
    payment_id       uuid        NOT NULL REFERENCES payments (id),
    idempotency_key  text        NOT NULL,
    gateway          text        NOT NULL,
    amount_minor     bigint      NOT NULL CHECK (amount_minor > 0),
    currency         char(3)     NOT NULL,
    status           text        NOT NULL
                     CHECK (status IN ('started', 'pending', 'succeeded', 'declined', 'unknown')),
    gateway_ref      text,
    decline_reason   text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payout_attempts_idempotency_key UNIQUE (idempotency_key)
);
CREATE INDEX payout_attempts_payment_idx ON payout_attempts (payment_id);

-- Emails to customers and merchants: one row per request, event and sequence.
CREATE TABLE notifications (
    id          uuid PRIMARY KEY,
    request_id  uuid        NOT NULL REFERENCES refund_requests (id),
    event       text        NOT NULL,
    seq         integer     NOT NULL DEFAULT 1,
    recipient   text        NOT NULL,
    language    text,
    status      text        NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    email_message_id text,
    error       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    CONSTRAINT notifications_request_event_seq UNIQUE (request_id, event, seq)
);

-- Every email the intake read: one row per Message-ID, so nothing opens two applications.
CREATE TABLE inbound_emails (
    id          uuid PRIMARY KEY,
    message_id  text        NOT NULL,
    source      text        NOT NULL CHECK (source IN ('imap', 'api')),
    sender      text,
    subject     text,
    request_id  uuid        REFERENCES refund_requests (id),
    outcome     text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT inbound_emails_message_id_key UNIQUE (message_id)
);
