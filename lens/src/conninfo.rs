//! A PostgreSQL server address with a login, usable both by our own connections (sqlx) and by
//! the PostgreSQL client programs we run (libpq environment variables, so passwords never
//! appear in a process's command line).

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use url::Url;

#[derive(Debug, thiserror::Error)]
#[error("invalid PostgreSQL URL ({0}); expected postgres://USER:PASSWORD@HOST:PORT/DATABASE")]
pub struct InvalidUrl(String);

/// A `postgres://` URL.
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl(Url);

impl std::fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ServerUrl({})", self.redacted())
    }
}

impl FromStr for ServerUrl {
    type Err = InvalidUrl;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = Url::parse(s).map_err(|e| InvalidUrl(e.to_string()))?;
        if !matches!(url.scheme(), "postgres" | "postgresql") {
            return Err(InvalidUrl(format!("scheme {:?}", url.scheme())));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(InvalidUrl("no host".into()));
        }
        Ok(Self(url))
    }
}

impl ServerUrl {
    /// The same server as another user.
    pub fn with_login(&self, user: &str, password: &str) -> Self {
        let mut url = self.0.clone();
        url.set_username(user).expect("postgres URLs have a host");
        url.set_password(Some(password))
            .expect("postgres URLs have a host");
        Self(url)
    }

    /// The same server and user, another database.
    pub fn with_database(&self, database: &str) -> Self {
        let mut url = self.0.clone();
        url.path_segments_mut()
            .expect("postgres URLs have a path")
            .clear()
            .push(database);
        Self(url)
    }

    pub fn user(&self) -> String {
        percent_decode(self.0.username())
    }

    pub fn database(&self) -> Option<String> {
        let path = self.0.path().trim_start_matches('/');
        (!path.is_empty()).then(|| percent_decode(path))
    }

    pub fn connect_options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(self.0.as_str()).expect("validated when parsed")
    }

    /// libpq environment variables for the client programs.
    pub fn libpq_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if let Some(host) = self.0.host_str() {
            env.push(("PGHOST", host.trim_matches(['[', ']']).to_string()));
        }
        if let Some(port) = self.0.port() {
            env.push(("PGPORT", port.to_string()));
        }
        env.push(("PGUSER", self.user()));
        if let Some(password) = self.0.password() {
            env.push(("PGPASSWORD", percent_decode(password)));
        }
        if let Some(database) = self.database() {
            env.push(("PGDATABASE", database));
        }
        if let Some((_, mode)) = self.0.query_pairs().find(|(k, _)| k == "sslmode") {
            env.push(("PGSSLMODE", mode.into_owned()));
        }
        env
    }

    /// The whole URL, password included: for a child process's environment, never for logs.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The URL without its password, for messages.
    pub fn redacted(&self) -> String {
        let mut url = self.0.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some("***"));
        }
        url.to_string()
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_databases_are_replaced_and_exported_for_libpq() {
        let admin: ServerUrl = "postgres://postgres:s3cret@127.0.0.1:5433/postgres?sslmode=disable"
            .parse()
            .unwrap();
        let role = admin.with_login("dl_abc", "p%w+d").with_database("dl_abc");
        let env = role.libpq_env();
        assert!(env.contains(&("PGHOST", "127.0.0.1".into())));
        assert!(env.contains(&("PGPORT", "5433".into())));
        assert!(env.contains(&("PGUSER", "dl_abc".into())));
        assert!(env.contains(&("PGPASSWORD", "p%w+d".into())));
        assert!(env.contains(&("PGDATABASE", "dl_abc".into())));
        assert!(env.contains(&("PGSSLMODE", "disable".into())));
        assert!(!role.redacted().contains("p%w"), "{}", role.redacted());
    }

    #[test]
    fn other_schemes_and_hostless_urls_are_refused() {
        assert!("mysql://a@b/c".parse::<ServerUrl>().is_err());
        assert!("postgres:///db".parse::<ServerUrl>().is_err());
        assert!("not a url".parse::<ServerUrl>().is_err());
    }
}
