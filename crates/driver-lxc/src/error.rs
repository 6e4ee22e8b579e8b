//! The container driver's errors; each becomes the message of a `*_FAILURE` state.

use thiserror::Error;

/// What went wrong in the container driver.
#[derive(Debug, Error)]
pub enum LxcError {
    /// The OCI runtime (runc) refused or failed.
    #[error("{program}: {message}")]
    Runtime {
        /// The runtime's program.
        program: String,
        /// What it said.
        message: String,
    },
    /// The root filesystem could not be made from the VM's first disk.
    #[error("root filesystem: {0}")]
    Rootfs(String),
    /// Host networking, images and helper programs (shared with the QEMU driver).
    #[error(transparent)]
    Host(#[from] nubo_driver_kvm::error::KvmError),
    /// A file of the container could not be made or read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What happened.
        message: String,
    },
    /// The request asks for what a container cannot do, or lacks what it needs.
    #[error("{0}")]
    BadRequest(String),
    /// Something timed out.
    #[error("{0}")]
    Timeout(String),
}

impl LxcError {
    /// A file error.
    pub fn file(path: &std::path::Path, e: impl std::fmt::Display) -> LxcError {
        LxcError::File {
            path: path.display().to_string(),
            message: e.to_string(),
        }
    }
}
