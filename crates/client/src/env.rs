//! Where to connect and as whom, read from the environment the way OpenNebula's clients do:
//!
//! - endpoint: `ONE_XMLRPC`, else the first line of `~/.one/one_endpoint`, else
//!   [`DEFAULT_ENDPOINT`];
//! - credentials: `ONE_AUTH` names a file holding one `user:password` line (opennebula-cli
//!   also accepts the `user:password` text itself when no such file exists); unset, it is
//!   `~/.one/one_auth`, then `/var/lib/one/.one/one_auth`;
//! - `ONE_XMLRPC_TIMEOUT`: seconds a whole call may take (unset or 0: no limit).
//!
//! [`Env`] holds the raw values, so resolution is tested without touching the process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ClientError;

/// The endpoint Ruby's and Go's clients use when nothing is configured.
pub const DEFAULT_ENDPOINT: &str = "http://localhost:2633/RPC2";

/// Where OpenNebula's own daemons keep oneadmin's credentials; Ruby falls back to it.
const SYSTEM_AUTH: &str = "/var/lib/one/.one/one_auth";

/// The raw settings a client reads: environment variables and the home directory.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// `ONE_XMLRPC`.
    pub one_xmlrpc: Option<String>,
    /// `ONE_AUTH`.
    pub one_auth: Option<String>,
    /// `ONE_XMLRPC_TIMEOUT`.
    pub one_xmlrpc_timeout: Option<String>,
    /// The user's home directory (for `~/.one/…`).
    pub home: Option<PathBuf>,
}

impl Env {
    /// The current process's variables and home directory.
    pub fn from_process() -> Env {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Env {
            one_xmlrpc: var("ONE_XMLRPC"),
            one_auth: var("ONE_AUTH"),
            one_xmlrpc_timeout: var("ONE_XMLRPC_TIMEOUT"),
            home: dirs::home_dir(),
        }
    }

    /// The XML-RPC endpoint.
    pub fn endpoint(&self) -> String {
        if let Some(url) = &self.one_xmlrpc {
            return url.trim().to_owned();
        }
        self.home
            .as_deref()
            .and_then(|home| first_line(&home.join(".one").join("one_endpoint")))
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
    }

    /// The session string, `user:password`.
    pub fn session(&self) -> Result<String, ClientError> {
        if let Some(value) = &self.one_auth {
            let path = PathBuf::from(value.trim());
            if path.is_file() {
                return read_auth_file(&path);
            }
            if value.contains(':') {
                return check_session(value.trim(), "ONE_AUTH");
            }
            return Err(ClientError::AuthMissing { path });
        }
        let home_auth = self.home.as_deref().map_or_else(
            || PathBuf::from("~/.one/one_auth"),
            |h| h.join(".one").join("one_auth"),
        );
        for path in [home_auth.as_path(), Path::new(SYSTEM_AUTH)] {
            if path.is_file() {
                return read_auth_file(path);
            }
        }
        Err(ClientError::AuthMissing { path: home_auth })
    }

    /// The time limit of one call, if any.
    pub fn timeout(&self) -> Result<Option<Duration>, ClientError> {
        let Some(text) = &self.one_xmlrpc_timeout else {
            return Ok(None);
        };
        let invalid = || ClientError::InvalidTimeout {
            value: text.clone(),
        };
        let secs: f64 = text.trim().parse().map_err(|_| invalid())?;
        if !secs.is_finite() || secs < 0.0 {
            return Err(invalid());
        }
        Ok((secs > 0.0).then(|| Duration::from_secs_f64(secs)))
    }
}

/// The first non-blank line of a file, trimmed; None if it cannot be read or is blank.
fn first_line(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// The session held in a `one_auth` file.
fn read_auth_file(path: &Path) -> Result<String, ClientError> {
    let text = std::fs::read_to_string(path).map_err(|source| ClientError::AuthRead {
        path: path.to_owned(),
        source,
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    check_session(line, &path.display().to_string())
}

/// `session` if it looks like `user:secret` with a non-empty user.
fn check_session(session: &str, origin: &str) -> Result<String, ClientError> {
    match session.split_once(':') {
        Some((user, _)) if !user.is_empty() => Ok(session.to_owned()),
        _ => Err(ClientError::AuthMalformed {
            origin: origin.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join(".one")).expect("mkdir");
        for (name, text) in files {
            std::fs::write(dir.path().join(".one").join(name), text).expect("write");
        }
        dir
    }

    fn env_in(home: &Path) -> Env {
        Env {
            home: Some(home.to_owned()),
            ..Env::default()
        }
    }

    #[test]
    fn endpoint_prefers_the_variable_then_the_file_then_the_default() {
        let empty = home_with(&[]);
        assert_eq!(env_in(empty.path()).endpoint(), DEFAULT_ENDPOINT);
        let home = home_with(&[("one_endpoint", "\n  http://h:1/RPC2  \n")]);
        let mut env = env_in(home.path());
        assert_eq!(env.endpoint(), "http://h:1/RPC2");
        env.one_xmlrpc = Some("http://x:2/RPC2".into());
        assert_eq!(env.endpoint(), "http://x:2/RPC2");
    }

    #[test]
    fn session_from_the_home_file() {
        let home = home_with(&[("one_auth", "oneadmin:secret\n")]);
        assert_eq!(
            env_in(home.path()).session().expect("session"),
            "oneadmin:secret"
        );
    }

    #[test]
    fn one_auth_names_a_file_or_holds_the_session() {
        let home = home_with(&[("other", "alice:pw:with:colons\r\n")]);
        let mut env = env_in(home.path());
        env.one_auth = Some(home.path().join(".one/other").display().to_string());
        assert_eq!(env.session().expect("file"), "alice:pw:with:colons");
        env.one_auth = Some("bob:pw".into());
        assert_eq!(env.session().expect("literal"), "bob:pw");
        env.one_auth = Some("/no/such/file".into());
        let err = env.session().expect_err("missing");
        assert!(matches!(err, ClientError::AuthMissing { .. }), "{err:?}");
        assert!(err.to_string().contains("/no/such/file"));
    }

    #[test]
    fn missing_and_malformed_credentials() {
        let empty = home_with(&[]);
        let err = env_in(empty.path()).session().expect_err("missing");
        if std::path::Path::new(SYSTEM_AUTH).is_file() {
            return;
        }
        assert!(err.to_string().starts_with("no credentials: "), "{err}");
        let bad = home_with(&[("one_auth", "no-colon\n")]);
        let err = env_in(bad.path()).session().expect_err("malformed");
        assert!(matches!(err, ClientError::AuthMalformed { .. }), "{err:?}");
        let blank = home_with(&[("one_auth", ":pw\n")]);
        assert!(env_in(blank.path()).session().is_err());
    }

    #[test]
    fn timeouts() {
        let mut env = Env::default();
        assert_eq!(env.timeout().expect("unset"), None);
        env.one_xmlrpc_timeout = Some("30".into());
        assert_eq!(env.timeout().expect("30"), Some(Duration::from_secs(30)));
        env.one_xmlrpc_timeout = Some("0".into());
        assert_eq!(env.timeout().expect("0"), None);
        env.one_xmlrpc_timeout = Some("soon".into());
        assert!(matches!(
            env.timeout(),
            Err(ClientError::InvalidTimeout { .. })
        ));
        env.one_xmlrpc_timeout = Some("-1".into());
        assert!(env.timeout().is_err());
    }
}
