//! Wall-clock time in epoch seconds, as OpenNebula's XML carries it.

/// Seconds since the epoch (0 if the clock is before 1970).
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
