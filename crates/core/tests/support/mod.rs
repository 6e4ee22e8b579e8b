//! What the core's integration tests share: a core over a fresh SQLite store (in memory
//! unless a test names one) whose datastores live in a directory of the test's, oneadmin's
//! password being `pw`.

#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use nubo_core::{BootstrapConfig, Caller, Core, CoreConfig, RuntimeConfig};

/// The settings of a test core whose datastores are under `dir`.
pub fn config(dir: &Path) -> CoreConfig {
    CoreConfig {
        bootstrap: BootstrapConfig {
            admin_password: Some("pw".into()),
        },
        datastore_base: dir.to_path_buf(),
        ..CoreConfig::default()
    }
}

/// Simulated hosts, monitoring and the scheduler at test speed.
pub fn quick_runtime() -> RuntimeConfig {
    RuntimeConfig {
        sim_delay: Duration::from_millis(10),
        monitor_interval: Duration::from_millis(200),
        sched_retry: Duration::from_millis(200),
        ..RuntimeConfig::default()
    }
}

/// A core opened with `config` over a fresh in-memory store, and oneadmin.
pub async fn open(config: CoreConfig) -> (Core, Caller) {
    open_at("sqlite::memory:", config).await
}

/// A core opened with `config` over the store at `url`, and oneadmin.
pub async fn open_at(url: &str, config: CoreConfig) -> (Core, Caller) {
    let store = nubo_store::Store::open(url).await.expect("store");
    let (core, _) = Core::open(store, config).await.expect("core");
    let admin = core.authenticate("oneadmin:pw").expect("oneadmin");
    (core, admin)
}

/// A new user `name` (password `secret`, group users), made by oneadmin, and its session.
pub async fn user(core: &Core, admin: &Caller, name: &str) -> Caller {
    core.user_allocate(admin, name, "secret", "", &[])
        .await
        .expect("user");
    core.authenticate(&format!("{name}:secret"))
        .expect("user session")
}
