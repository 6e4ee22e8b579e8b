//! Records made by hand for the unit tests that work on a [`crate::state::PaasState`].

use std::collections::BTreeMap;

use nubo_types::Oid;

use crate::model::{Build, BuildSource, BuildStatus, Release, Slug};

/// Build `id` of app `app` (owner 2, stack `s`) in `status`; with `slug`, its slug is
/// image `100 + id`.
pub(crate) fn build(id: i64, app: i64, status: BuildStatus, slug: bool) -> Build {
    Build {
        id,
        app,
        uid: 2,
        source: BuildSource::Archive {
            size: 1,
            sha256: String::new(),
        },
        stack: "s".into(),
        status,
        reason: None,
        created: 0,
        started: 0,
        finished: 0,
        commit: None,
        buildpack: None,
        source_image: None,
        vm: None,
        slug: slug.then(|| Slug {
            image: 100 + id as Oid,
            size: 1,
            sha256: String::new(),
        }),
        process_types: BTreeMap::new(),
        release: None,
        console_offset: 0,
        pruned: false,
        stack_image: None,
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
