//! The log of a job that ends (a build, a one-off run): read from an offset (with the
//! offset to read from next in `Nubo-Log-Next`), or followed — the response stays open,
//! streaming what comes, until the job has ended and all of its log is sent.

use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::ApiError;

/// How often a followed log is read again.
const FOLLOW_POLL: Duration = Duration::from_millis(250);

/// Reading a job's log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogParams {
    /// Start at this byte (default 0).
    pub offset: Option<u64>,
    /// Keep the response open and stream what the job prints until it ends.
    pub follow: Option<bool>,
}

/// The response for `params`: `read(offset)` gives the bytes from `offset`, the next
/// offset, and whether the job has ended.
pub async fn respond<R, F>(params: LogParams, read: R) -> Result<Response, ApiError>
where
    R: Fn(u64) -> F + Send + Sync + 'static,
    F: Future<Output = Result<(Vec<u8>, u64, bool), ApiError>> + Send,
{
    let (data, next, _) = read(params.offset.unwrap_or(0)).await?;
    let text_plain = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if !params.follow.unwrap_or(false) {
        let next = HeaderValue::from(next);
        return Ok((
            [text_plain, (HeaderName::from_static("nubo-log-next"), next)],
            data,
        )
            .into_response());
    }
    let read = std::sync::Arc::new(read);
    let stream = futures_util::stream::unfold(
        (read, next, Some(data)),
        |(read, offset, first)| async move {
            if let Some(first) = first {
                return Some((Ok::<_, std::io::Error>(first), (read, offset, None)));
            }
            loop {
                // The job gone or no longer allowed: the stream ends.
                let (data, next, ended) = read(offset).await.ok()?;
                if !data.is_empty() {
                    return Some((Ok(data), (read, next, None)));
                }
                if ended {
                    return None;
                }
                tokio::time::sleep(FOLLOW_POLL).await;
            }
        },
    );
    Ok(([text_plain], Body::from_stream(stream)).into_response())
}
