//! The golden table: every (phase, event) pair and its result, checked in at
//! `golden/transitions.txt`, so that any change of behaviour shows up as a diff.
//! `UPDATE_GOLDEN=1 cargo test -p nubo-lifecycle` rewrites it.

use nubo_lifecycle::{
    Event, MigrateKind, Origin, Phase, Reconfig, RecoverOp, UserAction, next, pending_op,
};
use nubo_types::states::{LcmState, VmState};

fn all_phases() -> Vec<Phase> {
    let mut phases: Vec<Phase> = (0..=11)
        .filter_map(VmState::from_code)
        .filter(|s| *s != VmState::Active)
        .map(|s| (s, LcmState::LcmInit))
        .collect();
    phases.extend(
        (0..=71)
            .filter_map(LcmState::from_code)
            .map(|l| (VmState::Active, l)),
    );
    phases
}

fn all_events() -> Vec<Event> {
    let mut events: Vec<Event> = UserAction::ALL.into_iter().map(Event::Action).collect();
    events.extend(
        [Origin::Fresh, Origin::Stopped, Origin::Undeployed]
            .into_iter()
            .map(Event::Deploy),
    );
    events.extend(
        [
            MigrateKind::Cold,
            MigrateKind::Live,
            MigrateKind::Poweroff,
            MigrateKind::PoweroffHard,
        ]
        .into_iter()
        .map(Event::Migrate),
    );
    events.extend([Event::DriverSuccess, Event::DriverFailure]);
    events.extend(RecoverOp::ALL.into_iter().map(Event::Recover));
    events.extend(Reconfig::ALL.into_iter().map(Event::Reconfig));
    events.extend([
        Event::MonitorMissing,
        Event::MonitorPoweroff,
        Event::MonitorRunning,
    ]);
    events
}

fn phase_name(p: Phase) -> String {
    if p.0 == VmState::Active {
        format!("ACTIVE/{}", p.1.name())
    } else {
        p.0.name().to_string()
    }
}

fn event_name(e: Event) -> String {
    match e {
        Event::Action(a) => format!("action {}", a.name()),
        Event::Recover(op) => format!("recover {}", op.name()),
        other => format!("{other:?}"),
    }
}

fn table() -> String {
    let mut out = String::from("# phase | event => new phase [history action] effects\n");
    for phase in all_phases() {
        for event in all_events() {
            let result = match next(phase, event) {
                Ok(t) => format!(
                    "{} [{}] {:?}",
                    phase_name(t.to),
                    t.action.map_or("-", |a| a.name()),
                    t.effects
                ),
                Err(_) => "wrong state".to_string(),
            };
            out.push_str(&format!(
                "{} | {} => {}\n",
                phase_name(phase),
                event_name(event),
                result
            ));
        }
    }
    out
}

#[test]
fn every_transition_matches_the_golden_table() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/transitions.txt");
    let now = table();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &now).expect("write golden");
    }
    let golden = std::fs::read_to_string(&path).expect("golden table (UPDATE_GOLDEN=1 makes it)");
    if golden != now {
        let first = golden
            .lines()
            .zip(now.lines())
            .find(|(a, b)| a != b)
            .map(|(a, b)| format!("golden: {a}\nnow:    {b}"))
            .unwrap_or_else(|| "lengths differ".into());
        panic!("the state machine changed; review and rerun with UPDATE_GOLDEN=1\n{first}");
    }
}

#[test]
fn every_waiting_phase_can_succeed_and_fail() {
    for phase in all_phases() {
        if phase.0 == VmState::Active && pending_op(phase.1).is_some() {
            assert!(
                next(phase, Event::DriverSuccess).is_ok(),
                "{phase:?} success"
            );
            assert!(
                next(phase, Event::DriverFailure).is_ok(),
                "{phase:?} failure"
            );
        }
    }
}

#[test]
fn every_failure_phase_can_be_retried_and_recovered() {
    for phase in all_phases() {
        if phase.0 == VmState::Active && phase.1.name().ends_with("_FAILURE") {
            let retry = next(phase, Event::Recover(RecoverOp::Retry)).expect("retry");
            assert!(
                pending_op(retry.to.1).is_some(),
                "{phase:?} retries an operation"
            );
            assert!(
                next(phase, Event::Recover(RecoverOp::Success)).is_ok(),
                "{phase:?}"
            );
            assert!(
                next(phase, Event::Recover(RecoverOp::Delete)).is_ok(),
                "{phase:?}"
            );
            let t = next(phase, Event::Action(UserAction::Terminate)).expect("terminate");
            assert_eq!(t.to.1, LcmState::CleanupDelete);
        }
    }
}

#[test]
fn the_spec_action_table_holds() {
    use LcmState as L;
    use VmState as S;
    let ok = |p: Phase, a: UserAction, to: Phase| {
        let t = next(p, Event::Action(a)).unwrap_or_else(|e| panic!("{p:?} {a:?}: {e}"));
        assert_eq!(t.to, to, "{p:?} {a:?}");
        assert_eq!(t.action.map(|h| h.name()), Some(a.name()), "history action");
    };
    let run = (S::Active, L::Running);
    let idle = |s: S| (s, L::LcmInit);
    ok(run, UserAction::Terminate, (S::Active, L::Shutdown));
    ok(idle(S::Pending), UserAction::Terminate, idle(S::Done));
    ok(
        idle(S::Poweroff),
        UserAction::Terminate,
        (S::Active, L::Epilog),
    );
    ok(
        (S::Active, L::Shutdown),
        UserAction::TerminateHard,
        (S::Active, L::Shutdown),
    );
    ok(run, UserAction::Undeploy, (S::Active, L::ShutdownUndeploy));
    ok(
        idle(S::Poweroff),
        UserAction::Undeploy,
        (S::Active, L::EpilogUndeploy),
    );
    ok(run, UserAction::Poweroff, (S::Active, L::ShutdownPoweroff));
    ok(run, UserAction::Reboot, run);
    ok(idle(S::Pending), UserAction::Hold, idle(S::Hold));
    ok(idle(S::Hold), UserAction::Release, idle(S::Pending));
    ok(run, UserAction::Stop, (S::Active, L::SaveStop));
    ok(
        idle(S::Suspended),
        UserAction::Stop,
        (S::Active, L::EpilogStop),
    );
    ok(run, UserAction::Suspend, (S::Active, L::SaveSuspend));
    ok(idle(S::Stopped), UserAction::Resume, idle(S::Pending));
    ok(idle(S::Undeployed), UserAction::Resume, idle(S::Pending));
    ok(
        idle(S::Suspended),
        UserAction::Resume,
        (S::Active, L::BootSuspended),
    );
    ok(
        idle(S::Poweroff),
        UserAction::Resume,
        (S::Active, L::BootPoweroff),
    );
    ok(
        (S::Active, L::Unknown),
        UserAction::Resume,
        (S::Active, L::BootUnknown),
    );
    ok(run, UserAction::Resched, run);
    assert!(next(idle(S::Pending), Event::Action(UserAction::Suspend)).is_err());
    assert!(next(idle(S::Done), Event::Action(UserAction::Resume)).is_err());
    // Deploy runs PROLOG → BOOT → RUNNING.
    let t = next(idle(S::Pending), Event::Deploy(Origin::Fresh)).expect("deploy");
    assert_eq!(t.to, (S::Active, L::Prolog));
    let t = next(t.to, Event::DriverSuccess).expect("prolog done");
    assert_eq!(t.to, (S::Active, L::Boot));
    let t = next(t.to, Event::DriverSuccess).expect("boot done");
    assert_eq!(t.to, run);
}
