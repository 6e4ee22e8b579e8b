//! Tests of [`super::stage_stack_patch`] on states made by hand.

use std::collections::BTreeMap;

use super::*;
use crate::deployments::DeploymentState;
use crate::model::{Build, BuildStatus, Release, StackState};

fn stack(image: Oid) -> Stack {
    Stack {
        id: 1,
        name: "debian-12".into(),
        version: "1".into(),
        image,
        state: StackState::Deprecated,
        description: String::new(),
        created: 0,
        previous: Vec::new(),
    }
}

fn app(id: i64, name: &str, release: u32, stack: &str) -> App {
    serde_json::from_value(serde_json::json!({
        "id": id, "name": name, "uid": 2, "gid": 1,
        "perms": nubo_types::Permissions::default(), "stack": stack,
        "created": 0, "updated": 0, "revision": 1,
        "config": {"GREETING": format!("hi {name}")}, "formation": {"web": 2},
        "release": release,
    }))
    .expect("an app")
}

fn release(app: i64, version: u32, build: Option<i64>, image: Option<Oid>) -> Release {
    Release {
        id: app * 100 + version as i64,
        app,
        version,
        description: format!("v{version}"),
        uid: 2,
        created: 0,
        config: BTreeMap::from([("GREETING".to_owned(), format!("v{version}"))]),
        build,
        process_types: BTreeMap::from([("web".to_owned(), format!("run {version}"))]),
        stack_image: image,
    }
}

fn build(id: i64, app: i64, slug: bool) -> Build {
    Build {
        stack: "debian-12".into(),
        stack_image: Some(10),
        ..crate::fixtures::build(id, app, BuildStatus::Succeeded, slug)
    }
}

/// Stack debian-12 on image 10 (and an other stack); apps:
/// - `built` (1): v1 initial, v2 build 1 (no image recorded: from before versions), v3
///   config; current v3;
/// - `bare` (2): v1 only;
/// - `pruned` (3): v2 of build 2 whose slug retention deleted;
/// - `elsewhere` (4): on stack `other`, built.
fn state() -> PaasState {
    let mut state = PaasState::default();
    let mut other = stack(20);
    other.id = 2;
    other.name = "other".into();
    for op in [
        Op::PutStack(stack(10)),
        Op::PutStack(other),
        Op::PutApp(app(1, "built", 3, "debian-12")),
        Op::PutRelease(release(1, 1, None, None)),
        Op::PutRelease(release(1, 2, Some(1), None)),
        Op::PutRelease(release(1, 3, Some(1), Some(10))),
        Op::PutBuild(build(1, 1, true)),
        Op::PutApp(app(2, "bare", 1, "debian-12")),
        Op::PutRelease(release(2, 1, None, None)),
        Op::PutApp(app(3, "pruned", 2, "debian-12")),
        Op::PutRelease(release(3, 2, Some(2), None)),
        Op::PutBuild(Build {
            pruned: true,
            ..build(2, 3, true)
        }),
        Op::PutApp(app(4, "elsewhere", 2, "other")),
        Op::PutRelease(release(4, 2, Some(3), Some(20))),
        Op::PutBuild(build(3, 4, true)),
    ] {
        state.apply(op);
    }
    state
}

fn patch(state: &mut PaasState, version: &str, image: Oid) -> Result<(Stack, Vec<Patched>)> {
    let mut staged = Staged::new(state);
    let new = NewStackVersion {
        version: version.into(),
        image,
    };
    let out = stage_stack_patch(&mut staged, "debian-12", &new, 0, 50)?;
    let ops = staged.finish();
    for op in ops {
        state.apply(op);
    }
    Ok(out)
}

#[test]
fn a_patch_releases_every_built_app_on_the_new_image() {
    let mut state = state();
    let (stack, patched) = patch(&mut state, "2", 11).expect("patched");
    assert_eq!((stack.version.as_str(), stack.image), ("2", 11));
    assert_eq!(
        stack.previous,
        vec![StackVersion {
            version: "1".into(),
            image: 10,
            replaced: 50
        }]
    );
    assert_eq!(state.stack_by_name("debian-12"), Some(&stack));
    // Only `built`: `bare` has no slug, `pruned` lost its slug, `elsewhere` is elsewhere.
    assert_eq!(
        patched,
        vec![Patched {
            app: 1,
            name: "built".into(),
            release: 4
        }]
    );
    let v4 = &state.releases[&(1, 4)];
    assert_eq!(v4.description, "Stack debian-12 patched to 2");
    assert_eq!((v4.build, v4.stack_image, v4.uid), (Some(1), Some(11), 0));
    assert_eq!(v4.process_types, state.releases[&(1, 3)].process_types);
    assert_eq!(v4.config["GREETING"], "hi built");
    let app = &state.apps[&1];
    assert_eq!(app.release, 4);
    // Its deployment, from v3, says why.
    let d = state.deployments_of(1).last().expect("a deployment");
    assert_eq!((d.from_release, d.release), (3, 4));
    assert_eq!(d.state, DeploymentState::Deploying);
    assert!(
        d.cause.contains("Stack debian-12 patched to 2"),
        "{}",
        d.cause
    );
    // The release from before versions keeps the image it ran on; the others are as they
    // were.
    assert_eq!(state.releases[&(1, 2)].stack_image, Some(10));
    assert_eq!(state.releases[&(1, 1)].stack_image, None);
    assert_eq!(state.releases[&(3, 2)].stack_image, Some(10));
    assert_eq!(state.apps[&2].release, 1);
    assert_eq!(state.apps[&3].release, 2);
    assert_eq!(state.apps[&4].release, 2);
    assert!(state.deployments_of(4).next().is_none());
}

#[test]
fn the_same_patch_again_changes_nothing_and_versions_are_not_reused() {
    let mut state = state();
    patch(&mut state, "2", 11).expect("patched");
    let (stack, patched) = patch(&mut state, "2", 11).expect("the same again");
    assert!(patched.is_empty());
    assert_eq!(stack.previous.len(), 1);
    assert_eq!(state.apps[&1].release, 4);
    for (version, image) in [("2", 12), ("1", 12)] {
        let e = patch(&mut state, version, image).expect_err("a version again");
        assert!(matches!(e, PaasError::Conflict(_)), "{e}");
        assert!(e.to_string().contains("already had version"), "{e}");
    }
    let e = patch(&mut state, "3", 11).expect_err("the same image");
    assert!(
        e.to_string().contains("is already stack debian-12's"),
        "{e}"
    );
    // A later patch goes on from v4; and back to image 10 under a new version is allowed.
    let (stack, patched) = patch(&mut state, "3", 10).expect("patched again");
    assert_eq!(patched[0].release, 5);
    assert_eq!(state.releases[&(1, 5)].stack_image, Some(10));
    assert_eq!(
        stack
            .previous
            .iter()
            .map(|v| v.version.as_str())
            .collect::<Vec<_>>(),
        ["1", "2"]
    );
    assert_eq!(version_of(&stack, 11).as_deref(), Some("2"));
    assert_eq!(version_of(&stack, 10).as_deref(), Some("3"));
}

#[test]
fn a_stack_remembers_its_newest_versions_only() {
    let mut state = state();
    for n in 0..(VERSIONS_KEPT as i64 + 5) {
        patch(&mut state, &format!("v{n}"), 1000 + n as Oid).expect("patched");
    }
    let stack = state.stack_by_name("debian-12").expect("the stack").clone();
    assert_eq!(stack.previous.len(), VERSIONS_KEPT);
    assert_eq!(stack.previous[VERSIONS_KEPT - 1].version, "v23");
    assert_eq!(stack.previous[0].version, "v4");
}

#[test]
fn an_unknown_stack_is_not_found() {
    let state = state();
    let mut staged = Staged::new(&state);
    let new = NewStackVersion {
        version: "2".into(),
        image: 11,
    };
    let e = stage_stack_patch(&mut staged, "nope", &new, 0, 1).expect_err("no stack");
    assert!(matches!(e, PaasError::NotFound { .. }), "{e}");
}

#[test]
fn releases_made_after_a_patch_run_on_the_new_image_and_rollbacks_too() {
    let mut state = state();
    patch(&mut state, "2", 11).expect("patched");
    // A config change (or a rollback: any new release) after the patch takes the stack's
    // image of the time.
    let mut staged = Staged::new(&state);
    let mut app = state.apps[&1].clone();
    let version = crate::apps::stage_release(
        &mut staged,
        &mut app,
        2,
        60,
        "Rollback to v2".into(),
        state.releases[&(1, 2)].config.clone(),
        Some((1, state.releases[&(1, 2)].process_types.clone())),
    )
    .expect("a release");
    let ops = staged.finish();
    for op in ops {
        state.apply(op);
    }
    assert_eq!(state.releases[&(1, version)].stack_image, Some(11));
    // The release it rolled back to keeps its own.
    assert_eq!(state.releases[&(1, 2)].stack_image, Some(10));
}
