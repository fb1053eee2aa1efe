-- Gateways as published (#18).
--
-- The merchant's order number of a payment (WEBPAY's wsb_order_num, Robokassa's InvId,
-- CloudPayments' InvoiceId): WEBPAY can only be asked about a payment's refunds by it.
ALTER TABLE payments ADD COLUMN order_number text
    CHECK (order_number IS NULL OR length(order_number) BETWEEN 1 AND 128);

-- The key the last send of an attempt carried in the gateway's idempotency header. It is the
-- attempt's key, except after a finished server error that the gateway replays for that key
-- (Stripe keeps "the status code and body of the first request ... including 500 errors" for
-- 24 hours): once the gateway's refund list proves no refund was made, the re-send carries a
-- derived key (`<key>.<n>`), so the refund is not stalled for a day. `server_error` says the
-- last answer was such a finished 5xx; `sends` counts the sends. A NULL request_key is the
-- attempt's own key (every attempt written before this migration).
ALTER TABLE payout_attempts
    ADD COLUMN request_key  text,
    ADD COLUMN sends        integer NOT NULL DEFAULT 1,
    ADD COLUMN server_error boolean NOT NULL DEFAULT false;

-- "The request's latest attempt" was a sequential scan (found by the #19 measurements).
CREATE INDEX payout_attempts_request_idx ON payout_attempts (request_id, created_at DESC);

-- Notifications the gateways send us (CloudPayments Refund, Stripe events, ...), each kept by
-- the gateway's own id so it is applied once however often it is delivered.
CREATE TABLE gateway_notifications (
    gateway      text        NOT NULL,
    merchant     text        NOT NULL,
    event_id     text        NOT NULL,
    kind         text        NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    request_id   uuid        REFERENCES refund_requests (id),
    effect       text        NOT NULL,
    payload      jsonb       NOT NULL,
    PRIMARY KEY (gateway, merchant, event_id)
);
