//! The driver's errors; each becomes the message of a `*_FAILURE` state.

use thiserror::Error;

/// What went wrong in the QEMU driver.
#[derive(Debug, Error)]
pub enum KvmError {
    /// Talking to QEMU's QMP socket failed, or QEMU refused a command.
    #[error("qmp: {0}")]
    Qmp(String),
    /// QEMU could not be started, or exited.
    #[error("qemu: {0}")]
    Qemu(String),
    /// A file of the VM could not be made or read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
    /// A helper program (qemu-img, genisoimage, ip) failed.
    #[error("{program}: {message}")]
    Tool {
        /// The program.
        program: String,
        /// Its error output.
        message: String,
    },
    /// The request lacks what the operation needs.
    #[error("{0}")]
    BadRequest(String),
    /// Something timed out.
    #[error("{0}")]
    Timeout(String),
}

impl KvmError {
    /// A file error.
    pub fn file(path: &std::path::Path, e: impl std::fmt::Display) -> KvmError {
        KvmError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
