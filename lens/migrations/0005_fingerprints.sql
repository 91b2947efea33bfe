-- Each table's rows summarised by buckets of its integer key (lens::diff::Fingerprint), taken
-- once after a restore so that diffs need not read whole tables. They belong to their
-- database's schema graph and go with it.
CREATE TABLE fingerprints (
    dump_id text NOT NULL,
    database text NOT NULL,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    key_column text NOT NULL,
    row_hash text NOT NULL,
    shift int NOT NULL,
    buckets int8[] NOT NULL,
    row_counts int8[] NOT NULL,
    hashes int8[] NOT NULL,
    PRIMARY KEY (dump_id, database, schema_name, table_name),
    FOREIGN KEY (dump_id, database) REFERENCES schema_graphs (dump_id, database) ON DELETE CASCADE
);
