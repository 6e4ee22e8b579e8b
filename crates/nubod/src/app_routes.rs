//! The routes of nubod's in-process router: `<app>.<apps domain>` and the apps' custom
//! domains to their `web` instances that are up, as the PaaS knows them. An answer is
//! kept for [`ROUTE_TTL`] ([`EMPTY_ROUTE_TTL`] when no instance is up; finding an app's
//! instances reads every VM of the cloud), for at most [`ROUTES_MAX`] hosts (past it,
//! every kept answer is dropped: hosts that name no app, sent by anyone, cannot make it
//! grow). Each request the router answers is counted in the metrics and in the app's
//! monitoring (`nubo_paas::app_metrics`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a route is kept: an instance that goes down is skipped by the router when it
/// refuses connections meanwhile, and a new one gets traffic this much later.
const ROUTE_TTL: Duration = Duration::from_millis(250);
/// How long a route with no instance up is kept: briefly (the first instance of a deploy
/// gets traffic as soon as it is up), but long enough that a flood of requests to an app
/// with nothing up does not read every VM for each of them.
const EMPTY_ROUTE_TTL: Duration = Duration::from_millis(20);
/// The most hosts whose routes are kept.
const ROUTES_MAX: usize = 10_000;

/// What a host routes to.
type Route = Option<(String, Vec<SocketAddr>)>;

/// The PaaS's apps as the router's route table.
#[derive(Debug)]
pub struct AppRoutes {
    /// The PaaS (which knows the apps domain: app `shop` is `shop.apps.localhost`).
    paas: nubo_paas::Paas,
    /// Routes found lately, by host.
    kept: Mutex<HashMap<String, (Instant, Route)>>,
    /// Where each request is counted.
    metrics: nubo_metrics::Metrics,
}

impl AppRoutes {
    /// The routes of `paas`'s apps.
    pub fn new(paas: nubo_paas::Paas, metrics: nubo_metrics::Metrics) -> Self {
        AppRoutes {
            paas,
            kept: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    fn find(&self, host: &str) -> Route {
        let app = self.paas.app_for_host(host)?;
        let backends = self.paas.web_backends(&app);
        Some((app, backends))
    }
}

impl nubo_router::Routes for AppRoutes {
    fn lookup(&self, host: &str) -> Route {
        if let Ok(kept) = self.kept.lock()
            && let Some((at, route)) = kept.get(host)
            && at.elapsed() < ttl(route)
        {
            return route.clone();
        }
        let route = self.find(host);
        if let Ok(mut kept) = self.kept.lock() {
            if kept.len() >= ROUTES_MAX {
                kept.clear();
            }
            kept.insert(host.to_owned(), (Instant::now(), route.clone()));
        }
        route
    }

    fn record(&self, app: &str, line: String) {
        self.paas.router_log(app, line);
    }

    fn observe(&self, app: &str, status: u16, took: Duration) {
        self.metrics.observe_router(app, status, took);
        self.paas.observe_request(app, status, took);
    }
}

/// How long `route` is kept.
fn ttl(route: &Route) -> Duration {
    match route {
        Some((_, backends)) if backends.is_empty() => EMPTY_ROUTE_TTL,
        _ => ROUTE_TTL,
    }
}
