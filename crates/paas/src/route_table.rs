//! The route table for routers run apart from nubod (`nubo-router`): every app with the
//! host names it is served at (`<app>.<apps domain>` and its custom domains) and the
//! addresses of its `web` instances that are up, as nubod's own router finds them; and
//! the request lines such a router sends back into the apps' logs. Both are for the
//! oneadmin group only, as registering stacks is: a router sees every app's instances and
//! writes into every app's log.

use std::net::SocketAddr;

use nubo_core::Caller;

use crate::Paas;
use crate::error::{PaasError, Result};
use crate::stacks::require_admin;

/// The most lines one call may bring into the apps' logs.
pub const ROUTER_LOG_LINES_MAX: usize = 1000;
/// The longest line one call may bring (a log line's text is cut there anyway).
pub const ROUTER_LOG_LINE_MAX: usize = 8 * 1024;

/// Every app's routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTable {
    /// The domain apps are named under (`shop` is `shop.apps.localhost`), when nubod has
    /// one (its router is on).
    pub apps_domain: Option<String>,
    /// The apps, by name.
    pub apps: Vec<AppRoute>,
}

/// Where one app is served and by which instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRoute {
    /// The app's name.
    pub app: String,
    /// Its host names: `<app>.<apps domain>` first (when there is an apps domain), then
    /// its custom domains, sorted.
    pub hosts: Vec<String>,
    /// The addresses of its `web` instances that are up, sorted.
    pub backends: Vec<SocketAddr>,
}

/// One line of a router about one request of an app.
#[derive(Debug, Clone)]
pub struct RouterLine {
    /// The app's name (lines of apps that do not exist are skipped).
    pub app: String,
    /// The text, e.g. `GET / 200 10.247.0.5:5000 3 ms`.
    pub line: String,
}

impl Paas {
    /// Every app's host names and `web` instances that are up (oneadmin group only).
    pub fn route_table(&self, caller: &Caller) -> Result<RouteTable> {
        require_admin(caller, "ROUTER", "read the route table")?;
        let apps_domain = self.config().apps_domain.clone();
        let named: Vec<(String, Vec<String>)> = self.read(|s| {
            let mut apps: Vec<(String, Vec<String>)> = s
                .apps
                .values()
                .map(|a| (a.name.clone(), a.domains.clone()))
                .collect();
            apps.sort();
            Ok(apps)
        })?;
        let apps = named
            .into_iter()
            .map(|(app, domains)| {
                let mut hosts: Vec<String> =
                    apps_domain.iter().map(|d| format!("{app}.{d}")).collect();
                let mut custom = domains;
                custom.sort();
                hosts.extend(custom);
                let mut backends = self.web_backends(&app);
                backends.sort();
                AppRoute {
                    app,
                    hosts,
                    backends,
                }
            })
            .collect();
        Ok(RouteTable { apps_domain, apps })
    }

    /// Puts a router's lines into their apps' logs as nubod's router's are (oneadmin group
    /// only): at most [`ROUTER_LOG_LINES_MAX`] lines of at most [`ROUTER_LOG_LINE_MAX`]
    /// bytes each, else nothing is taken; lines of apps that do not exist are skipped.
    pub fn router_log_lines(&self, caller: &Caller, lines: Vec<RouterLine>) -> Result<()> {
        require_admin(
            caller,
            "ROUTER",
            "write the router's lines into the apps' logs",
        )?;
        if lines.len() > ROUTER_LOG_LINES_MAX {
            return Err(PaasError::Invalid(format!(
                "at most {ROUTER_LOG_LINES_MAX} lines at once ({} sent)",
                lines.len()
            )));
        }
        if let Some(long) = lines
            .iter()
            .position(|l| l.line.len() > ROUTER_LOG_LINE_MAX)
        {
            return Err(PaasError::Invalid(format!(
                "line {long} is longer than {ROUTER_LOG_LINE_MAX} bytes"
            )));
        }
        for RouterLine { app, line } in lines {
            self.router_log(&app, line);
        }
        Ok(())
    }
}
