-- The outbox's NOTIFY trigger goes: every commit that inserted outbox rows took the cluster-wide
-- notification lock, serialising commits (pgbench here: 2,770 write transactions/s without it,
-- 1,628 with it). The relay is woken in-process by the code that writes the rows
-- (shared::outbox::enqueue), finds more rows at once while there are some, and otherwise looks
-- every relay_poll_interval (100 ms by default).
DROP TRIGGER IF EXISTS outbox_inserted ON outbox;
DROP FUNCTION IF EXISTS outbox_notify();
