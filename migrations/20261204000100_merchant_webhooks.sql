-- The merchants that take webhooks, as the merchants file says: every process writes the
-- list when it starts (shared::merchants::record_webhooks), and a transition queues a webhook
-- message only for a request of one of them. A merchant without a webhook costs no outbox
-- row, no delivery and no webhook transaction (two per refund before).
CREATE TABLE merchant_webhooks (
    merchant   text        PRIMARY KEY,
    written_at timestamptz NOT NULL DEFAULT now()
);
