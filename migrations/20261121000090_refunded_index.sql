-- /metrics observes each request refunded since its previous scrape (every 30 s or so): this
-- keeps that read to the new refunds instead of every refund ever made.
CREATE INDEX refund_requests_refunded_idx ON refund_requests (ended_at) WHERE state = 'refunded';
