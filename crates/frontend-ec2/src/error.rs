//! EC2's errors: a code, a message and an HTTP status, written as
//! `<Response><Errors><Error>…</Error></Errors><RequestID>…</RequestID></Response>`.

use axum::http::StatusCode;
use nubo_types::Error as CoreError;

/// An EC2 error reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Ec2Error {
    /// EC2's error code, e.g. `InvalidInstanceID.NotFound`.
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The HTTP status (botocore sees an error only at 300 or above).
    pub status: StatusCode,
}

/// The result of an action.
pub type Ec2Result<T> = Result<T, Ec2Error>;

impl Ec2Error {
    /// An error with status 400.
    pub fn client(code: &str, message: impl Into<String>) -> Ec2Error {
        Ec2Error::with_status(StatusCode::BAD_REQUEST, code, message)
    }

    /// An error with any status.
    pub fn with_status(status: StatusCode, code: &str, message: impl Into<String>) -> Ec2Error {
        Ec2Error {
            code: code.to_string(),
            message: message.into(),
            status,
        }
    }

    /// `AuthFailure` (401).
    pub fn auth(message: impl Into<String>) -> Ec2Error {
        Ec2Error::with_status(StatusCode::UNAUTHORIZED, "AuthFailure", message)
    }

    /// A required parameter is missing.
    pub fn missing(name: &str) -> Ec2Error {
        Ec2Error::client(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    /// A parameter has a value that cannot be right.
    pub fn invalid(name: &str, value: &str, why: impl std::fmt::Display) -> Ec2Error {
        Ec2Error::client(
            "InvalidParameterValue",
            format!("Value ({value}) for parameter {name} is invalid. {why}"),
        )
    }

    /// `InternalError` (500).
    pub fn internal(message: impl Into<String>) -> Ec2Error {
        Ec2Error::with_status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message)
    }

    /// `DryRunOperation` (412): the request would have succeeded.
    pub fn dry_run() -> Ec2Error {
        Ec2Error::with_status(
            StatusCode::PRECONDITION_FAILED,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        )
    }
}

/// Maps core errors as [`From`] does, a refused state change (an Action error) becoming
/// `code` (`IncorrectInstanceState`, `VolumeInUse`, …).
pub fn state_refused(code: &'static str) -> impl Fn(CoreError) -> Ec2Error {
    move |e| match e {
        CoreError::Action { message } => Ec2Error::client(code, message),
        other => other.into(),
    }
}

/// Maps core errors as [`From`] does, an exceeded quota becoming `code`
/// (`InstanceLimitExceeded`, `VolumeLimitExceeded`, …).
pub fn quota_exceeded(code: &'static str) -> impl Fn(CoreError) -> Ec2Error {
    move |e| match e {
        CoreError::Quota { message } => Ec2Error::client(code, message),
        other => other.into(),
    }
}

/// Maps a core error onto EC2's generic codes; actions map the errors they know better
/// (missing objects, wrong states) themselves.
impl From<CoreError> for Ec2Error {
    fn from(e: CoreError) -> Ec2Error {
        let message = e.to_string();
        match e {
            CoreError::Authentication => Ec2Error::auth(message),
            CoreError::Authorization { .. } | CoreError::Restricted { .. } => {
                Ec2Error::with_status(StatusCode::FORBIDDEN, "UnauthorizedOperation", message)
            }
            CoreError::Quota { .. } => Ec2Error::client("ResourceLimitExceeded", message),
            CoreError::NoExists { .. } | CoreError::Api { .. } | CoreError::Allocate { .. } => {
                Ec2Error::client("InvalidParameterValue", message)
            }
            CoreError::Action { .. } | CoreError::Locked { .. } => {
                Ec2Error::client("IncorrectState", message)
            }
            CoreError::Internal { .. } => Ec2Error::internal(message),
        }
    }
}
