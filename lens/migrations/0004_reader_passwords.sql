-- The password of each dump's reader role, so that every replica of the API logs in as the
-- reader with the same one (a replica that made a new one would lock the others out).
CREATE TABLE reader_passwords (
    dump_id text PRIMARY KEY,
    password text NOT NULL
);
