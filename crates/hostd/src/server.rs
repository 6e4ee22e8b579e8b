//! The agent's HTTP API: every request must carry nubod's signature for this host, and
//! every answer carries the agent's, bound to that request. `POST /v1/execute` runs one
//! operation and answers its outcome; `GET /v1/monitor` answers the host report;
//! `POST /v1/console` what a guest's serial console printed; `POST /v1/check` runs a
//! health check's command in a guest and answers how it ended. Other agents fetch VM files
//! for a cold migration with a token instead (`GET /v1/transfer/…`, [`crate::transfer`]).

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use nubo_driver::{Hypervisor, Request};
use nubo_hostapi::transfer::TRANSFER_PATH;
use nubo_hostapi::{
    CHECK_PATH, CONSOLE_PATH, CheckRequest, ConsoleRequest, EXECUTE_PATH, MONITOR_PATH, auth,
};
use nubo_listener::BodyRules;

use crate::transfer::Transfers;

/// The most bytes a check command's words may hold.
const CHECK_WORDS_MAX: usize = 64 * 1024;

/// Largest request body (a VM spec with its context files).
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct Agent {
    /// How request bodies are read.
    pub bodies: BodyRules,
    /// The host's name.
    pub name: String,
    /// The host's secret.
    pub secret: String,
    /// The hypervisor.
    pub driver: Arc<dyn Hypervisor>,
    /// VM files offered to other agents (the QEMU driver's).
    pub transfers: Option<Transfers>,
}

/// The router.
pub fn router(agent: Agent) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(agent))
}

async fn handle(
    State(agent): State<Arc<Agent>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match agent.bodies.read(body).await {
        Ok(b) => b,
        Err(e) => return plain(e.status(), e.to_string()),
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = uri.path();
    if method == Method::GET && path.starts_with(TRANSFER_PATH) {
        return match &agent.transfers {
            Some(t) => t.serve(path, uri.query()).await,
            None => plain(StatusCode::NOT_FOUND, "this agent moves no VM files".into()),
        };
    }
    if let Err(e) = auth::verify_request(
        &agent.secret,
        method.as_str(),
        path,
        header(auth::DATE_HEADER),
        header(auth::SIGNATURE_HEADER),
        &body,
        nubo_hostapi::now(),
    ) {
        tracing::warn!(%path, error = %e, "refused an unauthenticated request");
        return plain(StatusCode::UNAUTHORIZED, e.to_string());
    }
    let signature = header(auth::SIGNATURE_HEADER)
        .unwrap_or_default()
        .to_string();
    if header(auth::HOST_HEADER) != Some(agent.name.as_str()) {
        let message = format!(
            "this is the agent of host \"{}\", not \"{}\"",
            agent.name,
            header(auth::HOST_HEADER).unwrap_or_default()
        );
        return signed(
            &agent,
            &signature,
            StatusCode::CONFLICT,
            message.into_bytes(),
        );
    }
    let (status, answer) = match (method.as_str(), path) {
        ("POST", EXECUTE_PATH) => execute(&agent, &body).await,
        ("GET", MONITOR_PATH) => match agent.driver.monitor().await {
            Ok(report) => json(&report),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.into_bytes()),
        },
        ("POST", CONSOLE_PATH) => match parsed::<ConsoleRequest>(&body) {
            Ok(r) => json(&agent.driver.console(r.vm_id, r.offset).await),
            Err(bad) => bad,
        },
        ("POST", CHECK_PATH) => match parsed::<CheckRequest>(&body) {
            Ok(r) => run_check(&agent, r).await,
            Err(bad) => bad,
        },
        _ => (StatusCode::NOT_FOUND, b"no such call".to_vec()),
    };
    signed(&agent, &signature, status, answer)
}

/// A JSON request body, or the 400 answer that says why it is not one.
fn parsed<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, (StatusCode, Vec<u8>)> {
    serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("bad request: {e}").into_bytes(),
        )
    })
}

/// Runs a health check's command in a guest: at most [`CHECK_WORDS_MAX`] bytes of words,
/// for at most [`nubo_driver::CHECK_TIMEOUT_MAX`].
async fn run_check(agent: &Agent, r: CheckRequest) -> (StatusCode, Vec<u8>) {
    let size: usize = r.command.iter().map(String::len).sum();
    if r.command.is_empty() || size > CHECK_WORDS_MAX {
        return (
            StatusCode::BAD_REQUEST,
            format!("a check command has 1 to {CHECK_WORDS_MAX} bytes of words").into_bytes(),
        );
    }
    let timeout = Duration::from_millis(r.timeout_ms).min(nubo_driver::CHECK_TIMEOUT_MAX);
    json(&agent.driver.run_check(r.vm_id, r.command, timeout).await)
}

async fn execute(agent: &Agent, body: &[u8]) -> (StatusCode, Vec<u8>) {
    let request: Request = match parsed(body) {
        Ok(r) => r,
        Err(bad) => return bad,
    };
    let (vm_id, op) = (request.vm_id, request.operation.name());
    tracing::info!(vm_id, op, "operation started");
    let outcome = agent.driver.execute(request).await;
    match &outcome {
        Ok(_) => tracing::info!(vm_id, op, "operation done"),
        Err(e) => tracing::warn!(vm_id, op, error = %e, "operation failed"),
    }
    json(&outcome)
}

fn json<T: serde::Serialize>(value: &T) -> (StatusCode, Vec<u8>) {
    match serde_json::to_vec(value) {
        Ok(bytes) => (StatusCode::OK, bytes),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            e.to_string().into_bytes(),
        ),
    }
}

fn signed(agent: &Agent, request_signature: &str, status: StatusCode, body: Vec<u8>) -> Response {
    let signature = auth::sign_response(&agent.secret, request_signature, status.as_u16(), &body);
    Response::builder()
        .status(status)
        .header(auth::SIGNATURE_HEADER, signature)
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// An unsigned plain-text answer.
pub(crate) fn plain(status: StatusCode, text: String) -> Response {
    Response::builder()
        .status(status)
        .body(Body::from(text))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
