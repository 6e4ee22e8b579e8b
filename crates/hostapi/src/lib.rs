//! The wire between nubod and `nubo-hostd`: nubod asks a host's agent to carry out an
//! operation (`POST /v1/execute`, a JSON [`nubo_driver::Request`], answered with a JSON
//! [`nubo_driver::Outcome`]) and to report (`GET /v1/monitor`, a JSON
//! [`nubo_driver::HostReport`]), what a guest's console printed (`POST /v1/console`) and
//! how a health check's command run in a guest ended (`POST /v1/check`). Both directions
//! are signed with the host's secret
//! ([`auth`]); [`client::RemoteHost`] is nubod's side. Agents fetch image files from
//! nubod the same way ([`images`]), and each other's VM files
//! for a cold migration ([`transfer`]).

pub mod auth;
pub mod client;
pub mod files;
pub mod front;
pub mod images;
pub mod tls;
pub mod transfer;

pub use client::{Endpoint, RemoteHost};

/// Where an agent carries out operations.
pub const EXECUTE_PATH: &str = "/v1/execute";
/// Where an agent reports when asked (GET, on the agent) and where it pushes its reports
/// (POST, on nubod).
pub const MONITOR_PATH: &str = "/v1/monitor";
/// Where an agent says hello to nubod (its front end for hosts).
pub const HELLO_PATH: &str = "/v1/hello";

/// What an agent says when it starts or its guests changed.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Hello {
    /// Where nubod reaches the agent, if it knows.
    pub endpoint: Option<String>,
}

/// Where an agent answers what a guest's serial console printed.
pub const CONSOLE_PATH: &str = "/v1/console";

/// The body of a console request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ConsoleRequest {
    /// The VM.
    pub vm_id: i32,
    /// From which byte on (`nubo_driver::CONSOLE_TAIL`: the log's last piece).
    pub offset: u64,
}
/// Where an agent runs a health check's command in a guest and answers how it ended.
pub const CHECK_PATH: &str = "/v1/check";

/// The body of a check request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckRequest {
    /// The VM.
    pub vm_id: i32,
    /// The program and its arguments.
    pub command: Vec<String>,
    /// How long it may run, milliseconds (the agent allows at most
    /// [`nubo_driver::CHECK_TIMEOUT_MAX`]).
    pub timeout_ms: u64,
}

/// The agent's default TCP port.
pub const DEFAULT_PORT: u16 = 2634;

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
