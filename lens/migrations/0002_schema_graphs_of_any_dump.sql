-- Schema graphs are kept for Kubernetes Dumps too, which have no row in `dumps` (their record
-- is the Dump resource): key them by sandbox id alone. Whoever removes a dump removes its graphs.
ALTER TABLE schema_graphs DROP CONSTRAINT schema_graphs_dump_id_fkey;
