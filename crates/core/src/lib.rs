//! Nubo's application layer. [`Core`] owns the cloud's state: it authenticates callers,
//! authorizes every operation against permissions and ACLs, keeps every object in memory,
//! and commits each change to the store before the caller hears of it.

pub mod auth;
pub mod bootstrap;
pub mod calendar;
mod clock;
mod commit;
pub mod model;
pub mod monitoring;
pub mod ops;
mod runtime;
pub mod state;
pub mod tx;

use std::sync::{Arc, RwLock, RwLockReadGuard};

use nubo_store::Store;
use nubo_types::{Error, Result};
use tokio::sync::Mutex;

pub use auth::{Caller, RestrictedAttrs, RestrictedKind};
pub use bootstrap::BootstrapConfig;
pub use clock::now;
pub use ops::pool::PoolFilter;
pub use runtime::{HostKey, PlacementObserver, RuntimeConfig};
use state::State;
use tx::Tx;

/// Whether a change can alter who a session stands for (users and groups).
fn touches_identity(change: &nubo_store::Change) -> bool {
    use nubo_types::ObjectKind::{Group, User};
    match change {
        nubo_store::Change::Put(row) => matches!(row.kind, User | Group),
        nubo_store::Change::Delete { kind, .. } => matches!(kind, User | Group),
        _ => false,
    }
}

/// Settings of the core.
#[derive(Debug, Clone, Default)]
pub struct CoreConfig {
    /// What to create on first start.
    pub bootstrap: BootstrapConfig,
    /// Directory under which datastores keep their files.
    pub datastore_base: std::path::PathBuf,
    /// Directories of nubod's own files (its data directory: the database, `host.key`,
    /// which seals the EC2 secrets) that no image may be imported from.
    pub private_dirs: Vec<std::path::PathBuf>,
    /// What image imports may reach besides the rules of `ops::image_sources`.
    pub images: ops::image_sources::ImageImports,
    /// Drivers, scheduler and monitoring.
    pub runtime: RuntimeConfig,
    /// Attributes only the oneadmin group may set.
    pub restricted: RestrictedAttrs,
}

/// The core service: one per `nubod`.
#[derive(Debug, Clone)]
pub struct Core {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    state: RwLock<State>,
    writer: Mutex<()>,
    store: Store,
    config: CoreConfig,
    sessions: auth::SessionCache,
    runtime: runtime::Runtime,
    monitoring: monitoring::MonitoringLog,
    commits: tokio::sync::mpsc::UnboundedSender<commit::Pending>,
}

impl Core {
    /// Opens the core over `store`: loads every object, and bootstraps an empty cloud.
    /// Returns the core and, on first start, the generated oneadmin password (if any).
    pub async fn open(store: Store, config: CoreConfig) -> Result<(Core, bootstrap::Outcome)> {
        let snapshot = store
            .load_all()
            .await
            .map_err(|e| Error::internal(format!("cannot load the store: {e}")))?;
        let state = State::from_snapshot(snapshot)?;
        let (runtime, replies) = runtime::Runtime::new(config.runtime.clone());
        let (commits, queued) = tokio::sync::mpsc::unbounded_channel();
        let core = Core {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                writer: Mutex::new(()),
                store,
                config,
                sessions: auth::SessionCache::default(),
                runtime,
                monitoring: monitoring::MonitoringLog::default(),
                commits,
            }),
        };
        tokio::spawn(commit::run(core.inner.clone(), queued));
        let outcome = bootstrap::run(&core).await?;
        core.recount_running_quotas().await?;
        runtime::start(&core, replies)?;
        core.resume_operations()?;
        Ok((core, outcome))
    }

    /// The core's settings.
    pub fn config(&self) -> &CoreConfig {
        &self.inner.config
    }

    /// The store backend's name (`sqlite` or `postgresql`).
    pub fn backend_name(&self) -> &'static str {
        self.inner.store.backend_name()
    }

    /// Authenticates a session string (`user:secret`), from the session cache when it was
    /// verified recently.
    pub fn authenticate(&self, session: &str) -> Result<Caller> {
        let now = now();
        if let Some(caller) = self.inner.sessions.get(session, now) {
            return Ok(caller);
        }
        let generation = self.inner.sessions.generation();
        let verified = auth::authenticate(&*self.read_state()?, session, now)?;
        let caller = verified.caller.clone();
        self.inner.sessions.put(session, verified, generation);
        Ok(caller)
    }

    /// Authenticates a bearer token: a login token of an enabled user (`one.user.login`),
    /// not expired, as the session `user:token` would be. Tokens shorter than 16
    /// characters are no tokens.
    pub fn authenticate_bearer(&self, token: &str) -> Result<Caller> {
        if token.len() < 16 || token.contains(':') {
            return Err(Error::Authentication);
        }
        let now = now();
        let name = self.read(|state| {
            state
                .users
                .values()
                .find(|u| {
                    u.enabled
                        && u.login_tokens.iter().any(|t| {
                            t.token == token && (t.expiration_time == -1 || t.expiration_time > now)
                        })
                })
                .map(|u| u.name.clone())
                .ok_or(Error::Authentication)
        })?;
        self.authenticate(&format!("{name}:{token}"))
    }

    /// A consistent read view of the state.
    pub(crate) fn read_state(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.inner
            .state
            .read()
            .map_err(|_| Error::internal("the state lock is poisoned"))
    }

    /// Runs a read-only operation on the state.
    pub fn read<R>(&self, f: impl FnOnce(&State) -> Result<R>) -> Result<R> {
        f(&*self.read_state()?)
    }

    /// Runs a write operation: `f` stages changes against the current state; they are
    /// applied to memory at once and committed to the store by the group-commit task
    /// ([`commit`]); this returns only when they are durable. Writers are serialised while
    /// staging. Once staged, the commit goes on even if the caller goes away.
    pub async fn write<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Tx) -> Result<R>,
    ) -> Result<R> {
        let done = {
            let _writer = self.inner.writer.lock().await;
            let (result, changes, apply) = {
                let state = self.read_state()?;
                let mut tx = Tx::new(&state);
                let result = f(&mut tx)?;
                let (changes, apply) = tx.finish();
                (result, changes, apply)
            };
            if !changes.is_empty() {
                let mut state = self
                    .inner
                    .state
                    .write()
                    .map_err(|_| Error::internal("the state lock is poisoned"))?;
                for step in apply {
                    step(&mut state);
                }
            }
            if changes.iter().any(touches_identity) {
                self.inner.sessions.clear();
            }
            // Even a write that changed nothing waits for what is queued before it: its
            // answer may rest on changes not yet durable.
            let (tx, rx) = tokio::sync::oneshot::channel();
            self.inner
                .commits
                .send(commit::Pending { changes, done: tx })
                .map_err(|_| Error::internal("the commit task has stopped"))?;
            (result, rx)
        };
        let (result, rx) = done;
        rx.await
            .map_err(|_| Error::internal("the commit task has stopped"))??;
        Ok(result)
    }

    /// Closes the store.
    pub async fn close(&self) {
        self.inner.store.close().await;
    }
}
