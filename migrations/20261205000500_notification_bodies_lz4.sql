-- #19: the email a customer read is kept (`notifications.body_text` and `body_html`, written
-- when it is sent: three a refund). A row that long is compressed by Postgres; with its
-- default, pglz, that cost 20.5 µs a row here, with lz4 8.5 µs (the same 60,000 rows of a sent
-- email's subject and bodies inserted each way, 2026-12-05, docs/PERFORMANCE.md). lz4 when the
-- server is built with it (Debian's and PGDG's packages are); otherwise nothing changes. Values
-- already stored keep their compression; a column may hold both, Postgres reads each.
DO $$
BEGIN
    ALTER TABLE notifications
        ALTER COLUMN body_text SET COMPRESSION lz4,
        ALTER COLUMN body_html SET COMPRESSION lz4;
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'lz4 is not built into this PostgreSQL: email bodies stay compressed with pglz';
END $$;
