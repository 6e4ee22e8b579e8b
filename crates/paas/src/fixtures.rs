//! Records made by hand for the unit tests that work on a [`crate::state::PaasState`].

use std::collections::BTreeMap;

use nubo_types::Oid;

use crate::model::{Build, BuildSource, BuildStatus, Release, Slug};

/// Build `id` of app `app` (owner 2, stack `s`) in `status`; with `slug`, its slug is
/// image `100 + id`.
pub(crate) fn build(id: i64, app: i64, status: BuildStatus, slug: bool) -> Build {
    let source = BuildSource::Archive {
        size: 1,
        sha256: String::new(),
    };
    Build {
        status,
        slug: slug.then(|| Slug {
            image: 100 + id as Oid,
            size: 1,
            sha256: String::new(),
        }),
        ..Build::queued(id, app, 2, source, "s".into(), 0)
    }
}

/// Release `version` of app 1 (owner 2) from `build`, with GREETING = `greeting` and a web
/// process type `run <version>`.
pub(crate) fn release(version: u32, build: Option<i64>, greeting: &str) -> Release {
    Release {
        id: version as i64,
        app: 1,
        version,
        description: format!("v{version}"),
        uid: 2,
        created: 0,
        config: BTreeMap::from([("GREETING".to_owned(), greeting.to_owned())]),
        build,
        process_types: BTreeMap::from([("web".to_owned(), format!("run {version}"))]),
        stack_image: None,
    }
}
