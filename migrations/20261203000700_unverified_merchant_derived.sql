-- The merchant of an unverified email is the merchant of what it claims, read through the
-- claimed payment or request when it is needed: a copy kept with the email went stale when a
-- reply later tied the claimed request to another merchant's payment, and the wrong
-- merchant's staff then saw and could accept the claim.
ALTER TABLE inbound_emails DROP COLUMN merchant;
