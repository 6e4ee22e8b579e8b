//! The routes of nubod's in-process router: `<app>.<apps domain>` and the apps' custom
//! domains to their `web` instances that are up, as the PaaS knows them.

use std::net::SocketAddr;

/// The PaaS's apps as the router's route table.
#[derive(Debug)]
pub struct AppRoutes {
    /// The PaaS (which knows the apps domain: app `shop` is `shop.apps.localhost`).
    pub paas: nubo_paas::Paas,
}

impl nubo_router::Routes for AppRoutes {
    fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)> {
        let app = self.paas.app_for_host(host)?;
        let backends = self.paas.web_backends(&app);
        Some((app, backends))
    }

    fn record(&self, app: &str, line: String) {
        self.paas.router_log(app, line);
    }
}
