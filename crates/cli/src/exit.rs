//! Exit codes, decided here and nowhere else, and the one-line error report on stderr.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the server refused the request (API error, fault, unknown name) or a local file could not be read |
//! | 2 | usage: bad flags or arguments (clap's errors, malformed octal modes, ACL rules, …) |
//! | 3 | no conversation with the server: unreachable, not an XML-RPC server (or, for `app`, not the REST API), or no credentials |
//! | N | `vm exec`: the command run in the VM ended with exit code N (nothing is reported) |

use std::fmt;
use std::io::Write;
use std::process::ExitCode;

use nubo_client::{Category, ClientError};

use crate::rest::RestError;

/// The request failed.
const FAILED: u8 = 1;
/// The command line was wrong.
const USAGE: u8 = 2;
/// The server could not be talked to.
const UNREACHABLE: u8 = 3;

/// An argument the server was never asked about because it is wrong on its face.
#[derive(Debug)]
pub struct Usage(pub String);

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Usage {}

/// A usage error with this message.
pub fn usage_error(message: impl Into<String>) -> anyhow::Error {
    Usage(message.into()).into()
}

/// Reports a clap error (or prints help/version) and picks its exit code.
pub fn usage(err: &clap::Error) -> ExitCode {
    let _ = err.print();
    if err.use_stderr() {
        ExitCode::from(USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// A command run in a VM (`vm exec`) ended with this exit code (not 0); the CLI exits
/// with it (255 when it is outside 1-255) and reports nothing more.
#[derive(Debug)]
pub struct GuestExit(pub i32);

impl fmt::Display for GuestExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the command ended with exit code {}", self.0)
    }
}

impl std::error::Error for GuestExit {}

/// Reports the outcome of a command: nothing on success, one line on stderr otherwise.
pub fn finish(result: anyhow::Result<()>) -> ExitCode {
    let Err(err) = result else {
        return ExitCode::SUCCESS;
    };
    if let Some(GuestExit(code)) = err.downcast_ref::<GuestExit>() {
        return ExitCode::from(u8::try_from(*code).ok().filter(|c| *c != 0).unwrap_or(255));
    }
    let line = format!("{err:#}").replace(['\n', '\r'], " ");
    let _ = writeln!(std::io::stderr(), "nubo: {}", line.trim_end());
    ExitCode::from(code(&err))
}

/// The exit code for an error: the first cause that says what it is decides.
fn code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(client) = cause.downcast_ref::<ClientError>() {
            return match client.category() {
                Category::Refused => FAILED,
                Category::Input => USAGE,
                Category::Unreachable | Category::Config => UNREACHABLE,
            };
        }
        if cause.is::<Usage>() {
            return USAGE;
        }
        if let Some(rest) = cause.downcast_ref::<RestError>() {
            return rest.exit_code();
        }
    }
    FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_table() {
        let api = anyhow::Error::from(ClientError::Api {
            code: 1024,
            message: "[one.user.info] Error getting user [9].".into(),
        });
        assert_eq!(code(&api), FAILED);
        let missing = anyhow::Error::from(ClientError::AuthMissing { path: "/x".into() });
        assert_eq!(code(&missing), UNREACHABLE);
        assert_eq!(code(&usage_error("bad mode")), USAGE);
        let wrapped = anyhow::Error::from(ClientError::InvalidTimeout { value: "x".into() })
            .context("while connecting");
        assert_eq!(code(&wrapped), UNREACHABLE);
        assert_eq!(code(&anyhow::anyhow!("cannot read x")), FAILED);
        let refused = anyhow::Error::from(RestError::Problem {
            status: 422,
            detail: "no process type worker".into(),
        });
        assert_eq!(code(&refused), FAILED);
        let unreachable = anyhow::Error::from(RestError::Config("https".into()));
        assert_eq!(code(&unreachable), UNREACHABLE);
    }
}
