//! Building SQL from names that come from a dump: every identifier goes through [`ident`], and
//! every value is a bind parameter.

/// `name` as a quoted SQL identifier: always in double quotes, inner quotes doubled, so any
/// name (capitals, spaces, quotes, keywords) means exactly itself.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `schema.name`, both quoted.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Builds the bind parameters of one statement: `push` returns the `$n` to write in its place.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Params {
    pub values: Vec<Option<String>>,
}

impl Params {
    /// A text parameter, cast to `data_type` (a type as `format_type` writes it, from the
    /// catalog) in the statement.
    pub fn typed(&mut self, value: Option<&str>, data_type: &str) -> String {
        self.values.push(value.map(str::to_string));
        format!("CAST(${} AS {data_type})", self.values.len())
    }

    /// A plain text parameter.
    pub fn text(&mut self, value: &str) -> String {
        self.values.push(Some(value.to_string()));
        format!("${}", self.values.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_identifier_is_quoted_and_means_itself() {
        assert_eq!(ident("actor"), r#""actor""#);
        assert_eq!(ident("Order Lines"), r#""Order Lines""#);
        assert_eq!(
            ident(r#"x"; DROP TABLE t; --"#),
            r#""x""; DROP TABLE t; --""#
        );
        assert_eq!(qualified("public", "select"), r#""public"."select""#);
    }
}
