//! `PUT /v1/images/<ID>`: an agent sends the disk a VM on its host saved as a new image.
//! The request is signed over the SHA-256 it announces; the file is written next to the
//! image's place while hashing, kept only if the digest matches, synced, then moved into
//! place. Only the LOCKED image of a disk-saveas of a VM on that host may be written.

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use nubo_hostapi::auth;
use nubo_hostapi::files::{self, ReceiveError};
use nubo_hostapi::images::{IMAGES_PATH, SHA256_HEADER};

/// Receives one image upload.
pub async fn receive(
    core: &nubo_core::Core,
    path: &str,
    headers: &HeaderMap,
    body: Body,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let host = header(auth::HOST_HEADER).unwrap_or_default().to_string();
    let Some(secret) = core.host_secret(&host) else {
        return super::plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "this front-end has no host key",
        );
    };
    let Some(announced) = header(SHA256_HEADER).map(str::to_string) else {
        return super::plain(StatusCode::BAD_REQUEST, "an upload needs its SHA-256");
    };
    if let Err(e) = auth::verify_request_digest(
        &secret,
        "PUT",
        path,
        header(auth::DATE_HEADER),
        header(auth::SIGNATURE_HEADER),
        &announced,
        nubo_hostapi::now(),
    ) {
        tracing::warn!(%host, %path, error = %e, "refused a host agent's upload");
        return super::plain(StatusCode::UNAUTHORIZED, &e.to_string());
    }
    let request_signature = header(auth::SIGNATURE_HEADER)
        .unwrap_or_default()
        .to_string();
    let answer =
        |status: StatusCode, text: String| super::signed(&secret, &request_signature, status, text);
    let id = path.strip_prefix(IMAGES_PATH).unwrap_or_default();
    let Ok(image_id) = id.parse::<i32>() else {
        return answer(StatusCode::BAD_REQUEST, format!("bad image id \"{id}\""));
    };
    let target = match core.image_upload_target(&host, image_id) {
        Ok(p) => p,
        Err(e) => return answer(StatusCode::FORBIDDEN, e.to_string()),
    };
    let still_allowed = || core.image_upload_target(&host, image_id).is_ok();
    match write(&target, body, &announced, still_allowed).await {
        Ok(()) => {
            tracing::info!(%host, image_id, "a host sent a saved disk");
            answer(StatusCode::OK, String::new())
        }
        Err((status, message)) => {
            tracing::warn!(%host, image_id, %message, "an image upload failed");
            answer(status, message)
        }
    }
}

/// Each upload's own temporary file, so that two uploads (a replayed request, say)
/// never write into the same one.
static UPLOADS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Writes `body` to `target` if its SHA-256 is `announced` and the upload is
/// `still_allowed` once received.
async fn write(
    target: &std::path::Path,
    body: Body,
    announced: &str,
    still_allowed: impl Fn() -> bool,
) -> Result<(), (StatusCode, String)> {
    let internal = |e: std::io::Error| {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the image: {e}"),
        )
    };
    if let Some(dir) = target.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    }
    let n = UPLOADS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut name = target.as_os_str().to_owned();
    name.push(format!(".upload-{}-{n}", std::process::id()));
    let tmp = std::path::PathBuf::from(name);
    let got = files::receive(body, &tmp, "the agent")
        .await
        .map_err(|e| match e {
            ReceiveError::Sender(e) => (
                StatusCode::BAD_REQUEST,
                format!("the upload broke off: {e}"),
            ),
            ReceiveError::Write(e) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot write the image: {e}"),
            ),
        })?;
    let outcome = if got != announced {
        Err((
            StatusCode::BAD_REQUEST,
            format!("the upload arrived damaged (SHA-256 {got}, announced {announced})"),
        ))
    } else if !still_allowed() {
        Err((
            StatusCode::FORBIDDEN,
            "the image may no longer be written".to_string(),
        ))
    } else {
        tokio::fs::rename(&tmp, target).await.map_err(internal)
    };
    if outcome.is_err() {
        let _ = tokio::fs::remove_file(&tmp).await;
    }
    outcome
}
