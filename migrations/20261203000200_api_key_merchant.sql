-- API keys belong to one merchant, or explicitly to every merchant (all_merchants). Keys made
-- before this migration reached every merchant's data, so they become all-merchants keys; the
-- README says how to narrow them (create a key for one merchant, then revoke the old one).
ALTER TABLE api_keys
    ADD COLUMN merchant      text,
    ADD COLUMN all_merchants boolean NOT NULL DEFAULT false;
UPDATE api_keys SET all_merchants = true;
-- Exactly one of the two: a key that names no merchant and is not all-merchants cannot exist,
-- so a forgotten scope fails the insert instead of opening every merchant.
ALTER TABLE api_keys
    ADD CONSTRAINT api_keys_scope CHECK ((merchant IS NULL) = all_merchants),
    ADD CONSTRAINT api_keys_merchant_id CHECK (merchant IS NULL OR merchant ~ '^[a-z0-9-]+$');
