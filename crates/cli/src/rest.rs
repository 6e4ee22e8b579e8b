//! The REST/JSON API's client for `nubo app`: one base URL (`--api`, `NUBO_API`, else
//! [`DEFAULT_API`]) and one user, HTTP Basic with the same `user:password` the XML-RPC
//! commands use (`--user`/`--password`, else `ONE_AUTH` / `~/.one/one_auth`).
//!
//! Blocking and plain HTTP with `ureq`, which `nubo-client` already uses: no second HTTP
//! stack, no async runtime in the CLI. Ordinary calls give up after [`IDLE`] without a
//! byte; followed logs have no time limit at all (a build may be silent for minutes, and
//! a log that flows must never be cut), only the connection has [`CONNECT`].
//!
//! Failures are [`RestError`]s: the server's problem details (`detail` is what the user
//! reads) and everything that kept the conversation from happening; [`RestError::exit_code`]
//! maps them onto the CLI's exit codes.

use std::fmt;
use std::io::{Read, Write};
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// Where the API is when nothing says otherwise (`nubod --api` alone).
pub const DEFAULT_API: &str = "http://127.0.0.1:8080/api/v1";

/// How long connecting may take.
const CONNECT: Duration = Duration::from_secs(30);

/// The longest silence of the server during an ordinary call.
const IDLE: Duration = Duration::from_secs(300);

/// The longest the server may stop taking an upload.
const UPLOAD_IDLE: Duration = Duration::from_secs(60);

/// The largest JSON reply read.
const MAX_JSON: u64 = 64 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug)]
pub enum RestError {
    /// The API answered with a problem (RFC 9457): `detail` says what went wrong.
    Problem {
        /// The HTTP status.
        status: u16,
        /// What went wrong.
        detail: String,
    },
    /// No HTTP answer: connection refused, reset, timed out, bad URL.
    Transport {
        /// The URL called.
        url: String,
        /// What the HTTP client said.
        source: Box<ureq::Error>,
    },
    /// An answer that is not the API's: another status without a problem, or not JSON.
    Foreign {
        /// The URL called.
        url: String,
        /// What was wrong with it.
        what: String,
    },
    /// The client is not set up: no credentials, an https URL, a malformed URL.
    Config(String),
}

impl fmt::Display for RestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RestError::Problem {
                status: 401,
                detail,
            } => write!(
                f,
                "{detail} (credentials come from --user/--password, else ONE_AUTH or ~/.one/one_auth)"
            ),
            RestError::Problem { detail, .. } => f.write_str(detail),
            RestError::Transport { url, source } => write!(f, "cannot reach {url}: {source}"),
            RestError::Foreign { url, what } => {
                write!(f, "{url} {what} (is --api / NUBO_API the Nubo API's URL?)")
            }
            RestError::Config(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RestError {}

impl RestError {
    /// The CLI's exit code for it: 1 refused, 3 no conversation or not configured.
    pub fn exit_code(&self) -> u8 {
        match self {
            RestError::Problem { .. } => 1,
            RestError::Transport { .. } | RestError::Foreign { .. } | RestError::Config(_) => 3,
        }
    }
}

/// How following a log ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Followed {
    /// The server ended the stream after this many bytes.
    Ended(u64),
    /// Whoever reads our output went away (a closed pipe): stop quietly.
    Closed,
}

/// The API of one nubod, as one user.
pub struct Api {
    base: String,
    authorization: String,
    calls: ureq::Agent,
    streams: ureq::Agent,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Api")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

/// A log read once: its text and the offset to read from next.
#[derive(Debug)]
pub struct LogPiece {
    /// The bytes read.
    pub data: Vec<u8>,
    /// Where the next read starts.
    pub next: u64,
}

impl Api {
    /// The API at `base` (e.g. `http://cloud:8080/api/v1`) as `session` (`user:password`).
    pub fn new(base: &str, session: &str) -> Result<Api, RestError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        let scheme = base.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
        match scheme.as_deref() {
            Some("http") => {}
            Some("https") => {
                return Err(RestError::Config(format!(
                    "{base}: https is not supported by this build, use an http:// URL"
                )));
            }
            _ => {
                return Err(RestError::Config(format!(
                    "invalid API URL {base:?}: expected http://HOST:PORT/api/v1"
                )));
            }
        }
        let encoded = base64::engine::general_purpose::STANDARD.encode(session.as_bytes());
        let agent = |per_read: Option<Duration>| {
            ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_connect(Some(CONNECT))
                .timeout_per_read(per_read)
                .timeout_per_write(Some(UPLOAD_IDLE))
                .user_agent(concat!("nubo/", env!("CARGO_PKG_VERSION")))
                .build()
                .new_agent()
        };
        Ok(Api {
            base,
            authorization: format!("Basic {encoded}"),
            calls: agent(Some(IDLE)),
            streams: agent(None),
        })
    }

    /// The API's base URL, e.g. `http://cloud:8080/api/v1`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path` (which starts with `/`).
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET path`: its JSON.
    pub fn get(&self, path: &str) -> Result<Value, RestError> {
        let url = self.url(path);
        let reply = self
            .calls
            .get(&url)
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .call();
        json_of(&url, reply)
    }

    /// `POST`/`PATCH`/`PUT path` with a JSON body: the JSON answered.
    pub fn send_json(&self, method: &str, path: &str, body: &Value) -> Result<Value, RestError> {
        let url = self.url(path);
        let request = match method {
            "PATCH" => self.calls.patch(&url),
            "PUT" => self.calls.put(&url),
            _ => self.calls.post(&url),
        };
        let reply = request
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .content_type("application/json")
            .send(body.to_string());
        json_of(&url, reply)
    }

    /// `POST path` with `file` as the body, of `content_type`: the JSON answered.
    pub fn send_file(
        &self,
        path: &str,
        content_type: &str,
        file: &std::fs::File,
    ) -> Result<Value, RestError> {
        let url = self.url(path);
        let reply = self
            .calls
            .post(&url)
            .header("Authorization", &self.authorization)
            .header("Accept", "application/json")
            .content_type(content_type)
            .send(file);
        json_of(&url, reply)
    }

    /// `DELETE path`.
    pub fn delete(&self, path: &str) -> Result<(), RestError> {
        let url = self.url(path);
        let reply = self
            .calls
            .delete(&url)
            .header("Authorization", &self.authorization)
            .call();
        let mut response = reply.map_err(|e| transport(&url, e))?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        Err(failure(&url, status, &mut response))
    }

    /// A log as it is now, from `offset` (`GET path?offset=N`, the server's `Nubo-Log-Next`
    /// saying where it ends).
    pub fn log(&self, path: &str, offset: u64) -> Result<LogPiece, RestError> {
        let url = self.url(&format!("{path}?offset={offset}"));
        let mut response = self
            .calls
            .get(&url)
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| transport(&url, e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(failure(&url, status, &mut response));
        }
        let next = response
            .headers()
            .get("nubo-log-next")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let data = response
            .body_mut()
            .with_config()
            .limit(MAX_JSON)
            .read_to_vec()
            .map_err(|e| transport(&url, e))?;
        let next = next.unwrap_or(offset + data.len() as u64);
        Ok(LogPiece { data, next })
    }

    /// Follows a log from `offset` (`GET path?follow=true&offset=N`), writing what comes to
    /// `out` as it comes, until the server ends it. A stream cut short is reported with the
    /// bytes that had come, so that the caller may go on from there.
    pub fn follow(
        &self,
        path: &str,
        offset: u64,
        out: &mut dyn Write,
    ) -> Result<Followed, (u64, RestError)> {
        self.stream(&format!("{path}?follow=true&offset={offset}"), out)
    }

    /// `GET path_and_query`, its text written to `out` as it comes, until the server ends
    /// it (or `out` is gone). A stream cut short is reported with the bytes that had come.
    pub fn stream(
        &self,
        path_and_query: &str,
        out: &mut dyn Write,
    ) -> Result<Followed, (u64, RestError)> {
        let url = self.url(path_and_query);
        let mut response = self
            .streams
            .get(&url)
            .header("Authorization", &self.authorization)
            .call()
            .map_err(|e| (0, transport(&url, e)))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err((0, failure(&url, status, &mut response)));
        }
        let mut reader = response.into_body().into_reader();
        let mut buffer = [0u8; 16 * 1024];
        let mut written = 0u64;
        loop {
            let n = match reader.read(&mut buffer) {
                Ok(0) => return Ok(Followed::Ended(written)),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    return Err((
                        written,
                        RestError::Foreign {
                            url,
                            what: format!("broke off the log: {e}"),
                        },
                    ));
                }
            };
            let piece = buffer.get(..n).unwrap_or_default();
            let shown = out.write_all(piece).and_then(|()| out.flush());
            if let Err(e) = shown {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(Followed::Closed);
                }
                return Err((written, RestError::Config(format!("cannot write: {e}"))));
            }
            written += n as u64;
        }
    }
}

/// A transport failure of a call to `url`.
fn transport(url: &str, e: ureq::Error) -> RestError {
    RestError::Transport {
        url: url.to_owned(),
        source: Box::new(e),
    }
}

/// The JSON of a successful reply; the problem of a failed one.
fn json_of(
    url: &str,
    reply: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
) -> Result<Value, RestError> {
    let mut response = reply.map_err(|e| transport(url, e))?;
    let status = response.status().as_u16();
    if !(200..300).contains(&status) {
        return Err(failure(url, status, &mut response));
    }
    let text = response
        .body_mut()
        .with_config()
        .limit(MAX_JSON)
        .read_to_string()
        .map_err(|e| transport(url, e))?;
    serde_json::from_str(&text).map_err(|_| RestError::Foreign {
        url: url.to_owned(),
        what: format!("answered {status} with a body that is not JSON"),
    })
}

/// The error of a reply with a failure status: its problem, if it is one.
fn failure(url: &str, status: u16, response: &mut ureq::http::Response<ureq::Body>) -> RestError {
    let problem_json = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    let text = response
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    let problem: Option<Value> = problem_json
        .then(|| serde_json::from_str(&text).ok())
        .flatten();
    match problem {
        // The API's answer for a path outside it: the base URL is wrong, no object is
        // missing (its problem has the same code as a missing app, only this detail).
        Some(p)
            if status == 404
                && p["detail"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("no resource at ")) =>
        {
            RestError::Foreign {
                url: url.to_owned(),
                what: "is no resource of the API".to_owned(),
            }
        }
        Some(p) => RestError::Problem {
            status,
            detail: p["detail"]
                .as_str()
                .or(p["title"].as_str())
                .map_or_else(|| format!("http status {status}"), str::to_owned),
        },
        None => RestError::Foreign {
            url: url.to_owned(),
            what: format!("answered http status {status}"),
        },
    }
}

/// `text` as one path segment: everything but unreserved characters percent-encoded.
pub fn segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("shop-1"), "shop-1");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(segment(".."), "..");
        assert_eq!(segment("é"), "%C3%A9");
    }

    #[test]
    fn urls_are_checked_before_any_call() {
        let err = Api::new("https://cloud/api/v1", "a:b").expect_err("https");
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("https is not supported"), "{err}");
        assert!(Api::new("cloud:8080", "a:b").is_err());
        let api = Api::new("http://cloud:8080/api/v1/", "a:b").expect("http");
        assert_eq!(api.url("/apps"), "http://cloud:8080/api/v1/apps");
        assert!(!format!("{api:?}").contains("YTpi"), "{api:?}");
    }

    #[test]
    fn problems_are_refusals_and_the_rest_is_no_conversation() {
        let refused = RestError::Problem {
            status: 404,
            detail: "no app named x".into(),
        };
        assert_eq!(refused.exit_code(), 1);
        assert_eq!(refused.to_string(), "no app named x");
        let unauthenticated = RestError::Problem {
            status: 401,
            detail: "wrong user name or password".into(),
        };
        assert!(unauthenticated.to_string().contains("ONE_AUTH"));
        let foreign = RestError::Foreign {
            url: "http://x/api/v1/apps".into(),
            what: "answered http status 404".into(),
        };
        assert_eq!(foreign.exit_code(), 3);
        assert!(foreign.to_string().contains("NUBO_API"), "{foreign}");
    }
}
