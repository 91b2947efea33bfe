//! Which databases a plain script holds. A `pg_dumpall` file (or `pg_dump --create` output)
//! switches databases with `\connect`; the part before the first `\connect` is cluster-wide.

use std::io::BufRead;

use super::Limits;
use super::script::{ScriptError, ScriptItem, ScriptReader, connect_target};
use super::statement::{DatabaseVerb, StatementKind, classify};

/// The databases a script restores into, in the order they appear: every database it creates,
/// and every database it connects to and puts objects or data in. pg_dumpall writes sections
/// for `template1` and `postgres` that usually hold nothing but settings; those are left out.
/// A script with no `\connect` (plain `pg_dump` output) does not name its database: empty.
pub fn database_names(reader: impl BufRead, limits: &Limits) -> Result<Vec<String>, ScriptError> {
    let mut script = ScriptReader::new(reader, limits.max_statement_bytes);
    let mut names = Vec::new();
    let mut current: Option<String> = None;
    while let Some(item) = script.next_item()? {
        match item {
            ScriptItem::MetaCommand { name, args, .. } if is_connect(&name) => {
                current = connect_target(&args);
            }
            ScriptItem::Statement { sql, .. } => match classify(&sql) {
                StatementKind::Database {
                    verb: DatabaseVerb::Create,
                    name,
                } => add(&mut names, name),
                StatementKind::Execute => {
                    if let Some(db) = &current {
                        add(&mut names, db.clone());
                    }
                }
                _ => {}
            },
            ScriptItem::CopyStart { .. } => {
                if let Some(db) = &current {
                    add(&mut names, db.clone());
                }
            }
            _ => {}
        }
    }
    Ok(names)
}

/// `\connect` and its abbreviation `\c`.
pub fn is_connect(meta_command: &str) -> bool {
    matches!(meta_command, "connect" | "c")
}

fn add(names: &mut Vec<String>, name: String) {
    if !names.contains(&name) {
        names.push(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(script: &str) -> Vec<String> {
        database_names(script.as_bytes(), &Limits::default()).unwrap()
    }

    #[test]
    fn dumpall_sections_with_content_or_created_are_databases() {
        let script = "CREATE ROLE postgres;\n\\connect template1\nSET x = 1;\n\
            CREATE DATABASE chinook;\n\\connect chinook\nCREATE TABLE t (a int);\n\
            \\connect postgres\nSET y = 2;\n\
            CREATE DATABASE \"My Db\";\n\\connect -reuse-previous=on \"dbname='My Db'\"\n\
            COPY t (a) FROM stdin;\n1\n\\.\n";
        assert_eq!(names(script), ["chinook", "My Db"]);
    }

    #[test]
    fn a_plain_pg_dump_does_not_name_its_database() {
        assert!(names("SET x = 1;\nCREATE TABLE t (a int);\n").is_empty());
    }

    #[test]
    fn postgres_with_objects_is_a_database() {
        assert_eq!(
            names("\\connect postgres\nCREATE TABLE kept (a int);\n"),
            ["postgres"]
        );
    }
}
