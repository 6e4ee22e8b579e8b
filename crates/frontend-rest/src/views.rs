//! The JSON shapes of the REST API (requests and responses), with their OpenAPI schemas,
//! and how each is made from the PaaS's model.

use std::collections::BTreeMap;

use nubo_paas::model::{App, Release, Stack};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An app.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppView {
    /// Its id.
    pub id: i64,
    /// Its name (a DNS label).
    pub name: String,
    /// The owner's user id.
    pub owner_id: i32,
    /// The owner's group id.
    pub group_id: i32,
    /// Permissions, as an octal string such as `"600"`.
    pub permissions: String,
    /// The stack it builds and runs on.
    pub stack: String,
    /// When it was created (seconds since the epoch).
    pub created_at: i64,
    /// When it last changed (seconds since the epoch).
    pub updated_at: i64,
    /// The current release's version.
    pub release: u32,
    /// Wanted instances per process type.
    pub formation: BTreeMap<String, u32>,
    /// Its revision; the `ETag` of the app is `"<revision>"`.
    pub revision: u64,
}

impl From<&App> for AppView {
    fn from(app: &App) -> Self {
        AppView {
            id: app.id,
            name: app.name.clone(),
            owner_id: app.uid,
            group_id: app.gid,
            permissions: format!("{:03o}", app.perms.to_octal()),
            stack: app.stack.clone(),
            created_at: app.created,
            updated_at: app.updated,
            release: app.release,
            formation: app.formation.clone(),
            revision: app.revision,
        }
    }
}

/// One page of apps.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppPage {
    /// The apps of this page, by name.
    pub items: Vec<AppView>,
    /// The token of the next page (`?after=`), absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A new app.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AppCreate {
    /// Its name: 1 to 63 of a-z, 0-9 and -, starting with a letter.
    pub name: String,
    /// The stack; by default the newest ACTIVE one.
    #[serde(default)]
    pub stack: Option<String>,
}

/// An app's config vars.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct ConfigVars(pub BTreeMap<String, String>);

/// Config var changes: a string sets the var, `null` removes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct ConfigVarsPatch(pub BTreeMap<String, Option<String>>);

/// The process formation: instances wanted per process type.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(transparent)]
pub struct Formation(pub BTreeMap<String, u32>);

/// A release.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReleaseView {
    /// Its number within the app.
    pub version: u32,
    /// What made it.
    pub description: String,
    /// Who made it (user id).
    pub user_id: i32,
    /// When (seconds since the epoch).
    pub created_at: i64,
    /// The build whose slug it runs, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_id: Option<i64>,
    /// Process types and their commands.
    pub process_types: BTreeMap<String, String>,
    /// The names of its config vars (their values are in `/config-vars`).
    pub config_var_names: Vec<String>,
    /// Whether it is the app's current release.
    pub current: bool,
}

impl ReleaseView {
    /// The view of `release` of an app whose current release is `current`.
    pub fn of(release: &Release, current: u32) -> Self {
        ReleaseView {
            version: release.version,
            description: release.description.clone(),
            user_id: release.uid,
            created_at: release.created,
            build_id: release.build,
            process_types: release.process_types.clone(),
            config_var_names: release.config.keys().cloned().collect(),
            current: release.version == current,
        }
    }
}

/// A stack.
#[derive(Debug, Serialize, ToSchema)]
pub struct StackView {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The image holding its root filesystem.
    pub image_id: i32,
    /// `ACTIVE`, `DEPRECATED` (no new apps) or `DISABLED` (no builds).
    pub state: String,
    /// Free text.
    pub description: String,
    /// When it was registered (seconds since the epoch).
    pub created_at: i64,
}

impl From<&Stack> for StackView {
    fn from(s: &Stack) -> Self {
        StackView {
            name: s.name.clone(),
            version: s.version.clone(),
            image_id: s.image,
            state: s.state.as_str().to_owned(),
            description: s.description.clone(),
            created_at: s.created,
        }
    }
}

/// A stack to register.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackCreate {
    /// Its name (a DNS label).
    pub name: String,
    /// Its version.
    pub version: String,
    /// The image holding its root filesystem.
    pub image_id: i32,
    /// Free text.
    #[serde(default)]
    pub description: String,
}

/// A change of a stack.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackPatch {
    /// `ACTIVE`, `DEPRECATED` or `DISABLED`.
    pub state: String,
}
