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
    /// The host name the router serves it at, when the router is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Process types stopped (`processes/stop`), whose quantities are kept.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stopped: Vec<String>,
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
            hostname: None,
            stopped: app.stopped.iter().cloned().collect(),
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
    /// The stack image its instances run on (releases with a slug; absent in those made
    /// before stacks were versioned, which run on the stack's current image).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_image_id: Option<i32>,
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
            stack_image_id: release.stack_image,
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
    /// Its earlier versions, oldest first (the newest 20): their images stay for the
    /// releases made on them.
    pub previous_versions: Vec<StackVersionView>,
    /// The apps on it the caller may see, by name (`GET /stacks/{stack}` and its `PATCH`
    /// only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<StackAppView>>,
}

/// An earlier version of a stack.
#[derive(Debug, Serialize, ToSchema)]
pub struct StackVersionView {
    /// Its version.
    pub version: String,
    /// The image that held its root filesystem.
    pub image_id: i32,
    /// When a newer version replaced it (seconds since the epoch).
    pub replaced_at: i64,
}

/// An app on a stack.
#[derive(Debug, Serialize, ToSchema)]
pub struct StackAppView {
    /// Its name.
    pub name: String,
    /// Its current release.
    pub release: u32,
    /// The stack image the current release runs on (null: no slug yet).
    pub stack_image_id: Option<i32>,
    /// That image's version of the stack (null: no slug yet, or a version the stack no
    /// longer remembers).
    pub stack_version: Option<String>,
}

impl From<&nubo_paas::stack_patch::StackApp> for StackAppView {
    fn from(a: &nubo_paas::stack_patch::StackApp) -> Self {
        StackAppView {
            name: a.name.clone(),
            release: a.release,
            stack_image_id: a.stack_image,
            stack_version: a.stack_version.clone(),
        }
    }
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
            previous_versions: s
                .previous
                .iter()
                .map(|v| StackVersionView {
                    version: v.version.clone(),
                    image_id: v.image,
                    replaced_at: v.replaced,
                })
                .collect(),
            apps: None,
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

/// A change of a stack: its state, or a new version (an OS update) with its image — then
/// every app on it whose current release has a slug gets a release of that slug on the new
/// image and rolls out, without a build. Both may be given (the version changes first).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StackPatch {
    /// `ACTIVE`, `DEPRECATED` or `DISABLED`.
    #[serde(default)]
    pub state: Option<String>,
    /// A new version, e.g. `2026.12.2` (with `image_id`).
    #[serde(default)]
    pub version: Option<String>,
    /// The new version's image (with `version`): READY, and usable by the apps' owners.
    #[serde(default)]
    pub image_id: Option<i32>,
}

/// Where a build's source comes from.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum SourceSpec {
    /// A git repository at a branch, tag or commit.
    Git {
        /// `file://`, `http://`, `https://` or `git://` URL.
        url: String,
        /// Branch, tag or commit (default: the default branch).
        #[serde(default, rename = "ref")]
        reference: Option<String>,
    },
}

/// The schema of [`SourceSpec`], written out: the derived one leaves its variants open to
/// other members, which the body refuses (`deny_unknown_fields`).
impl utoipa::PartialSchema for SourceSpec {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let git = ObjectBuilder::new()
            .description(Some("A git repository at a branch, tag or commit."))
            .property(
                "ref",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some("Branch, tag or commit (default: the default branch).")),
            )
            .property(
                "type",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["git"])),
            )
            .property(
                "url",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("`file://`, `http://`, `https://` or `git://` URL.")),
            )
            .required("url")
            .required("type")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        OneOfBuilder::new()
            .item(git)
            .description(Some("Where a build's source comes from."))
            .into()
    }
}

impl ToSchema for SourceSpec {}

/// A build to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BuildCreate {
    /// Its source.
    pub source: SourceSpec,
}

/// A build.
#[derive(Debug, Serialize, ToSchema)]
pub struct BuildView {
    /// Its id.
    pub id: i64,
    /// `queued`, `building`, `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The repository (git builds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// The uploaded tarball (archive builds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_archive: Option<ArchiveView>,
    /// The branch, tag or commit asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<String>,
    /// The commit built, once fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The kind of app detected (`Python`, `Node.js`, `static`, `bin/build`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buildpack: Option<String>,
    /// The stack it builds on.
    pub stack: String,
    /// Who asked for it.
    pub user_id: i32,
    /// When it was asked for, started and ended (seconds since the epoch; 0: not yet).
    pub created_at: i64,
    /// When it started.
    pub started_at: i64,
    /// When it ended.
    pub finished_at: i64,
    /// Process types the slug declares.
    pub process_types: BTreeMap<String, String>,
    /// The slug: its image, size and SHA-256.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slug: Option<SlugView>,
    /// The release made from it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<u32>,
    /// Whether retention (`[paas] releases_kept`) deleted its slug: its releases can no
    /// longer be rolled back to.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub slug_pruned: bool,
    /// The stack image its container ran on, once started.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_image_id: Option<i32>,
}

/// An uploaded source tarball.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArchiveView {
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

/// A slug.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlugView {
    /// The image holding it.
    pub image_id: i32,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256 (hex).
    pub sha256: String,
}

impl From<&nubo_paas::model::Build> for BuildView {
    fn from(b: &nubo_paas::model::Build) -> Self {
        let (url, reference, archive) = match &b.source {
            nubo_paas::model::BuildSource::Git { url, reference } => {
                (Some(url.clone()), reference.clone(), None)
            }
            nubo_paas::model::BuildSource::Archive { size, sha256 } => (
                None,
                None,
                Some(ArchiveView {
                    size: *size,
                    sha256: sha256.clone(),
                }),
            ),
        };
        BuildView {
            id: b.id,
            status: b.status.as_str().to_owned(),
            reason: b.reason.clone(),
            source_url: url,
            source_ref: reference,
            source_archive: archive,
            commit: b.commit.clone(),
            buildpack: b.buildpack.clone(),
            stack: b.stack.clone(),
            user_id: b.uid,
            created_at: b.created,
            started_at: b.started,
            finished_at: b.finished,
            process_types: b.process_types.clone(),
            slug: b.slug.as_ref().map(|s| SlugView {
                image_id: s.image,
                size: s.size,
                sha256: s.sha256.clone(),
            }),
            release: b.release,
            slug_pruned: b.pruned,
            stack_image_id: b.stack_image,
        }
    }
}

/// An instance of an app: one process of one release, in a container.
#[derive(Debug, Serialize, ToSchema)]
pub struct InstanceView {
    /// Its name, e.g. `shop-web-1-v3`.
    pub name: String,
    /// The VM (container) that runs it.
    pub vm_id: i32,
    /// Its process type.
    #[serde(rename = "type")]
    pub process_type: String,
    /// Its index within the type.
    pub index: u32,
    /// The release it runs.
    pub release: u32,
    /// `starting`, `up`, `unhealthy` (up, but failing its health check: out of the routes),
    /// `crashed`, `stopping`, `failed` or `unknown` (its host does not answer).
    pub state: String,
    /// Its address on the apps' network.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<&nubo_paas::instances::Instance> for InstanceView {
    fn from(i: &nubo_paas::instances::Instance) -> Self {
        InstanceView {
            name: i.name.clone(),
            vm_id: i.vm,
            process_type: i.process_type.clone(),
            index: i.index,
            release: i.release,
            state: i.state.clone(),
            ip: i.ip.map(|ip| ip.to_string()),
            reason: i.reason.clone(),
        }
    }
}

/// A source tarball (`.tar` or `.tar.gz`), sent as the request body.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Tarball(pub Vec<u8>);
