//! What a statement of a plain script does, as far as restoring it safely is concerned.

/// The kinds of statement that a sandbox restore treats specially; everything else runs as the
/// sandbox role and is subject to the server's permission checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// Runs in the sandbox.
    Execute,
    /// Has no effect on what the session sees later (`SET`, `set_config`): runs in the sandbox,
    /// and does not make a database section worth restoring on its own.
    Setting,
    /// `ALTER ... OWNER TO`, `SET SESSION AUTHORIZATION`, `SET ROLE`: skipped, like
    /// `pg_restore --no-owner`.
    Ownership,
    /// `GRANT`, `REVOKE`, `ALTER DEFAULT PRIVILEGES`: skipped, like `--no-privileges`.
    Privileges,
    /// Security labels, publications and subscriptions: skipped, like pg_restore's `--no-*`
    /// options (a subscription would connect out of the sandbox).
    Replication,
    /// Roles, tablespaces, `ALTER SYSTEM`: cluster-wide, never restored.
    Cluster,
    /// `CREATE DATABASE name` (or `ALTER`, `DROP`, `COMMENT ON`, `SECURITY LABEL ON` a
    /// database): database-level; `name` is as PostgreSQL would fold it.
    Database { verb: DatabaseVerb, name: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseVerb {
    Create,
    Alter,
    Drop,
    Comment,
}

/// Classifies one statement (as the script lexer emits it: leading comments removed).
pub fn classify(sql: &str) -> StatementKind {
    let words: Vec<String> = sql
        .split(|c: char| c.is_whitespace() || c == ';' || c == '(')
        .filter(|w| !w.is_empty())
        .take(4)
        .map(str::to_ascii_uppercase)
        .collect();
    let word = |i: usize| words.get(i).map(String::as_str).unwrap_or("");
    match (word(0), word(1), word(2)) {
        ("SET" | "RESET", "SESSION", "AUTHORIZATION") | ("SET" | "RESET", "ROLE", _) => {
            StatementKind::Ownership
        }
        ("SET" | "RESET", ..) => StatementKind::Setting,
        ("SELECT", w, _) if w.starts_with("PG_CATALOG.SET_CONFIG") => StatementKind::Setting,
        ("GRANT" | "REVOKE", ..) | ("ALTER", "DEFAULT", "PRIVILEGES") => StatementKind::Privileges,
        ("SECURITY", "LABEL", _) if !(word(3) == "DATABASE" || sql_mentions_on_database(sql)) => {
            StatementKind::Replication
        }
        ("CREATE" | "ALTER" | "DROP", "PUBLICATION" | "SUBSCRIPTION", _) => {
            StatementKind::Replication
        }
        ("CREATE" | "ALTER" | "DROP", "ROLE" | "USER" | "GROUP" | "TABLESPACE", _)
        | ("ALTER", "SYSTEM", _) => StatementKind::Cluster,
        ("CREATE", "DATABASE", _) => database(DatabaseVerb::Create, sql, 2),
        ("ALTER", "DATABASE", _) => database(DatabaseVerb::Alter, sql, 2),
        ("DROP", "DATABASE", _) => {
            let skip = if word(2) == "IF" && word(3) == "EXISTS" {
                4
            } else {
                2
            };
            database(DatabaseVerb::Drop, sql, skip)
        }
        ("COMMENT", "ON", "DATABASE") => database(DatabaseVerb::Comment, sql, 3),
        ("SECURITY", "LABEL", _) => StatementKind::Cluster,
        ("ALTER", ..) if is_owner_change(sql) => StatementKind::Ownership,
        _ => StatementKind::Execute,
    }
}

fn sql_mentions_on_database(sql: &str) -> bool {
    sql.to_ascii_uppercase().contains(" ON DATABASE ")
}

/// `ALTER <object> <name> OWNER TO <role>;`, as pg_dump writes it (the role may be a quoted
/// identifier with spaces).
fn is_owner_change(sql: &str) -> bool {
    let words = words_outside_quotes(sql.trim_end().trim_end_matches(';'));
    words.len() >= 4
        && words[words.len() - 3].eq_ignore_ascii_case("OWNER")
        && words[words.len() - 2].eq_ignore_ascii_case("TO")
}

/// Client encodings in which a multi-byte character can contain the bytes of `\` or `'`: psql
/// (and the server) then split statements differently from a UTF-8 reader.
const UNSAFE_ENCODINGS: &[&str] = &[
    "SJIS",
    "SHIFT_JIS_2004",
    "BIG5",
    "GBK",
    "UHC",
    "GB18030",
    "JOHAB",
    "WIN932",
    "WIN936",
    "WIN949",
    "WIN950",
];

/// Why a `SET` would make the server read the rest of the script differently from our lexer
/// (which assumes standard-conforming strings and an ASCII-safe encoding), if it would.
pub fn changes_script_syntax(sql: &str) -> Option<String> {
    let words = words_outside_quotes(sql.trim_end().trim_end_matches(';'));
    let mut words = words
        .iter()
        .map(|w| w.trim_matches(|c| c == '\'' || c == '"'));
    if !words.next()?.eq_ignore_ascii_case("SET") {
        return None;
    }
    let mut name = words.next()?;
    if name.eq_ignore_ascii_case("SESSION") || name.eq_ignore_ascii_case("LOCAL") {
        name = words.next()?;
    }
    let value = words
        .find(|w| !(*w == "=" || w.eq_ignore_ascii_case("TO")))
        .unwrap_or_default()
        .to_ascii_uppercase();
    if name.eq_ignore_ascii_case("standard_conforming_strings")
        && !matches!(value.as_str(), "ON" | "TRUE" | "1" | "YES" | "DEFAULT")
    {
        return Some("standard_conforming_strings must stay on".into());
    }
    if name.eq_ignore_ascii_case("client_encoding") && UNSAFE_ENCODINGS.contains(&value.as_str()) {
        return Some(format!(
            "client_encoding {value} is not supported in a plain script; convert the dump to UTF8 or use pg_dump -Fc"
        ));
    }
    None
}

/// Splits on whitespace, keeping double-quoted identifiers whole.
fn words_outside_quotes(s: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !quoted => {
                if let Some(begin) = start.take() {
                    words.push(&s[begin..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(begin) = start {
        words.push(&s[begin..]);
    }
    words
}

fn database(verb: DatabaseVerb, sql: &str, skip_words: usize) -> StatementKind {
    let mut rest = sql.trim_start();
    for _ in 0..skip_words {
        rest = rest
            .trim_start()
            .split_once(char::is_whitespace)
            .map_or("", |(_, r)| r);
    }
    StatementKind::Database {
        verb,
        name: leading_identifier(rest.trim_start()),
    }
}

/// The identifier at the start of `s`: a quoted one verbatim, a bare one folded to lower case.
pub fn leading_identifier(s: &str) -> String {
    if let Some(quoted) = s.strip_prefix('"') {
        let mut name = String::new();
        let mut chars = quoted.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    name.push('"');
                } else {
                    break;
                }
            } else {
                name.push(c);
            }
        }
        name
    } else {
        s.split(|c: char| c.is_whitespace() || c == ';')
            .next()
            .unwrap_or_default()
            .to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_pg_dump_writes_is_classified() {
        use StatementKind::*;
        let cases = [
            ("SET statement_timeout = 0;", Setting),
            (
                "SELECT pg_catalog.set_config('search_path', '', false);",
                Setting,
            ),
            ("ALTER TABLE public.actor OWNER TO postgres;", Ownership),
            (
                "ALTER FUNCTION public.f(integer) OWNER TO \"Some Role\";",
                Ownership,
            ),
            ("SET SESSION AUTHORIZATION 'postgres';", Ownership),
            ("SET ROLE postgres;", Ownership),
            ("GRANT ALL ON TABLE public.actor TO app;", Privileges),
            ("REVOKE USAGE ON SCHEMA public FROM PUBLIC;", Privileges),
            (
                "ALTER DEFAULT PRIVILEGES FOR ROLE x GRANT SELECT ON TABLES TO y;",
                Privileges,
            ),
            ("CREATE ROLE postgres;", Cluster),
            ("ALTER ROLE postgres WITH SUPERUSER LOGIN;", Cluster),
            ("CREATE TABLESPACE t LOCATION '/tmp';", Cluster),
            ("ALTER SYSTEM SET archive_command = 'rm -rf /';", Cluster),
            (
                "CREATE SUBSCRIPTION s CONNECTION 'host=evil' PUBLICATION p;",
                Replication,
            ),
            ("SECURITY LABEL FOR selinux ON TABLE t IS 'x';", Replication),
            ("CREATE TABLE public.actor (id int);", Execute),
            (
                "ALTER TABLE ONLY public.actor ADD CONSTRAINT actor_pkey PRIMARY KEY (id);",
                Execute,
            ),
            ("COPY public.t TO PROGRAM 'id';", Execute),
        ];
        for (sql, expected) in cases {
            assert_eq!(classify(sql), expected, "{sql}");
        }
    }

    #[test]
    fn settings_that_change_how_the_script_reads_are_named() {
        assert_eq!(
            changes_script_syntax("SET standard_conforming_strings = on;"),
            None
        );
        assert_eq!(changes_script_syntax("SET client_encoding = 'UTF8';"), None);
        assert_eq!(
            changes_script_syntax("SET client_encoding = 'LATIN1';"),
            None
        );
        assert!(changes_script_syntax("SET standard_conforming_strings = off;").is_some());
        assert!(
            changes_script_syntax("set session standard_conforming_strings to 'off'").is_some()
        );
        assert!(
            changes_script_syntax("SET client_encoding = 'SJIS';")
                .unwrap()
                .contains("SJIS")
        );
    }

    #[test]
    fn database_statements_name_their_database() {
        let db = |verb, name: &str| StatementKind::Database {
            verb,
            name: name.into(),
        };
        assert_eq!(
            classify("CREATE DATABASE chinook WITH TEMPLATE = template0 ENCODING = 'UTF8';"),
            db(DatabaseVerb::Create, "chinook")
        );
        assert_eq!(
            classify("CREATE DATABASE \"My \"\"Db\"\"\" WITH TEMPLATE = template0;"),
            db(DatabaseVerb::Create, "My \"Db\"")
        );
        assert_eq!(
            classify("ALTER DATABASE Chinook OWNER TO postgres;"),
            db(DatabaseVerb::Alter, "chinook")
        );
        assert_eq!(
            classify("DROP DATABASE IF EXISTS postgres;"),
            db(DatabaseVerb::Drop, "postgres")
        );
        assert_eq!(
            classify("COMMENT ON DATABASE world IS 'x';"),
            db(DatabaseVerb::Comment, "world")
        );
    }
}
