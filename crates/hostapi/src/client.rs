//! nubod's side of the wire: a [`RemoteHost`] is the [`Hypervisor`] of a host whose
//! guests are run by a `nubo-hostd`. Each call is one signed HTTP/1.1 request on its own
//! connection (TLS for `https://` agents); the answer is accepted only with the agent's
//! signature.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request as HttpRequest;
use nubo_driver::{
    BoxFuture, CheckOutcome, ConsoleChunk, HostReport, Hypervisor, Outcome, Request,
};

use crate::auth;
use crate::{CHECK_PATH, CONSOLE_PATH, CheckRequest, ConsoleRequest, EXECUTE_PATH, MONITOR_PATH};

/// How long a monitoring call may take.
const MONITOR_TIMEOUT: Duration = Duration::from_secs(20);
/// How long an operation may take (saves and migrations of large guests are slow).
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(1800);
/// The first and the longest pause before an operation is sent again to an agent that was
/// not reached.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MAX: Duration = Duration::from_secs(5);
/// How long an operation is sent again to an agent that is not reached.
const UNREACHED_FOR: Duration = Duration::from_secs(60);

/// Why a call failed: no agent was reached, or one answered with a refusal.
#[derive(Debug)]
enum Failed {
    Unreached(String),
    Answered(String),
}

impl Failed {
    fn text(self) -> String {
        match self {
            Failed::Unreached(e) | Failed::Answered(e) => e,
        }
    }
}

/// A host agent's (or nubod's) address: `http://HOST:PORT` or `https://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `HOST:PORT`.
    pub authority: String,
    /// Whether it speaks TLS.
    pub tls: bool,
}

impl Endpoint {
    /// Reads `http(s)://host[:port]` (or `host[:port]`, plain HTTP); the port defaults
    /// to 2634.
    pub fn parse(text: &str) -> Result<Endpoint, String> {
        let (tls, rest) = crate::tls::scheme(text).unwrap_or((false, text));
        let rest = rest.trim_end_matches('/');
        if rest.is_empty() || rest.contains('/') || rest.contains('@') || rest.contains("://") {
            return Err(format!("\"{text}\" is not an http(s)://HOST:PORT address"));
        }
        let authority = if rest
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            rest.to_string()
        } else {
            format!("{rest}:{}", crate::DEFAULT_PORT)
        };
        Ok(Endpoint { authority, tls })
    }

    /// The address as a URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.authority)
    }
}

/// A host run by a `nubo-hostd`.
#[derive(Debug, Clone)]
pub struct RemoteHost {
    name: String,
    endpoint: Endpoint,
    secret: String,
}

impl RemoteHost {
    /// The agent of host `name` at `endpoint`, sharing `secret`.
    pub fn new(name: String, endpoint: Endpoint, secret: String) -> RemoteHost {
        RemoteHost {
            name,
            endpoint,
            secret,
        }
    }

    /// One signed call; the verified body of a 200 answer.
    pub async fn call(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
        self.attempt(method, path, body).await.map_err(Failed::text)
    }

    /// POSTs `request` (JSON) to `path` and reads the agent's JSON `Result<T, String>`
    /// answer, waiting at most `wait`.
    async fn ask<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        request: &impl serde::Serialize,
        wait: Duration,
    ) -> Result<T, String> {
        let body = serde_json::to_vec(request).map_err(|e| e.to_string())?;
        let bytes = tokio::time::timeout(wait, self.call("POST", path, body))
            .await
            .map_err(|_| format!("host {} did not answer in time", self.name))??;
        serde_json::from_slice::<Result<T, String>>(&bytes)
            .map_err(|e| format!("bad answer from host {}: {e}", self.name))?
    }

    /// Like [`RemoteHost::call`], but a call that reached no agent (refused, or the
    /// connection closed before an answer: an agent restarting) is made again, after a
    /// pause doubling from 250 ms to 5 s, until `deadline`. Only for operations the agent
    /// may receive twice (it carries each operation out once, by its number).
    pub async fn call_retrying(
        &self,
        method: &str,
        path: &str,
        body: Vec<u8>,
        deadline: tokio::time::Instant,
    ) -> Result<Vec<u8>, String> {
        let mut pause = RETRY_FIRST;
        loop {
            match self.attempt(method, path, body.clone()).await {
                Err(Failed::Unreached(e)) if tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(
                        host = self.name,
                        error = e,
                        "host agent unreached; trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
                outcome => return outcome.map_err(Failed::text),
            }
        }
    }

    async fn attempt(&self, method: &str, path: &str, body: Vec<u8>) -> Result<Vec<u8>, Failed> {
        let (signature, response) = send(
            &self.endpoint,
            &self.name,
            &self.secret,
            method,
            path,
            body,
            &[],
        )
        .await
        .map_err(Failed::Unreached)?;
        let answer = Answer::read(response).await.map_err(|e| {
            Failed::Answered(format!("host agent at {}: {e}", self.endpoint.authority))
        })?;
        let (status, bytes) = (answer.status, &answer.body);
        if status == 401 || status == 403 {
            return Err(Failed::Answered(format!(
                "host agent at {} refused nubod: {}",
                self.endpoint.authority,
                answer.text()
            )));
        }
        answer.verify(&self.secret, &signature).map_err(|e| {
            Failed::Answered(format!(
                "the answer of {} is not from host {}'s agent: {e}",
                self.endpoint.authority, self.name
            ))
        })?;
        if status != 200 {
            return Err(Failed::Answered(format!(
                "host agent at {} answered {status}: {}",
                self.endpoint.authority,
                answer.text()
            )));
        }
        Ok(bytes.to_vec())
    }
}

/// A whole answer: status, body, and the signature it carried.
pub(crate) struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: Bytes,
    signature: Option<String>,
}

impl Answer {
    /// Reads the rest of `response`.
    pub async fn read(response: hyper::Response<hyper::body::Incoming>) -> Result<Answer, String> {
        let status = response.status().as_u16();
        let signature = response
            .headers()
            .get(auth::SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Answer {
            status,
            body,
            signature,
        })
    }

    /// Checks that the answer is signed with `secret` for the request signed
    /// `request_signature`.
    pub fn verify(&self, secret: &str, request_signature: &str) -> Result<(), auth::AuthError> {
        auth::verify_response(
            secret,
            request_signature,
            self.status,
            self.signature.as_deref(),
            &self.body,
        )
    }

    /// The body as text, for error messages.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).trim().to_string()
    }

    /// Reads an answer of nubod (at `url`) to a request an agent signed `request_signature`
    /// with `secret`, and checks nubod signed it.
    pub async fn from_nubod(
        response: hyper::Response<hyper::body::Incoming>,
        secret: &str,
        request_signature: &str,
        url: &str,
    ) -> Result<Answer, String> {
        let answer = Answer::read(response)
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        answer
            .verify(secret, request_signature)
            .map_err(|e| format!("{url}: the answer is not from nubod: {e}"))?;
        Ok(answer)
    }

    /// `Ok` for a 200 answer, else the status and text as the error.
    pub fn ok(&self, url: &str) -> Result<(), String> {
        if self.status == 200 {
            Ok(())
        } else {
            Err(format!("{url}: {} {}", self.status, self.text()))
        }
    }
}

/// Sends one request signed as host `name` (or as nubod for host `name`) and returns the
/// request's signature with the response, whose body is not read yet.
pub(crate) async fn send(
    endpoint: &Endpoint,
    name: &str,
    secret: &str,
    method: &str,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> Result<(String, hyper::Response<hyper::body::Incoming>), String> {
    let date = crate::now();
    let signature = auth::sign_request(secret, method, path, date, &body);
    let signed = Signed {
        name,
        date,
        signature: &signature,
    };
    let response = send_signed(
        endpoint,
        &signed,
        method,
        path,
        Full::new(Bytes::from(body)),
        headers,
    )
    .await?;
    Ok((signature, response))
}

/// Who signed a request, when, and the signature.
pub(crate) struct Signed<'a> {
    /// The host's name.
    pub name: &'a str,
    /// Seconds since the epoch.
    pub date: i64,
    /// The signature.
    pub signature: &'a str,
}

/// Sends one request with a body of any kind (a file streamed as it is read) under a
/// signature made beforehand.
pub(crate) async fn send_signed<B>(
    endpoint: &Endpoint,
    signed: &Signed<'_>,
    method: &str,
    path: &str,
    body: B,
    headers: &[(&str, &str)],
) -> Result<hyper::Response<hyper::body::Incoming>, String>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let authority = endpoint.authority.as_str();
    let mut sender = crate::tls::http1(authority, endpoint.tls).await?;
    let mut builder = HttpRequest::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(auth::HOST_HEADER, signed.name)
        .header(auth::DATE_HEADER, signed.date.to_string())
        .header(auth::SIGNATURE_HEADER, signed.signature);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let request = builder.body(body).map_err(|e| e.to_string())?;
    sender
        .send_request(request)
        .await
        .map_err(|e| format!("{authority}: {e}"))
}

impl Hypervisor for RemoteHost {
    fn execute(&self, request: Request) -> BoxFuture<'static, Outcome> {
        let me = self.clone();
        Box::pin(async move {
            let body = serde_json::to_vec(&request).map_err(|e| e.to_string())?;
            // An agent restarting (its nubod's local host restarts it) is waited for: the
            // operation carries its number, so the agent carries it out once.
            let retry_until = tokio::time::Instant::now() + UNREACHED_FOR;
            let call = me.call_retrying("POST", EXECUTE_PATH, body, retry_until);
            let bytes = tokio::time::timeout(EXECUTE_TIMEOUT, call)
                .await
                .map_err(|_| format!("host {} did not answer in time", me.name))??;
            serde_json::from_slice::<Outcome>(&bytes)
                .map_err(|e| format!("bad answer from host {}: {e}", me.name))?
        })
    }

    fn monitor(&self) -> BoxFuture<'static, Result<HostReport, String>> {
        let me = self.clone();
        Box::pin(async move {
            let call = me.call("GET", MONITOR_PATH, Vec::new());
            let bytes = tokio::time::timeout(MONITOR_TIMEOUT, call)
                .await
                .map_err(|_| format!("host {} did not answer in time", me.name))??;
            serde_json::from_slice(&bytes)
                .map_err(|e| format!("bad report from host {}: {e}", me.name))
        })
    }

    fn configure(&self, _settings: &BTreeMap<String, String>) {}

    fn wants_spec(&self) -> bool {
        true
    }

    /// The guest's devices live in the spec saved on the host, so NICs of a powered-off
    /// VM change there too: the next boot brings them.
    fn cold_nic_attach(&self) -> bool {
        true
    }

    fn console(&self, vm_id: i32, offset: u64) -> BoxFuture<'static, Result<ConsoleChunk, String>> {
        let me = self.clone();
        Box::pin(async move {
            me.ask(
                CONSOLE_PATH,
                &ConsoleRequest { vm_id, offset },
                MONITOR_TIMEOUT,
            )
            .await
        })
    }

    fn run_check(
        &self,
        vm_id: i32,
        command: Vec<String>,
        timeout: Duration,
    ) -> BoxFuture<'static, Result<CheckOutcome, String>> {
        let me = self.clone();
        Box::pin(async move {
            let timeout = timeout.min(nubo_driver::CHECK_TIMEOUT_MAX);
            let request = CheckRequest {
                vm_id,
                command,
                timeout_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
            };
            me.ask(CHECK_PATH, &request, timeout + MONITOR_TIMEOUT)
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_default_the_port_and_refuse_paths() {
        assert_eq!(
            Endpoint::parse("http://node1").expect("ok").authority,
            "node1:2634"
        );
        assert_eq!(
            Endpoint::parse("10.0.0.5:7000").expect("ok").authority,
            "10.0.0.5:7000"
        );
        assert_eq!(
            Endpoint::parse("http://[::1]:7000/").expect("ok").authority,
            "[::1]:7000"
        );
        assert!(Endpoint::parse("http://a/b").is_err());
        let tls = Endpoint::parse("https://node1").expect("ok");
        assert!(tls.tls && tls.url() == "https://node1:2634");
        assert!(!Endpoint::parse("http://node1").expect("ok").tls);
        assert!(Endpoint::parse("ftp://a").is_err());
        assert!(Endpoint::parse("").is_err());
    }
}
