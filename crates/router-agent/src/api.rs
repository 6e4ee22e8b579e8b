//! The few calls `nubo-router` makes to nubod's REST API — `GET /router/routes` with
//! `If-None-Match`, `POST /router/log` — over one kept HTTP/1.1 connection (TLS for an
//! `https://` API), with HTTP Basic credentials that are never logged, a deadline on every
//! call and a bound on every answer read.

use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, StatusCode};
use serde::{Deserialize, Serialize};

/// How long one call may take, connecting included.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest route table read.
pub const TABLE_MAX: usize = 64 * 1024 * 1024;
/// The most of an error's answer read.
const ERROR_MAX: usize = 4096;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API's URL is not `http(s)://HOST:PORT/PATH`.
    #[error("the API URL {0:?} is not http(s)://HOST[:PORT]/PATH")]
    Url(String),
    /// The credentials cannot be sent as a header.
    #[error("the credentials hold characters a header cannot carry")]
    Credentials,
    /// No connection, or it broke.
    #[error("{0}")]
    Connection(String),
    /// No answer within [`CALL_TIMEOUT`].
    #[error("no answer within {}s", CALL_TIMEOUT.as_secs())]
    Timeout,
    /// The API answered with an error.
    #[error("the API answered {status}: {detail}")]
    Status {
        /// The status.
        status: StatusCode,
        /// The problem's detail, or the start of the body.
        detail: String,
    },
    /// The answer was not the JSON expected, or too large.
    #[error("unreadable answer: {0}")]
    Answer(String),
}

impl ApiError {
    /// Whether retrying cannot help: the credentials are refused.
    pub fn is_refusal(&self) -> bool {
        matches!(self, ApiError::Status { status, .. }
            if *status == StatusCode::UNAUTHORIZED || *status == StatusCode::FORBIDDEN)
    }
}

/// The route table as the API sends it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutesDoc {
    /// The apps domain, if any (for the log only: the hosts are listed in full).
    #[serde(default)]
    pub apps_domain: Option<String>,
    /// The apps.
    pub apps: Vec<AppDoc>,
}

/// One app's routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppDoc {
    /// Its name.
    pub app: String,
    /// Its host names.
    pub hosts: Vec<String>,
    /// Its `web` instances that are up.
    pub backends: Vec<std::net::SocketAddr>,
}

/// One line for an app's log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogLine {
    /// The app.
    pub app: String,
    /// The text.
    pub line: String,
}

#[derive(Serialize)]
struct LogBody<'a> {
    lines: &'a [LogLine],
}

/// What a poll of the route table found.
#[derive(Debug)]
pub enum Polled {
    /// The same table as the `ETag` given.
    Unchanged,
    /// A new table and its `ETag`.
    Changed(RoutesDoc, Option<String>),
}

/// A client of the API: one kept connection, opened again when it breaks.
pub struct ApiClient {
    tls: bool,
    authority: String,
    /// The API's path, without a final `/` (e.g. `/api/v1`).
    base: String,
    authorization: HeaderValue,
    conn: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("tls", &self.tls)
            .field("authority", &self.authority)
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// A client of the API at `url` (e.g. `http://127.0.0.1:8080/api/v1`) as `user`.
    pub fn new(url: &str, user: &str, password: &str) -> Result<ApiClient, ApiError> {
        let (tls, rest) =
            nubo_hostapi::tls::scheme(url).ok_or_else(|| ApiError::Url(url.into()))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        if authority.is_empty() || authority.contains('@') {
            return Err(ApiError::Url(url.into()));
        }
        let authority = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok() && !authority.ends_with(']'))
        {
            authority.to_owned()
        } else {
            format!("{authority}:{}", if tls { 443 } else { 80 })
        };
        let base = format!("/{}", path.trim_end_matches('/'));
        let base = if base == "/" { String::new() } else { base };
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        let mut authorization =
            HeaderValue::from_str(&format!("Basic {token}")).map_err(|_| ApiError::Credentials)?;
        authorization.set_sensitive(true);
        Ok(ApiClient {
            tls,
            authority,
            base,
            authorization,
            conn: None,
        })
    }

    /// `GET /router/routes`, with `If-None-Match: etag` when one is given.
    pub async fn routes(&mut self, etag: Option<&str>) -> Result<Polled, ApiError> {
        let (status, headers, body) = self
            .call(Method::GET, "/router/routes", etag, None, TABLE_MAX)
            .await?;
        match status {
            StatusCode::NOT_MODIFIED => Ok(Polled::Unchanged),
            StatusCode::OK => {
                let table: RoutesDoc = serde_json::from_slice(&body)
                    .map_err(|e| ApiError::Answer(format!("the route table: {e}")))?;
                let tag = headers
                    .get(header::ETAG)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                Ok(Polled::Changed(table, tag))
            }
            status => Err(failure(status, &body)),
        }
    }

    /// `POST /router/log` with `lines`.
    pub async fn send_log(&mut self, lines: &[LogLine]) -> Result<(), ApiError> {
        let body = serde_json::to_vec(&LogBody { lines })
            .map_err(|e| ApiError::Answer(format!("cannot write the lines: {e}")))?;
        let (status, _, answer) = self
            .call(
                Method::POST,
                "/router/log",
                None,
                Some(Bytes::from(body)),
                ERROR_MAX,
            )
            .await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(failure(status, &answer))
        }
    }

    async fn call(
        &mut self,
        method: Method,
        path: &str,
        if_none_match: Option<&str>,
        body: Option<Bytes>,
        limit: usize,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), ApiError> {
        let attempt = async {
            // A kept connection the API closed meanwhile fails at once: once more, anew.
            let kept = self.conn.is_some();
            match self
                .call_once(&method, path, if_none_match, body.clone(), limit)
                .await
            {
                Err(ApiError::Connection(_)) if kept => {
                    self.call_once(&method, path, if_none_match, body, limit)
                        .await
                }
                other => other,
            }
        };
        tokio::time::timeout(CALL_TIMEOUT, attempt)
            .await
            .unwrap_or_else(|_| Err(ApiError::Timeout))
            .inspect_err(|_| self.conn = None)
    }

    async fn call_once(
        &mut self,
        method: &Method,
        path: &str,
        if_none_match: Option<&str>,
        body: Option<Bytes>,
        limit: usize,
    ) -> Result<(StatusCode, hyper::HeaderMap, Bytes), ApiError> {
        let mut sender = match self.conn.take() {
            Some(s) if !s.is_closed() => s,
            _ => nubo_hostapi::tls::http1(&self.authority, self.tls)
                .await
                .map_err(ApiError::Connection)?,
        };
        sender
            .ready()
            .await
            .map_err(|e| ApiError::Connection(format!("{}: {e}", self.authority)))?;
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(header::HOST, &self.authority)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header(header::ACCEPT, "application/json");
        if let Some(tag) = if_none_match {
            request = request.header(header::IF_NONE_MATCH, tag);
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(body.unwrap_or_default()))
            .map_err(|e| ApiError::Connection(format!("cannot make the request: {e}")))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| ApiError::Connection(format!("{}: {e}", self.authority)))?;
        let (parts, body) = response.into_parts();
        let bytes = Limited::new(body, limit)
            .collect()
            .await
            .map_err(|e| ApiError::Answer(format!("the body: {e}")))?
            .to_bytes();
        self.conn = Some(sender);
        Ok((parts.status, parts.headers, bytes))
    }
}

/// The error of an answer with `status`: the problem's detail if it is one.
fn failure(status: StatusCode, body: &[u8]) -> ApiError {
    let detail = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["detail"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    ApiError::Status { status, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_a_port_and_a_path() {
        let c = ApiClient::new("http://127.0.0.1:8080/api/v1/", "a", "b").expect("ok");
        assert_eq!(
            (c.tls, c.authority.as_str(), c.base.as_str()),
            (false, "127.0.0.1:8080", "/api/v1")
        );
        let c = ApiClient::new("https://cloud.example.com/api/v1", "a", "b").expect("ok");
        assert_eq!(
            (c.tls, c.authority.as_str()),
            (true, "cloud.example.com:443")
        );
        let c = ApiClient::new("http://[::1]:9/x", "a", "b").expect("ok");
        assert_eq!(c.authority, "[::1]:9");
        let c = ApiClient::new("http://[::1]/x", "a", "b").expect("ok");
        assert_eq!(c.authority, "[::1]:80");
        for bad in ["ftp://x/", "http:///api", "http://u:p@x/api", "x"] {
            assert!(ApiClient::new(bad, "a", "b").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_password_is_not_in_debug_output() {
        let c = ApiClient::new("http://127.0.0.1:1/api", "oneadmin", "s3cret").expect("ok");
        let shown = format!("{c:?}");
        assert!(
            !shown.contains("s3cret") && !shown.contains("czNjcmV0"),
            "{shown}"
        );
    }
}
