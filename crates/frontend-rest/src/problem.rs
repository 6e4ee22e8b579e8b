//! Errors as RFC 9457 problem details (`application/problem+json`): every failure of the
//! REST API, mapped in one place from the PaaS's and the core's errors.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use nubo_paas::PaasError;
use serde::Serialize;
use utoipa::ToSchema;

/// The media type of problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// A problem, as RFC 9457 describes it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong this time.
    pub detail: String,
    /// A short machine-readable code (`not_found`, `invalid`, `conflict`, …).
    pub code: String,
}

/// A failed request: its status and problem.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: String,
}

impl ApiError {
    /// A problem with this status, code and detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid", detail)
    }

    /// 401: no or wrong credentials.
    pub fn unauthenticated(detail: impl Into<String>) -> Self {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthenticated", detail)
    }
}

impl From<PaasError> for ApiError {
    fn from(e: PaasError) -> Self {
        use nubo_types::Error as Core;
        let (status, code) = match &e {
            PaasError::NotFound { .. } => (StatusCode::NOT_FOUND, "not_found"),
            PaasError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            PaasError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            PaasError::Stale { .. } => (StatusCode::PRECONDITION_FAILED, "stale"),
            PaasError::Core(Core::Authentication) => (StatusCode::UNAUTHORIZED, "unauthenticated"),
            PaasError::Core(
                Core::Authorization { .. } | Core::Locked { .. } | Core::Restricted { .. },
            ) => (StatusCode::FORBIDDEN, "forbidden"),
            PaasError::Core(Core::NoExists { .. }) => (StatusCode::NOT_FOUND, "not_found"),
            PaasError::Core(Core::Quota { .. }) => (StatusCode::FORBIDDEN, "quota"),
            PaasError::Core(Core::Action { .. } | Core::Api { .. } | Core::Allocate { .. }) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
            }
            PaasError::Core(_) | PaasError::Store(_) | PaasError::Record { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %ErrorChain(&e), "REST request failed");
        }
        ApiError::new(status, code, e.to_string())
    }
}

/// An error with its sources, for the log.
struct ErrorChain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let title = self.status.canonical_reason().unwrap_or("Error").to_owned();
        let problem = Problem {
            kind: format!("https://nubo.dev/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code.to_owned(),
        };
        let body = serde_json::to_vec(&problem).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"nubo\", charset=\"UTF-8\""),
            );
        }
        response
    }
}
