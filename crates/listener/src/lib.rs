//! Every HTTP listener of Nubo — nubod's XML-RPC, EC2 and host-agent APIs, nubo-hostd's
//! API — is served by [`serve`], with the same defences against clients that hold on to
//! what they are given:
//!
//! - at most [`Limits::max_connections`] connections at once; one more is answered
//!   `503 Service Unavailable` and closed, so idle connections cannot use up the process's
//!   file descriptors ([`raise_fd_limit`] lifts the soft limit to the hard one at start);
//! - a request's headers must arrive within [`Limits::header_timeout`], which is also how
//!   long a keep-alive connection may sit idle between requests;
//! - a TLS handshake must finish within [`Limits::handshake_timeout`];
//! - request bodies are read by [`BodyRules::read`]: a declared length over the limit is
//!   refused before a byte is read, a body that stalls or takes too long is given up, a
//!   body cut short is a bad request, and the memory of all large bodies in flight together
//!   stays within one [`BodyBudget`];
//! - when told to stop, the listener stops accepting, lets requests in progress finish for
//!   at most [`Limits::stop_grace`], and returns.

mod body;
mod fd_limit;
mod serve;
pub mod upload;

use std::time::Duration;

pub use body::{BodyBudget, BodyError, BodyRules, Received};
pub use fd_limit::raise_fd_limit;
pub use serve::{Peer, serve};
pub use tokio_rustls::rustls::ServerConfig;

/// The connection-level limits of one listener.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once.
    pub max_connections: usize,
    /// Time for a request's headers to arrive, and for an idle keep-alive connection to
    /// send its next request.
    pub header_timeout: Duration,
    /// Time for a client to finish its TLS handshake.
    pub handshake_timeout: Duration,
    /// How long requests in progress may go on once the listener is told to stop.
    pub stop_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            header_timeout: Duration::from_secs(20),
            handshake_timeout: Duration::from_secs(15),
            stop_grace: Duration::from_secs(5),
        }
    }
}
