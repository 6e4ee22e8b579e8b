//! Nubo's PaaS, a layer over the IaaS core as Megam was over OpenNebula: stacks (base root
//! filesystems registered as images), apps, their immutable numbered releases (config vars,
//! process types, later a slug) and their process formation.
//!
//! The PaaS keeps its objects in memory ([`state`]) and in the store's PaaS records; every
//! change is durable before the caller hears of it. Callers are the core's authenticated
//! [`Caller`]s, and apps are authorized with the core's rules for DOCUMENT objects (owner,
//! group and other bits, then ACL rules), as OpenNebula's OneFlow services are.

pub mod app_events;
pub mod app_logs;
pub mod app_metrics;
mod apps;
pub mod archive;
pub mod autoscale;
pub mod basic_auth;
mod branch_poll;
mod build_files;
mod build_runner;
pub mod buildpack;
mod builds;
pub mod check_command;
pub mod config;
mod console_watch;
pub mod deployments;
pub mod domains;
pub mod error;
#[cfg(test)]
mod fixtures;
pub mod health;
pub mod instances;
pub mod latency;
mod leftovers;
mod liveness;
mod logs;
pub mod metrics_history;
pub mod metrics_view;
pub mod model;
pub mod names;
pub mod plans;
pub mod process_control;
pub mod rollback;
pub(crate) mod rollout;
pub mod route_table;
mod runs;
mod slug_container;
pub mod source;
pub mod stack_patch;
mod stacks;
pub mod state;
mod webhook_delivery;
pub mod webhooks;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use nubo_core::{Caller, Core};
use nubo_store::Store;

pub use apps::{AppFilter, ConfigEdit, NewApp};
pub use builds::LOG_CHUNK_MAX;
pub use config::{BuildLimits, PaasConfig};
pub use error::{PaasError, Result};
pub use runs::{COMMAND_MAX, RUN_TIMEOUT};
pub use stack_patch::NewStackVersion;
pub use stacks::NewStack;
use state::{Op, PaasState, Staged};

/// The PaaS service: one per `nubod`, cheap to clone.
#[derive(Debug, Clone)]
pub struct Paas {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    core: Core,
    config: PaasConfig,
    store: Store,
    state: RwLock<PaasState>,
    writer: tokio::sync::Mutex<()>,
    /// What the reconciler remembers of instances.
    watch: std::sync::Mutex<instances::Watch>,
    /// Wakes the reconciler.
    wake: tokio::sync::Notify,
    /// Whether instances are starting (the reconciler then looks again soon).
    probing: std::sync::atomic::AtomicBool,
    /// Whether a sweep of leftovers is under way.
    sweeping: std::sync::atomic::AtomicBool,
    /// Where instances' consoles were read up to.
    consoles: std::sync::Mutex<app_logs::Consoles>,
    /// Router lines on their way to the apps' logs.
    router_lines: tokio::sync::mpsc::Sender<(i64, String)>,
    /// The apps' monitoring series (the last 24 hours, per minute).
    monitor: std::sync::Mutex<metrics_history::Monitor>,
}

impl Paas {
    /// Opens the PaaS over the core and the store: loads every PaaS record, and goes on
    /// with the builds a previous nubod left unfinished.
    pub async fn open(core: Core, store: Store, config: PaasConfig) -> Result<Paas> {
        let snapshot = store.paas_load().await?;
        let state = PaasState::load(snapshot);
        tracing::info!(
            apps = state.apps.len(),
            stacks = state.stacks.len(),
            "PaaS loaded"
        );
        let (router_lines, router_rx) = tokio::sync::mpsc::channel(app_logs::ROUTER_QUEUE);
        let paas = Paas {
            inner: Arc::new(Inner {
                core,
                config,
                store,
                state: RwLock::new(state),
                writer: tokio::sync::Mutex::new(()),
                watch: std::sync::Mutex::new(instances::Watch::default()),
                wake: tokio::sync::Notify::new(),
                probing: std::sync::atomic::AtomicBool::new(false),
                sweeping: std::sync::atomic::AtomicBool::new(false),
                consoles: std::sync::Mutex::new(app_logs::Consoles::default()),
                router_lines,
                monitor: std::sync::Mutex::new(metrics_history::Monitor::default()),
            }),
        };
        paas.start_router_log_writer(router_rx);
        paas.start_log_collector();
        paas.resume_builds();
        paas.resume_runs();
        paas.start_reconciler();
        paas.start_autoscaler();
        paas.start_auto_deploy();
        paas.start_retention();
        paas.start_app_monitor();
        Ok(paas)
    }

    /// The PaaS's settings.
    pub fn config(&self) -> &PaasConfig {
        &self.inner.config
    }

    /// The core the PaaS runs over.
    pub fn core(&self) -> &Core {
        &self.inner.core
    }

    /// The store the PaaS keeps its records in, for what its front ends keep themselves
    /// (the REST API's answers kept for `Idempotency-Key` replays).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Authenticates a session (`user:secret`) with the core.
    pub fn authenticate(&self, session: &str) -> Result<Caller> {
        Ok(self.inner.core.authenticate(session)?)
    }

    fn read_state(&self) -> Result<RwLockReadGuard<'_, PaasState>> {
        self.inner.state.read().map_err(|_| {
            PaasError::Core(nubo_types::Error::internal(
                "the PaaS state lock is poisoned",
            ))
        })
    }

    /// Runs `f` on a consistent view of the PaaS's objects.
    pub fn read<R>(&self, f: impl FnOnce(&PaasState) -> Result<R>) -> Result<R> {
        f(&*self.read_state()?)
    }

    /// Runs a write: `f` stages ops against the current state; they are committed to the
    /// store in one transaction and then applied to memory. Writers are serialised.
    async fn write<R>(&self, f: impl FnOnce(&mut Staged<'_>) -> Result<R>) -> Result<R> {
        let _writer = self.inner.writer.lock().await;
        let (result, ops) = {
            let state = self.read_state()?;
            let mut staged = Staged::new(&state);
            let result = f(&mut staged)?;
            (result, staged.finish())
        };
        let changes = ops.iter().map(Op::change).collect::<Result<Vec<_>>>()?;
        self.inner.store.paas_commit(&changes).await?;
        let mut state = self.inner.state.write().map_err(|_| {
            PaasError::Core(nubo_types::Error::internal(
                "the PaaS state lock is poisoned",
            ))
        })?;
        for op in ops {
            state.apply(op);
        }
        Ok(result)
    }
}
