//! CAMP's errors: a status code (camp.md §1.7) and a JSON body `{"code", "title",
//! "detail"}` (`code` is the HTTP status, `title` its reason phrase), mapped in one place
//! from the PaaS's and the core's errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::PaasError;
use serde::Serialize;

/// A failed CAMP request.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {detail}")]
pub struct CampError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong this time.
    pub detail: String,
}

#[derive(Serialize)]
struct Body<'a> {
    code: u16,
    title: &'a str,
    detail: &'a str,
}

impl CampError {
    /// An error with this status and detail.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        CampError {
            status,
            detail: detail.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        CampError::new(StatusCode::BAD_REQUEST, detail)
    }

    /// 404: no such resource (or one the caller may not know of).
    pub fn not_found(detail: impl Into<String>) -> Self {
        CampError::new(StatusCode::NOT_FOUND, detail)
    }

    /// 415: the body's media type is not one this resource takes.
    pub fn media_type(detail: impl Into<String>) -> Self {
        CampError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail)
    }

    /// 422: well-formed but not something the platform can do.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        CampError::new(StatusCode::UNPROCESSABLE_ENTITY, detail)
    }

    /// 501: not offered.
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        CampError::new(StatusCode::NOT_IMPLEMENTED, detail)
    }

    /// 500: something failed on our side.
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(detail, "CAMP request failed");
        CampError::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }

    /// The error for a lookup of a plan or an assembly: one that exists but belongs to
    /// someone the caller may not see is answered as if it did not exist (404), so that
    /// ids of others' resources are not confirmed.
    pub fn hidden(e: PaasError, what: &str) -> Self {
        match e {
            PaasError::Core(nubo_types::Error::Authorization { .. }) => {
                CampError::not_found(format!("{what} not found"))
            }
            other => other.into(),
        }
    }
}

impl From<PaasError> for CampError {
    fn from(e: PaasError) -> Self {
        use nubo_types::Error as Core;
        let status = match &e {
            PaasError::NotFound { .. } | PaasError::Core(Core::NoExists { .. }) => {
                StatusCode::NOT_FOUND
            }
            PaasError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            PaasError::Conflict(_) => StatusCode::CONFLICT,
            PaasError::Stale { .. } => StatusCode::PRECONDITION_FAILED,
            PaasError::Core(Core::Authentication) => StatusCode::UNAUTHORIZED,
            PaasError::Core(
                Core::Authorization { .. }
                | Core::Locked { .. }
                | Core::Restricted { .. }
                | Core::Quota { .. },
            ) => StatusCode::FORBIDDEN,
            PaasError::Core(Core::Action { .. } | Core::Api { .. } | Core::Allocate { .. }) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            PaasError::Core(_) | PaasError::Store(_) | PaasError::Record { .. } => {
                return CampError::internal(chain(&e));
            }
        };
        CampError::new(status, e.to_string())
    }
}

/// An error with its sources.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl IntoResponse for CampError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error");
        let body = serde_json::to_vec(&Body {
            code: self.status.as_u16(),
            title,
            detail: &self.detail,
        })
        .unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"nubo\", charset=\"UTF-8\""),
            );
        }
        response
    }
}
