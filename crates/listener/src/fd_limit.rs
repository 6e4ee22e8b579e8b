//! The process's open-file limit: raised from its soft value to the hard one at start, so
//! the connection limits, not the file descriptors, decide how many clients are served.

/// Raises the soft limit on open files to the hard limit; answers the limit now in force
/// (or why it could not be read).
pub fn raise_fd_limit() -> std::io::Result<u64> {
    rlimit::increase_nofile_limit(u64::MAX)
}
