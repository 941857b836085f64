-- History's ticket rows no longer reference `queues` by a foreign key. The key made InnoDB keep
-- an index on `queue_id` that no query reads, and check the queue on every ticket written:
-- 6-11 % of MariaDB's CPU for the rows the projector inserts (scripts/history-insert-probe.sh).
-- The engine only ever records tickets of the venue's own queues, and queues are never deleted
-- (only marked removed).
ALTER TABLE tickets DROP FOREIGN KEY IF EXISTS tickets_queue;
ALTER TABLE tickets DROP INDEX IF EXISTS tickets_queue;
