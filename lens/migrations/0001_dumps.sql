-- The standalone server's record of each dump. The sandbox role and databases are named from
-- the id (dl_<id>), so a record is all that is needed to clean up after a dump.
CREATE TABLE dumps (
    id text PRIMARY KEY,
    name text NOT NULL,
    phase text NOT NULL,
    message text,
    -- The dump file; deleted with the dump only when owns_file (an upload, not a path the user
    -- pointed at).
    file text NOT NULL,
    owns_file boolean NOT NULL,
    format text,
    pg_dump_version text,
    size_bytes bigint,
    -- The restore summary (databases, tables, rows, warnings, errors) once known.
    summary jsonb,
    progress jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    restored_at timestamptz,
    expires_at timestamptz
);

-- The schema graph of each restored database, stored once.
CREATE TABLE schema_graphs (
    dump_id text NOT NULL REFERENCES dumps (id) ON DELETE CASCADE,
    database text NOT NULL,
    graph jsonb NOT NULL,
    PRIMARY KEY (dump_id, database)
);
