//! The one mapping from a call's outcome to XML-RPC: OpenNebula's success and failure
//! arrays, or a fault.

use nubo_types::Error;
use nubo_xmlrpc::{MethodResponse, Value, failure, success};

use crate::params::CallError;

/// The response for `method`'s outcome.
pub fn respond(method: &str, outcome: Result<Value, CallError>) -> MethodResponse {
    match outcome {
        Ok(value) => success(value),
        Err(CallError::Fault(code, message)) => MethodResponse::Fault { code, message },
        Err(CallError::Core(error, resp_id)) => {
            let resp_id = match &error {
                Error::NoExists { id, .. } | Error::Locked { id, .. } => *id,
                _ => resp_id,
            };
            let message = format!("[{method}] {}", message(&error));
            failure(&message, error.code() as i32, resp_id)
        }
    }
}

/// The message text of an error as OpenNebula words it.
fn message(error: &Error) -> String {
    match error {
        Error::Authentication
        | Error::Authorization { .. }
        | Error::NoExists { .. }
        | Error::Action { .. }
        | Error::Api { .. }
        | Error::Internal { .. }
        | Error::Allocate { .. }
        | Error::Quota { .. }
        | Error::Restricted { .. }
        | Error::Locked { .. } => error.to_string(),
    }
}
