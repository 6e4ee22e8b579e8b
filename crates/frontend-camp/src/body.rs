//! Reading request bodies within limits: what media type a body is, small bodies (plans,
//! JSON, patches) into memory, archives (PDPs) streamed into a file, and the parts of a
//! `multipart/form-data` body (`pdp_file`, `plan_file`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{HeaderMap, StatusCode, header};

use crate::Camp;
use crate::error::CampError;

/// The largest plan, JSON or patch body.
pub const SMALL_MAX: usize = crate::yaml::PLAN_LIMITS.max_bytes;
/// The largest PDP upload.
pub const PDP_MAX: u64 = 64 * 1024 * 1024;
/// The longest wait for the next piece of an upload.
const IDLE: Duration = Duration::from_secs(30);

/// What a body is, by its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A plan in YAML.
    Yaml,
    /// JSON (a reference, or a resource for PUT).
    Json,
    /// A JSON Patch.
    JsonPatch,
    /// A PDP: zip, tar or gzipped tar.
    Archive,
    /// `multipart/form-data`.
    Multipart,
    /// Something else, or none.
    Other,
}

/// The body's media type.
pub fn media(headers: &HeaderMap) -> Media {
    let value = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .unwrap_or_default();
    match value.as_str() {
        "application/x-yaml" | "application/yaml" | "text/yaml" | "text/x-yaml" => Media::Yaml,
        "application/json" => Media::Json,
        "application/json-patch+json" => Media::JsonPatch,
        "application/zip"
        | "application/x-zip"
        | "application/x-zip-compressed"
        | "application/x-tar"
        | "application/gzip"
        | "application/x-gzip"
        | "application/x-tgz"
        | "application/x-gtar" => Media::Archive,
        "multipart/form-data" => Media::Multipart,
        _ => Media::Other,
    }
}

/// A small body, into memory (413 over [`SMALL_MAX`]).
pub async fn small(body: Body) -> Result<Vec<u8>, CampError> {
    axum::body::to_bytes(body, SMALL_MAX)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            CampError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the body is larger than {SMALL_MAX} bytes or broke off"),
            )
        })
}

/// A fresh file name in `dir` (created) for an upload or scratch work.
pub fn scratch_path(dir: &Path, what: &str) -> Result<PathBuf, CampError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    std::fs::create_dir_all(dir)
        .map_err(|e| CampError::internal(format!("cannot make {}: {e}", dir.display())))?;
    Ok(dir.join(format!(
        "camp-{what}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )))
}

/// Writes a stream of pieces to a new file in `dir`, at most [`PDP_MAX`] bytes, with at
/// most [`IDLE`] between pieces (`nubo_listener::upload`); nothing is left when it fails.
async fn stream_to_file<S, E>(stream: S, dir: &Path) -> Result<PathBuf, CampError>
where
    S: futures_util::Stream<Item = Result<axum::body::Bytes, E>>,
    E: std::fmt::Display,
{
    use nubo_listener::upload::UploadError;
    let path = scratch_path(dir, "upload")?;
    match nubo_listener::upload::stream_to_file(stream, &path, PDP_MAX, IDLE).await {
        Ok(_) => Ok(path),
        Err(UploadError::TooLarge(_)) => Err(CampError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the package is larger than {PDP_MAX} bytes"),
        )),
        Err(e @ UploadError::Stalled(_)) => {
            Err(CampError::new(StatusCode::REQUEST_TIMEOUT, e.to_string()))
        }
        Err(UploadError::Empty) => Err(CampError::bad_request("the package is empty")),
        Err(e @ UploadError::Broken(_)) => Err(CampError::bad_request(e.to_string())),
        Err(e @ UploadError::Io(_)) => Err(CampError::internal(format!("{e}"))),
    }
}

/// An archive body, into a new file in `dir`.
pub async fn archive(body: Body, dir: &Path) -> Result<PathBuf, CampError> {
    stream_to_file(body.into_data_stream(), dir).await
}

/// What a multipart body carried.
#[derive(Debug)]
pub enum Part {
    /// `plan_file`: a plan's YAML.
    Plan(Vec<u8>),
    /// `pdp_file`: a PDP, in a file.
    Pdp(PathBuf),
}

/// The one `pdp_file` or `plan_file` part of a multipart body (other parts are ignored).
pub async fn multipart(req: Request, camp: &Camp, dir: &Path) -> Result<Part, CampError> {
    let mut form = Multipart::from_request(req, camp)
        .await
        .map_err(|e| CampError::bad_request(format!("not a multipart/form-data body: {e}")))?;
    let bad = |e: axum::extract::multipart::MultipartError| {
        CampError::bad_request(format!("the multipart body is malformed: {e}"))
    };
    let mut found: Option<Part> = None;
    let mut parts = 0;
    while let Some(field) = form.next_field().await.map_err(bad)? {
        parts += 1;
        if parts > 16 {
            return Err(CampError::bad_request("more than 16 parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        let part = match name.as_str() {
            "plan_file" => {
                let mut data = Vec::new();
                let mut field = field;
                while let Some(chunk) = field.chunk().await.map_err(bad)? {
                    if data.len() + chunk.len() > SMALL_MAX {
                        return Err(CampError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!("plan_file is larger than {SMALL_MAX} bytes"),
                        ));
                    }
                    data.extend_from_slice(&chunk);
                }
                Part::Plan(data)
            }
            "pdp_file" => Part::Pdp(stream_to_file(field, dir).await?),
            _ => continue,
        };
        if found.is_some() {
            if let Part::Pdp(path) = part {
                let _ = tokio::fs::remove_file(path).await;
            }
            if let Some(Part::Pdp(path)) = found {
                let _ = tokio::fs::remove_file(path).await;
            }
            return Err(CampError::bad_request(
                "give one pdp_file or plan_file part, not several",
            ));
        }
        found = Some(part);
    }
    found.ok_or_else(|| CampError::bad_request("the form has no pdp_file or plan_file part"))
}

/// The JSON Patch of a `PATCH` request (`application/json-patch+json`, else 415; malformed,
/// 400) applied to `old` (a patch that does not apply, 422).
pub async fn patched(
    req: Request,
    old: &serde_json::Value,
) -> Result<serde_json::Value, CampError> {
    if media(req.headers()) != Media::JsonPatch {
        return Err(CampError::media_type(
            "PATCH takes application/json-patch+json",
        ));
    }
    let ops = crate::patch::parse(&small(req.into_body()).await?)
        .map_err(|e| CampError::bad_request(e.to_string()))?;
    crate::patch::apply(old, &ops).map_err(|e| CampError::unprocessable(e.to_string()))
}
