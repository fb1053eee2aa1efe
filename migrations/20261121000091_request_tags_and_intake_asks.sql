-- Request tags in email subjects are `RF-` and the last 8 hex digits of the request id (the
-- random end of a UUIDv7); replies are matched to requests by them.
CREATE INDEX refund_requests_tag_idx ON refund_requests (right(id::text, 8));

-- What the intake's automatic answer asked the customer for (payment_reference,
-- payment_choice, reason, customer_name), so validation does not ask the same thing again in
-- a second email.
ALTER TABLE inbound_emails ADD COLUMN reply_asked text[];
