//! The PaaS's records as they are kept (JSON bodies in the store's `paas_records`):
//! stacks, apps, releases. Each carries the id of its record and of its app.

use std::collections::BTreeMap;

use nubo_types::{Oid, Permissions};
use serde::{Deserialize, Serialize};

/// The state of a stack, as Cloud Foundry's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum StackState {
    /// New apps may use it.
    Active,
    /// Apps on it keep building and running; no new app may choose it.
    Deprecated,
    /// Apps on it keep running; nothing builds on it.
    Disabled,
}

impl StackState {
    /// Its name as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            StackState::Active => "ACTIVE",
            StackState::Deprecated => "DEPRECATED",
            StackState::Disabled => "DISABLED",
        }
    }
}

/// A named, versioned base root filesystem that apps build and run on: a Nubo image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stack {
    /// Record id.
    pub id: i64,
    /// Name, e.g. `debian-12`.
    pub name: String,
    /// Version, e.g. `2026.12`.
    pub version: String,
    /// The Nubo image holding the root filesystem.
    pub image: Oid,
    /// Whether apps may choose it, build and run on it.
    pub state: StackState,
    /// Free text.
    pub description: String,
    /// When it was registered (epoch seconds).
    pub created: i64,
    /// The versions it had before the current one, oldest first (the newest
    /// [`crate::stack_patch::VERSIONS_KEPT`]): their images stay for the releases that
    /// ran on them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous: Vec<StackVersion>,
}

/// A version a stack had: its image, and when a patch replaced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackVersion {
    /// Version, e.g. `2026.12`.
    pub version: String,
    /// The Nubo image that held its root filesystem.
    pub image: Oid,
    /// When a newer version replaced it (epoch seconds).
    pub replaced: i64,
}

/// An application: what its owner configured; builds, releases and instances hang off it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct App {
    /// Record id.
    pub id: i64,
    /// Unique name, a DNS label: its host name under the apps domain.
    pub name: String,
    /// Owner.
    pub uid: Oid,
    /// Owner's group.
    pub gid: Oid,
    /// Who may see and change it, as an OpenNebula object's permissions.
    pub perms: Permissions,
    /// The stack it builds and runs on (by name).
    pub stack: String,
    /// When it was created (epoch seconds).
    pub created: i64,
    /// When it last changed (epoch seconds).
    pub updated: i64,
    /// Bumped by every change: the app's ETag.
    pub revision: u64,
    /// Config vars, given to builds and instances as environment variables.
    pub config: BTreeMap<String, String>,
    /// Wanted instances per process type.
    pub formation: BTreeMap<String, u32>,
    /// The current release's version (0 before the first).
    pub release: u32,
    /// The CAMP plan it was deployed from, if any (a plan is kept while apps use it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<i64>,
    /// Free text (CAMP's `description`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Free labels (CAMP's `tags`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Custom domains the router serves the app at besides `<name>.<apps domain>`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// Per process type, how many times it was restarted: instances started before the
    /// last restart are replaced.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub generations: BTreeMap<String, u32>,
    /// Process types stopped (their instances gone, their quantities kept).
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub stopped: std::collections::BTreeSet<String>,
    /// Health checks set per process type (the others have [`HealthCheck::default_for`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub health_checks: BTreeMap<String, HealthCheck>,
    /// How its deployments go.
    #[serde(default)]
    pub rollout: crate::deployments::RolloutPolicy,
    /// Autoscaling policies per process type.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub autoscaling: BTreeMap<String, crate::autoscale::AutoscalePolicy>,
}

/// How an instance's health is checked (Cloud Foundry's health check types).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckType {
    /// Up as soon as its process runs (the default of types other than `web`).
    Process,
    /// Up when `$PORT` accepts connections (the default of `web`).
    Port,
    /// Up when `GET <path>` on `$PORT` answers 2xx.
    Http,
    /// Up when a command run in the instance (`sh -c`, as its process runs) exits 0.
    Command,
}

/// When an instance of a process type counts as up, and how long it has to get there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCheck {
    /// How it is checked.
    #[serde(rename = "type")]
    pub kind: HealthCheckType,
    /// The path an `http` check asks for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The shell command a `command` check runs in the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Seconds a new instance has to pass the check; else its release fails to start.
    pub timeout: u32,
    /// The status an `http` check wants (any 2xx when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Seconds between two checks of an instance that is up.
    #[serde(default = "crate::health::default_interval")]
    pub interval: u32,
    /// Failed checks in a row after which an instance that was up is replaced (the first
    /// takes it out of the routes).
    #[serde(default = "crate::health::default_failures")]
    pub failures: u32,
}

/// An immutable, numbered release of an app: a slug (once built), the config vars and the
/// process types the slug declares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// Record id.
    pub id: i64,
    /// The app.
    pub app: i64,
    /// Its number within the app: 1, 2, …
    pub version: u32,
    /// What made it, e.g. `Set FOO config vars`.
    pub description: String,
    /// Who made it.
    pub uid: Oid,
    /// When (epoch seconds).
    pub created: i64,
    /// The config vars of this release.
    pub config: BTreeMap<String, String>,
    /// The build whose slug it runs, if any yet.
    pub build: Option<i64>,
    /// Process types and their commands, from the build.
    pub process_types: BTreeMap<String, String>,
    /// The image of the app's stack when it was made: its instances run on it, so a stack
    /// patch (a new release) does not change the image of a release that already runs, and
    /// a failed deployment goes back to the image that served. Absent in releases made
    /// before stacks were versioned: they run on the stack's current image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_image: Option<Oid>,
}

/// Where a build's source comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuildSource {
    /// A git repository: its URL and a branch, tag or commit (the default branch when
    /// absent).
    Git {
        /// `file://`, `http://`, `https://` or `git://` URL.
        url: String,
        /// Branch, tag or commit.
        reference: Option<String>,
    },
    /// A tarball (gzipped or not) uploaded by the caller.
    Archive {
        /// Its size in bytes.
        size: u64,
        /// Its SHA-256, in hex.
        sha256: String,
    },
}

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildStatus {
    /// Accepted, not started.
    Queued,
    /// Running.
    Building,
    /// Made a slug and a release.
    Succeeded,
    /// Ended without a slug (the reason says why).
    Failed,
}

impl BuildStatus {
    /// Its name as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            BuildStatus::Queued => "queued",
            BuildStatus::Building => "building",
            BuildStatus::Succeeded => "succeeded",
            BuildStatus::Failed => "failed",
        }
    }

    /// Whether the build has ended.
    pub fn is_final(self) -> bool {
        matches!(self, BuildStatus::Succeeded | BuildStatus::Failed)
    }
}

/// A built app: the image holding its `/app` filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slug {
    /// The Nubo image.
    pub image: Oid,
    /// Its file's size in bytes.
    pub size: u64,
    /// Its file's SHA-256, in hex.
    pub sha256: String,
}

/// One build of an app: source → build container → slug → release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Build {
    /// Record id (also its number in URLs).
    pub id: i64,
    /// The app.
    pub app: i64,
    /// Who asked for it.
    pub uid: Oid,
    /// Where the source comes from.
    pub source: BuildSource,
    /// The stack it builds on.
    pub stack: String,
    /// Where it is.
    pub status: BuildStatus,
    /// Why it failed.
    pub reason: Option<String>,
    /// When it was asked for, started and ended (epoch seconds; 0 = not yet).
    pub created: i64,
    /// When it started.
    pub started: i64,
    /// When it ended.
    pub finished: i64,
    /// The source's commit, once fetched.
    pub commit: Option<String>,
    /// The language or kind of app detected.
    pub buildpack: Option<String>,
    /// The image holding the source, while the build runs.
    pub source_image: Option<Oid>,
    /// The container that builds, while it runs.
    pub vm: Option<Oid>,
    /// The result.
    pub slug: Option<Slug>,
    /// Process types and commands the slug declares.
    pub process_types: BTreeMap<String, String>,
    /// The release made from it.
    pub release: Option<u32>,
    /// How much of the build container's console is in the log.
    #[serde(default)]
    pub console_offset: u64,
    /// Whether retention (`[paas] releases_kept`) deleted its slug: its releases stay
    /// listed but can no longer be rolled back to.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pruned: bool,
    /// The stack's image its container ran on, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_image: Option<Oid>,
}

impl Build {
    /// A build just queued: nothing of it done yet.
    pub fn queued(
        id: i64,
        app: i64,
        uid: Oid,
        source: BuildSource,
        stack: String,
        created: i64,
    ) -> Build {
        Build {
            id,
            app,
            uid,
            source,
            stack,
            status: BuildStatus::Queued,
            reason: None,
            created,
            started: 0,
            finished: 0,
            commit: None,
            buildpack: None,
            source_image: None,
            vm: None,
            slug: None,
            process_types: Default::default(),
            release: None,
            console_offset: 0,
            pruned: false,
            stack_image: None,
        }
    }
}

/// Where a one-off run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Its container is being made.
    Starting,
    /// Its command runs.
    Running,
    /// The command exited 0.
    Succeeded,
    /// The command exited otherwise, or could not run (the reason says).
    Failed,
}

impl RunStatus {
    /// Its name as the APIs show it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Starting => "starting",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
        }
    }

    /// Whether the run has ended.
    pub fn is_final(self) -> bool {
        matches!(self, RunStatus::Succeeded | RunStatus::Failed)
    }
}

/// A one-off command in a fresh container of the app's current release (Heroku's `run`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Record id.
    pub id: i64,
    /// The app.
    pub app: i64,
    /// Who asked for it.
    pub uid: Oid,
    /// The command, run by `/bin/sh -c` in `/app` with the config vars.
    pub command: String,
    /// The release it runs.
    pub release: u32,
    /// Where it is.
    pub status: RunStatus,
    /// The command's exit status, once it ended.
    pub exit_code: Option<i32>,
    /// Why it failed without an exit status.
    pub reason: Option<String>,
    /// When it was asked for and ended (epoch seconds; 0: not yet).
    pub created: i64,
    /// When it ended.
    pub finished: i64,
    /// Its container.
    pub vm: Option<Oid>,
    /// How much of its console is in its log.
    #[serde(default)]
    pub console_offset: u64,
}
