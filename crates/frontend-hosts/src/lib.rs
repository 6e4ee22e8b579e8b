//! The front end for host agents (`nubo-hostd`), on its own listener: every request must be
//! signed with the secret of the host it names, every answer is signed back. It serves
//! `GET /v1/images/<ID>`: the file of an image that a VM on that host uses, with its
//! SHA-256 (or 304 when the agent's copy has the same digest), and `POST /v1/hello`: an
//! agent that started or whose guests changed (its address is recorded, hosts are
//! monitored at once), `POST /v1/monitor`: the report an agent pushes, and
//! `PUT /v1/images/<ID>`: a disk a VM on that host saved as a new
//! image ([`upload`]).

mod checksums;
mod upload;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use nubo_hostapi::auth;
use nubo_hostapi::images::{HAVE_HEADER, IMAGES_PATH, SHA256_HEADER};
use nubo_listener::BodyRules;

/// What the handlers share.
#[derive(Debug)]
struct Shared {
    core: nubo_core::Core,
    checksums: checksums::Checksums,
    bodies: BodyRules,
}

/// Largest body of a request other than an image upload (a report of a host with
/// thousands of guests fits).
pub const BODY_LIMIT: usize = 4 * 1024 * 1024;

/// The router (served by `nubo_listener::serve`), reading bodies other than image uploads
/// within `bodies` (at most [`BODY_LIMIT`] bytes makes sense).
pub fn router(core: nubo_core::Core, bodies: BodyRules) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(Shared {
        core,
        checksums: checksums::Checksums::default(),
        bodies,
    }))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let (method, uri, headers) = (parts.method, parts.uri, parts.headers);
    if method == Method::PUT && uri.path().starts_with(IMAGES_PATH) {
        return upload::receive(&shared.core, uri.path(), &headers, body).await;
    }
    let body = match shared.bodies.read(body).await {
        Ok(b) => b,
        Err(e) => return plain(e.status(), &e.to_string()),
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let path = uri.path();
    let host = header(auth::HOST_HEADER).unwrap_or_default().to_string();
    let Some(secret) = shared.core.host_secret(&host) else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this front-end has no host key",
        );
    };
    if let Err(e) = auth::verify_request(
        &secret,
        method.as_str(),
        path,
        header(auth::DATE_HEADER),
        header(auth::SIGNATURE_HEADER),
        &body,
        nubo_hostapi::now(),
    ) {
        tracing::warn!(%host, %path, error = %e, "refused a host agent's request");
        return plain(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let request_signature = header(auth::SIGNATURE_HEADER)
        .unwrap_or_default()
        .to_string();
    let signed =
        |status: StatusCode, text: String| signed(&secret, &request_signature, status, text);
    if method == Method::POST && path == nubo_hostapi::HELLO_PATH {
        let hello: nubo_hostapi::Hello = match serde_json::from_slice(&body) {
            Ok(h) => h,
            Err(e) => return signed(StatusCode::BAD_REQUEST, format!("bad hello: {e}")),
        };
        return match shared.core.host_hello(&host, hello.endpoint).await {
            Ok(()) => signed(StatusCode::OK, String::new()),
            Err(e) => signed(StatusCode::FORBIDDEN, e.to_string()),
        };
    }
    if method == Method::POST && path == nubo_hostapi::MONITOR_PATH {
        let report: nubo_driver::HostReport = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return signed(StatusCode::BAD_REQUEST, format!("bad report: {e}")),
        };
        return match shared.core.host_report_pushed(&host, report).await {
            Ok(()) => signed(StatusCode::OK, String::new()),
            Err(e) => signed(StatusCode::FORBIDDEN, e.to_string()),
        };
    }
    let image_id = match (method.as_str(), path.strip_prefix(IMAGES_PATH)) {
        ("GET", Some(id)) => match id.parse::<i32>() {
            Ok(id) => id,
            Err(_) => return signed(StatusCode::BAD_REQUEST, format!("bad image id \"{id}\"")),
        },
        _ => return signed(StatusCode::NOT_FOUND, "no such call".into()),
    };
    let file = match shared.core.image_file_for_host(&host, image_id) {
        Ok(p) => p,
        Err(e) => return signed(StatusCode::FORBIDDEN, e.to_string()),
    };
    let sha = match shared.checksums.of(&file).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(image_id, path = %file.display(), error = %e, "cannot read an image file");
            return signed(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read image {image_id}'s file"),
            );
        }
    };
    if header(HAVE_HEADER) == Some(sha.as_str()) {
        return signed(StatusCode::NOT_MODIFIED, String::new());
    }
    let opened = tokio::fs::File::open(&file).await;
    let Ok(handle) = opened else {
        return signed(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot open image {image_id}'s file"),
        );
    };
    tracing::info!(%host, image_id, "sending an image to a host");
    let stream = nubo_hostapi::files::file_chunks(handle);
    let sig = auth::sign_response_digest(&secret, &request_signature, 200, &sha);
    Response::builder()
        .status(StatusCode::OK)
        .header(auth::SIGNATURE_HEADER, sig)
        .header(SHA256_HEADER, &sha)
        .body(Body::from_stream(stream))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// An answer signed for the request signed `request_signature`.
fn signed(secret: &str, request_signature: &str, status: StatusCode, text: String) -> Response {
    let body = text.into_bytes();
    let sig = auth::sign_response(secret, request_signature, status.as_u16(), &body);
    Response::builder()
        .status(status)
        .header(auth::SIGNATURE_HEADER, sig)
        .body(Body::from(body))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn plain(status: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(status)
        .body(Body::from(text.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}
