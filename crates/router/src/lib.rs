//! Nubo's HTTP router: the reverse proxy in front of app instances. A request is routed by
//! its `Host` to the instances [`Routes`] names for it, round robin; an instance that
//! refuses the connection is skipped for the next one. Bodies stream both ways; `Upgrade`
//! requests (WebSockets) are joined to the instance once it answers 101. The instance
//! sees `X-Forwarded-For`, `X-Forwarded-Proto` and `X-Forwarded-Host`. When no app has the
//! host the answer is a 404 page; when the app has no instance up, 503; when none
//! answers, 502.
//!
//! The router runs inside nubod (routes from the PaaS) and is served by nubod's listener,
//! which gives each request its peer address ([`nubo_listener::Peer`]-like extension,
//! [`PeerAddr`] here so the router does not depend on it).

mod pages;
mod proxy;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

/// Where the requests for a host go.
pub trait Routes: Send + Sync + std::fmt::Debug + 'static {
    /// The app serving `host` (lowercase, without port) and the addresses of its instances
    /// that are up; `None` when no app has the host.
    fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)>;

    /// Takes the router's line about one request of `app` (for the app's log); by
    /// default, nothing is kept.
    fn record(&self, _app: &str, _line: String) {}

    /// Told of one request of `app`: the status it was answered with and how long the
    /// answer's head took (for metrics); by default, nothing is counted.
    fn observe(&self, _app: &str, _status: u16, _took: Duration) {}
}

/// The router's settings.
#[derive(Debug, Clone)]
pub struct RouterConfig {
    /// How long connecting to an instance may take before the next is tried.
    pub connect_timeout: Duration,
    /// How long an instance may take to start answering (Heroku's router: 30 s).
    pub response_timeout: Duration,
    /// `http` or `https`: what `X-Forwarded-Proto` says.
    pub scheme: &'static str,
}

impl Default for RouterConfig {
    fn default() -> Self {
        RouterConfig {
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(30),
            scheme: "http",
        }
    }
}

/// The address a request came from, when the server adds it as an extension.
pub type PeerAddr = SocketAddr;

#[derive(Debug)]
struct Shared {
    routes: Arc<dyn Routes>,
    config: RouterConfig,
    next: AtomicUsize,
    idle: proxy::Idle,
}

/// The router as an axum service: every request is proxied. `peer` reads a request's
/// client address from its extensions (the listener's).
pub fn router(
    routes: Arc<dyn Routes>,
    config: RouterConfig,
    peer: fn(&axum::http::Extensions) -> Option<SocketAddr>,
) -> axum::Router {
    let shared = Arc::new(Shared {
        routes,
        config,
        next: AtomicUsize::new(0),
        idle: proxy::Idle::default(),
    });
    axum::Router::new().fallback(move |req: axum::extract::Request| {
        let shared = shared.clone();
        async move { proxy::forward(&shared, req, peer).await }
    })
}
