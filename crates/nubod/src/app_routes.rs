//! The routes of nubod's in-process router: `<app>.<apps domain>` to the app's `web`
//! instances that are up, as the PaaS knows them.

use std::net::SocketAddr;

/// The PaaS's apps as the router's route table.
#[derive(Debug)]
pub struct AppRoutes {
    /// The PaaS.
    pub paas: nubo_paas::Paas,
    /// The apps domain, lowercase, e.g. `apps.localhost`: app `shop` is `shop.apps.localhost`.
    pub domain: String,
}

impl nubo_router::Routes for AppRoutes {
    fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)> {
        let app = host.strip_suffix(&self.domain)?.strip_suffix('.')?;
        if app.contains('.') || !self.paas.app_exists(app) {
            return None;
        }
        Some((app.to_owned(), self.paas.web_backends(app)))
    }

    fn record(&self, app: &str, line: String) {
        self.paas.router_log(app, line);
    }
}
