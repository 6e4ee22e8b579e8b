//! The routes of a router run apart from nubod: a table of hosts polled from the API
//! ([`Poller`], with `If-None-Match`, so an unchanged table costs a 304), swapped whole
//! when it changes and kept as it is while the API cannot be reached; and the router's
//! request lines, queued for the [`crate::shipper`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use crate::api::{ApiClient, ApiError, Polled, RoutesDoc};
use crate::shipper::LogQueue;

/// Hosts to apps and their instances.
#[derive(Debug, Default)]
pub struct Table {
    /// App index by host (lowercase).
    by_host: HashMap<String, usize>,
    /// Apps and their backends.
    apps: Vec<(String, Vec<SocketAddr>)>,
}

impl Table {
    /// The table of a route document.
    pub fn new(doc: RoutesDoc) -> Table {
        let mut table = Table::default();
        for app in doc.apps {
            let index = table.apps.len();
            for host in app.hosts {
                table.by_host.insert(host.to_ascii_lowercase(), index);
            }
            table.apps.push((app.app, app.backends));
        }
        table
    }

    /// The app serving `host` and its backends.
    pub fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)> {
        self.by_host
            .get(host)
            .and_then(|i| self.apps.get(*i))
            .cloned()
    }

    /// How many apps it has.
    pub fn apps(&self) -> usize {
        self.apps.len()
    }
}

/// The routes `nubo-router` serves: the last table read, and the log queue.
#[derive(Debug)]
pub struct RemoteRoutes {
    table: RwLock<Arc<Table>>,
    log: LogQueue,
}

impl RemoteRoutes {
    /// No routes yet; lines go to `log`.
    pub fn new(log: LogQueue) -> RemoteRoutes {
        RemoteRoutes {
            table: RwLock::new(Arc::new(Table::default())),
            log,
        }
    }

    /// Serves `table` from now on.
    pub fn replace(&self, table: Table) {
        if let Ok(mut t) = self.table.write() {
            *t = Arc::new(table);
        }
    }

    fn current(&self) -> Arc<Table> {
        self.table.read().map(|t| t.clone()).unwrap_or_default()
    }
}

impl nubo_router::Routes for RemoteRoutes {
    fn lookup(&self, host: &str) -> Option<(String, Vec<SocketAddr>)> {
        self.current().lookup(host)
    }

    fn record(&self, app: &str, line: String) {
        self.log.push(app, line);
    }
}

/// Keeps [`RemoteRoutes`] up to date from the API.
#[derive(Debug)]
pub struct Poller {
    client: ApiClient,
    routes: Arc<RemoteRoutes>,
    etag: Option<String>,
    /// Whether the last poll failed (a warning is logged once per streak).
    failing: bool,
}

impl Poller {
    /// Polls with `client` into `routes`.
    pub fn new(client: ApiClient, routes: Arc<RemoteRoutes>) -> Poller {
        Poller {
            client,
            routes,
            etag: None,
            failing: false,
        }
    }

    /// One poll: `Ok(true)` when the table changed. On an error the table is kept.
    pub async fn poll(&mut self) -> Result<bool, ApiError> {
        let outcome = self.client.routes(self.etag.as_deref()).await;
        match outcome {
            Ok(polled) => {
                if self.failing {
                    tracing::info!("the route table can be read again");
                    self.failing = false;
                }
                match polled {
                    Polled::Unchanged => Ok(false),
                    Polled::Changed(doc, etag) => {
                        let table = Table::new(doc);
                        tracing::debug!(apps = table.apps(), "new route table");
                        self.routes.replace(table);
                        self.etag = etag;
                        Ok(true)
                    }
                }
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!(error = %e, "cannot read the route table; the last one is kept");
                    self.failing = true;
                }
                Err(e)
            }
        }
    }

    /// Polls every `every` until `stop` says so.
    pub async fn run(mut self, every: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
            let _ = self.poll().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::AppDoc;

    #[test]
    fn hosts_name_their_app_and_its_backends() {
        let addr: SocketAddr = "10.0.0.5:5000".parse().expect("addr");
        let table = Table::new(RoutesDoc {
            apps_domain: Some("apps.localhost".into()),
            apps: vec![
                AppDoc {
                    app: "shop".into(),
                    hosts: vec!["shop.apps.localhost".into(), "WWW.Example.com".into()],
                    backends: vec![addr],
                },
                AppDoc {
                    app: "idle".into(),
                    hosts: vec!["idle.apps.localhost".into()],
                    backends: vec![],
                },
            ],
        });
        let shop = Some(("shop".to_owned(), vec![addr]));
        assert_eq!(table.lookup("shop.apps.localhost"), shop);
        assert_eq!(table.lookup("www.example.com"), shop);
        assert_eq!(
            table.lookup("idle.apps.localhost"),
            Some(("idle".into(), vec![]))
        );
        assert_eq!(table.lookup("other.apps.localhost"), None);
        assert_eq!(table.apps(), 2);
    }
}
