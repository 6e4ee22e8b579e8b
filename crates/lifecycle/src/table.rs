//! The transition table: OpenNebula's LCM rules, one function per kind of event.

use nubo_types::states::{HistoryAction, LcmState as L, VmState as S};

use crate::events::{
    DriverOp, Effect, Event, MigrateKind, Origin, Reconfig, RecoverOp, Transition, UserAction,
};
use crate::{Phase, Refusal, active, plain};

type Outcome = Result<Transition, Refusal>;

/// The transition `event` causes in `phase`, or why it is refused.
pub fn next(phase: Phase, event: Event) -> Outcome {
    let found = match event {
        Event::Action(a) => action(phase, a),
        Event::Deploy(origin) => deploy(phase, origin),
        Event::Migrate(kind) => migrate(phase, kind),
        Event::DriverSuccess => driver_success(phase),
        Event::DriverFailure => driver_failure(phase),
        Event::Recover(op) => recover(phase, op),
        Event::Reconfig(r) => reconfig(phase, r),
        Event::MonitorMissing => monitor_missing(phase),
        Event::MonitorPoweroff => monitor_poweroff(phase),
        Event::MonitorRunning => monitor_running(phase),
    };
    found.ok_or(Refusal::WrongState {
        state: phase.0.name(),
        lcm: phase.1.name(),
    })
}

fn go(to: Phase, action: Option<HistoryAction>, effects: &[Effect]) -> Option<Transition> {
    Some(Transition {
        to,
        action,
        effects: effects.to_vec(),
    })
}

fn is_active(phase: Phase, lcm: &[L]) -> bool {
    phase.0 == S::Active && lcm.contains(&phase.1)
}

fn is_running_or_unknown(phase: Phase) -> bool {
    is_active(phase, &[L::Running, L::Unknown])
}

/// Phases with nothing on a host: they end at once.
fn is_unplaced(phase: Phase) -> bool {
    matches!(
        phase.0,
        S::Init | S::Pending | S::Hold | S::Cloning | S::CloningFailure
    )
}

fn action(phase: Phase, a: UserAction) -> Option<Transition> {
    use UserAction as A;
    let h = Some(a.history());
    let run = |lcm: L, op: DriverOp| go(active(lcm), h, &[Effect::Run(op)]);
    match a {
        A::Terminate | A::TerminateHard => {
            let op = if a == A::Terminate {
                DriverOp::Shutdown
            } else {
                DriverOp::Cancel
            };
            if is_running_or_unknown(phase)
                || (a == A::TerminateHard && is_active(phase, &[L::Shutdown]))
            {
                run(L::Shutdown, op)
            } else if matches!(
                phase.0,
                S::Poweroff | S::Suspended | S::Stopped | S::Undeployed
            ) {
                run(L::Epilog, DriverOp::Epilog)
            } else if is_unplaced(phase) {
                go(plain(S::Done), h, &[Effect::Release])
            } else if failure_origin(phase.1).is_some() && phase.0 == S::Active {
                run(L::CleanupDelete, DriverOp::Cleanup)
            } else if phase.0 == S::Done {
                go(phase, None, &[])
            } else {
                None
            }
        }
        A::Undeploy | A::UndeployHard => {
            let op = if a == A::Undeploy {
                DriverOp::Shutdown
            } else {
                DriverOp::Cancel
            };
            if is_running_or_unknown(phase)
                || (a == A::UndeployHard && is_active(phase, &[L::ShutdownUndeploy]))
            {
                run(L::ShutdownUndeploy, op)
            } else if phase.0 == S::Poweroff {
                run(L::EpilogUndeploy, DriverOp::Epilog)
            } else {
                None
            }
        }
        A::Poweroff | A::PoweroffHard => {
            let op = if a == A::Poweroff {
                DriverOp::Shutdown
            } else {
                DriverOp::Cancel
            };
            (is_running_or_unknown(phase)
                || (a == A::PoweroffHard && is_active(phase, &[L::ShutdownPoweroff])))
            .then(|| run(L::ShutdownPoweroff, op))
            .flatten()
        }
        A::Reboot | A::RebootHard => {
            let op = if a == A::Reboot {
                DriverOp::Reboot
            } else {
                DriverOp::Reset
            };
            is_active(phase, &[L::Running])
                .then(|| go(phase, h, &[Effect::Run(op)]))
                .flatten()
        }
        A::Hold => (phase.0 == S::Pending)
            .then(|| go(plain(S::Hold), h, &[]))
            .flatten(),
        A::Release => (phase.0 == S::Hold)
            .then(|| go(plain(S::Pending), h, &[Effect::Schedule]))
            .flatten(),
        A::Stop => {
            if is_active(phase, &[L::Running]) {
                run(L::SaveStop, DriverOp::Save)
            } else if phase.0 == S::Suspended {
                run(L::EpilogStop, DriverOp::Epilog)
            } else {
                None
            }
        }
        A::Suspend => is_active(phase, &[L::Running])
            .then(|| run(L::SaveSuspend, DriverOp::Save))
            .flatten(),
        A::Resume => match phase {
            (S::Stopped, _) => go(
                plain(S::Pending),
                h,
                &[Effect::SetOrigin(Origin::Stopped), Effect::Schedule],
            ),
            (S::Undeployed, _) => go(
                plain(S::Pending),
                h,
                &[Effect::SetOrigin(Origin::Undeployed), Effect::Schedule],
            ),
            (S::Suspended, _) => run(L::BootSuspended, DriverOp::Restore),
            (S::Poweroff, _) => run(L::BootPoweroff, DriverOp::Deploy),
            (S::Active, L::Unknown) => run(L::BootUnknown, DriverOp::Deploy),
            _ => None,
        },
        A::Resched | A::Unresched => {
            let flag = if a == A::Resched {
                Effect::SetResched
            } else {
                Effect::ClearResched
            };
            (is_running_or_unknown(phase) || phase.0 == S::Poweroff)
                .then(|| go(phase, h, &[flag]))
                .flatten()
        }
    }
}

fn deploy(phase: Phase, origin: Origin) -> Option<Transition> {
    let origin = match phase.0 {
        S::Pending | S::Hold => origin,
        S::Stopped => Origin::Stopped,
        S::Undeployed => Origin::Undeployed,
        _ => return None,
    };
    let lcm = match origin {
        Origin::Fresh => L::Prolog,
        Origin::Stopped => L::PrologResume,
        Origin::Undeployed => L::PrologUndeploy,
    };
    go(
        active(lcm),
        Some(HistoryAction::Deploy),
        &[
            Effect::OpenHistory,
            Effect::SetOrigin(Origin::Fresh),
            Effect::Run(DriverOp::Prolog),
        ],
    )
}

fn migrate(phase: Phase, kind: MigrateKind) -> Option<Transition> {
    let history = Some(match kind {
        MigrateKind::Live => HistoryAction::LiveMigrate,
        MigrateKind::Cold => HistoryAction::Migrate,
        MigrateKind::Poweroff => HistoryAction::PoweroffMigrate,
        MigrateKind::PoweroffHard => HistoryAction::PoweroffHardMigrate,
    });
    let to = |lcm: L, op: DriverOp| {
        go(
            active(lcm),
            history,
            &[Effect::OpenHistory, Effect::Run(op)],
        )
    };
    match (phase, kind) {
        ((S::Active, L::Running), MigrateKind::Live) => to(L::Migrate, DriverOp::Migrate),
        ((S::Active, L::Running), _) => to(L::SaveMigrate, DriverOp::Save),
        ((S::Poweroff, _), k) if k != MigrateKind::Live => {
            to(L::PrologMigratePoweroff, DriverOp::PrologMigrate)
        }
        ((S::Suspended, _), k) if k != MigrateKind::Live => {
            to(L::PrologMigrateSuspend, DriverOp::PrologMigrate)
        }
        ((S::Active, L::Unknown), k) if k != MigrateKind::Live => {
            to(L::PrologMigrateUnknown, DriverOp::PrologMigrate)
        }
        _ => None,
    }
}

/// Transient phases of in-place changes, and the phase each returns to.
fn reconfig_base(lcm: L) -> Option<Phase> {
    Some(match lcm {
        L::Hotplug
        | L::HotplugNic
        | L::HotplugSnapshot
        | L::HotplugSaveas
        | L::HotplugResize
        | L::DiskSnapshot
        | L::DiskSnapshotDelete
        | L::DiskResize => active(L::Running),
        L::HotplugPrologPoweroff
        | L::HotplugEpilogPoweroff
        | L::HotplugNicPoweroff
        | L::HotplugSaveasPoweroff
        | L::DiskSnapshotPoweroff
        | L::DiskSnapshotRevertPoweroff
        | L::DiskSnapshotDeletePoweroff
        | L::DiskResizePoweroff => plain(S::Poweroff),
        L::HotplugSaveasSuspended | L::DiskSnapshotSuspended | L::DiskSnapshotDeleteSuspended => {
            plain(S::Suspended)
        }
        L::HotplugSaveasUndeployed | L::DiskResizeUndeployed => plain(S::Undeployed),
        L::HotplugSaveasStopped => plain(S::Stopped),
        _ => return None,
    })
}

/// The `*_FAILURE` LCM state a transient one falls into when its operation fails, and back.
const FAILURES: [(L, L); 14] = [
    (L::Prolog, L::PrologFailure),
    (L::Boot, L::BootFailure),
    (L::BootMigrate, L::BootMigrateFailure),
    (L::PrologMigrate, L::PrologMigrateFailure),
    (L::Epilog, L::EpilogFailure),
    (L::EpilogStop, L::EpilogStopFailure),
    (L::EpilogUndeploy, L::EpilogUndeployFailure),
    (L::PrologMigratePoweroff, L::PrologMigratePoweroffFailure),
    (L::PrologMigrateSuspend, L::PrologMigrateSuspendFailure),
    (L::BootUndeploy, L::BootUndeployFailure),
    (L::BootStopped, L::BootStoppedFailure),
    (L::PrologResume, L::PrologResumeFailure),
    (L::PrologUndeploy, L::PrologUndeployFailure),
    (L::PrologMigrateUnknown, L::PrologMigrateUnknownFailure),
];

/// The transient LCM state a `*_FAILURE` state failed in.
fn failure_origin(lcm: L) -> Option<L> {
    FAILURES.iter().find(|(_, f)| *f == lcm).map(|(t, _)| *t)
}

fn failure_of(lcm: L) -> Option<L> {
    FAILURES.iter().find(|(t, _)| *t == lcm).map(|(_, f)| *f)
}

/// The driver operation a transient LCM state waits for (None for phases that wait for
/// nothing, and for in-place changes, whose operation the core records itself).
pub fn pending_op(lcm: L) -> Option<DriverOp> {
    Some(match lcm {
        L::Prolog | L::PrologResume | L::PrologUndeploy => DriverOp::Prolog,
        L::Boot | L::BootUndeploy | L::BootPoweroff | L::BootUnknown => DriverOp::Deploy,
        L::BootMigrate | L::BootStopped | L::BootSuspended => DriverOp::Restore,
        L::Migrate => DriverOp::Migrate,
        L::SaveStop | L::SaveSuspend | L::SaveMigrate => DriverOp::Save,
        L::PrologMigrate
        | L::PrologMigratePoweroff
        | L::PrologMigrateSuspend
        | L::PrologMigrateUnknown => DriverOp::PrologMigrate,
        L::Epilog | L::EpilogStop | L::EpilogUndeploy => DriverOp::Epilog,
        L::Shutdown | L::ShutdownPoweroff | L::ShutdownUndeploy => DriverOp::Shutdown,
        L::CleanupResubmit | L::CleanupDelete => DriverOp::Cleanup,
        _ => return None,
    })
}

fn driver_success(phase: Phase) -> Option<Transition> {
    if phase.0 != S::Active {
        return None;
    }
    let run = |lcm: L, op: DriverOp| go(active(lcm), None, &[Effect::Run(op)]);
    let running = || go(active(L::Running), None, &[]);
    match phase.1 {
        L::Prolog => run(L::Boot, DriverOp::Deploy),
        L::Boot | L::BootUndeploy | L::BootPoweroff | L::BootSuspended | L::BootUnknown => {
            running()
        }
        L::BootStopped => running(),
        L::Migrate | L::BootMigrate => go(active(L::Running), None, &[Effect::CommitMigration]),
        L::SaveStop => run(L::EpilogStop, DriverOp::Epilog),
        L::SaveSuspend => go(plain(S::Suspended), None, &[]),
        L::SaveMigrate => run(L::PrologMigrate, DriverOp::PrologMigrate),
        L::PrologMigrate => run(L::BootMigrate, DriverOp::Restore),
        L::PrologMigrateUnknown => run(L::BootMigrate, DriverOp::Deploy),
        L::PrologMigratePoweroff => go(plain(S::Poweroff), None, &[Effect::CommitMigration]),
        L::PrologMigrateSuspend => go(plain(S::Suspended), None, &[Effect::CommitMigration]),
        L::PrologResume => run(L::BootStopped, DriverOp::Restore),
        L::PrologUndeploy => run(L::BootUndeploy, DriverOp::Deploy),
        L::EpilogStop => go(plain(S::Stopped), None, &[Effect::LeaveHost]),
        L::Epilog | L::CleanupDelete => {
            go(plain(S::Done), None, &[Effect::LeaveHost, Effect::Release])
        }
        L::Shutdown => run(L::Epilog, DriverOp::Epilog),
        L::ShutdownPoweroff => go(plain(S::Poweroff), None, &[]),
        L::ShutdownUndeploy => run(L::EpilogUndeploy, DriverOp::Epilog),
        L::EpilogUndeploy => go(plain(S::Undeployed), None, &[Effect::LeaveHost]),
        L::CleanupResubmit => go(
            plain(S::Pending),
            None,
            &[
                Effect::LeaveHost,
                Effect::SetOrigin(Origin::Fresh),
                Effect::Schedule,
            ],
        ),
        lcm => reconfig_base(lcm).and_then(|base| go(base, None, &[Effect::CommitReconfig])),
    }
}

fn driver_failure(phase: Phase) -> Option<Transition> {
    if phase.0 != S::Active {
        return None;
    }
    if let Some(failed) = failure_of(phase.1) {
        return go(active(failed), None, &[]);
    }
    match phase.1 {
        L::Migrate | L::SaveMigrate => go(active(L::Running), None, &[Effect::RollbackMigration]),
        L::SaveStop | L::SaveSuspend | L::Shutdown | L::ShutdownPoweroff | L::ShutdownUndeploy => {
            go(active(L::Running), None, &[])
        }
        L::BootPoweroff => go(plain(S::Poweroff), None, &[]),
        L::BootSuspended => go(plain(S::Suspended), None, &[]),
        L::BootUnknown => go(active(L::Unknown), None, &[]),
        // A failed cleanup leaves nothing worth keeping the VM for.
        L::CleanupDelete | L::CleanupResubmit => driver_success(phase),
        lcm => reconfig_base(lcm).and_then(|base| go(base, None, &[Effect::RollbackReconfig])),
    }
}

fn recover(phase: Phase, op: RecoverOp) -> Option<Transition> {
    let h = Some(HistoryAction::Recover);
    let with_action = |t: Option<Transition>, action: HistoryAction| {
        t.map(|t| Transition {
            action: Some(action),
            ..t
        })
    };
    let on_host = phase.0 == S::Active
        || matches!(
            phase.0,
            S::Poweroff | S::Suspended | S::Stopped | S::Undeployed
        );
    match op {
        // oned's LifeCycleManager::recover takes an UNKNOWN VM back to RUNNING at once,
        // whichever the operation (the next monitoring round says what it finds).
        RecoverOp::Success | RecoverOp::Failure if is_active(phase, &[L::Unknown]) => {
            go(active(L::Running), h, &[])
        }
        RecoverOp::Success | RecoverOp::Failure => {
            let success = op == RecoverOp::Success;
            let transient = failure_origin(phase.1)
                .filter(|_| phase.0 == S::Active && success)
                .map(active)
                .unwrap_or(phase);
            let t = if success {
                driver_success(transient)
            } else {
                driver_failure(transient)
            };
            with_action(t, HistoryAction::Recover)
        }
        RecoverOp::Retry => {
            let origin = failure_origin(phase.1).filter(|_| phase.0 == S::Active)?;
            let op = pending_op(origin)?;
            go(active(origin), h, &[Effect::Run(op)])
        }
        RecoverOp::Delete => {
            if is_unplaced(phase) {
                go(
                    plain(S::Done),
                    Some(HistoryAction::Delete),
                    &[Effect::Release],
                )
            } else if on_host {
                go(
                    active(L::CleanupDelete),
                    Some(HistoryAction::Delete),
                    &[Effect::Run(DriverOp::Cleanup)],
                )
            } else {
                None
            }
        }
        RecoverOp::DeleteRecreate => {
            if matches!(phase.0, S::Pending | S::Hold) {
                go(
                    plain(S::Pending),
                    Some(HistoryAction::DeleteRecreate),
                    &[Effect::SetOrigin(Origin::Fresh), Effect::Schedule],
                )
            } else if on_host {
                go(
                    active(L::CleanupResubmit),
                    Some(HistoryAction::DeleteRecreate),
                    &[Effect::Run(DriverOp::Cleanup)],
                )
            } else {
                None
            }
        }
        RecoverOp::DeleteDb => (phase.0 != S::Done).then(|| {
            let mut effects = Vec::new();
            if on_host {
                effects.push(Effect::LeaveHost);
            }
            effects.push(Effect::Release);
            Transition {
                to: plain(S::Done),
                action: Some(HistoryAction::Delete),
                effects,
            }
        }),
    }
}

fn reconfig(phase: Phase, r: Reconfig) -> Option<Transition> {
    use Reconfig as R;
    let running = is_active(phase, &[L::Running]);
    let lcm = match (r, phase.0) {
        (R::AttachDisk | R::DetachDisk, S::Active) if running => L::Hotplug,
        (R::AttachDisk, S::Poweroff) => L::HotplugPrologPoweroff,
        (R::DetachDisk, S::Poweroff) => L::HotplugEpilogPoweroff,
        (R::AttachNic | R::DetachNic | R::UpdateNic | R::SecurityGroup, S::Active) if running => {
            L::HotplugNic
        }
        (R::AttachNic | R::DetachNic | R::UpdateNic | R::SecurityGroup, S::Poweroff) => {
            L::HotplugNicPoweroff
        }
        (R::SnapshotCreate | R::SnapshotRevert | R::SnapshotDelete, S::Active) if running => {
            L::HotplugSnapshot
        }
        (R::DiskSnapshotCreate, S::Active) if running => L::DiskSnapshot,
        (R::DiskSnapshotCreate, S::Poweroff) => L::DiskSnapshotPoweroff,
        (R::DiskSnapshotCreate, S::Suspended) => L::DiskSnapshotSuspended,
        (R::DiskSnapshotRevert, S::Poweroff) => L::DiskSnapshotRevertPoweroff,
        (R::DiskSnapshotDelete, S::Active) if running => L::DiskSnapshotDelete,
        (R::DiskSnapshotDelete, S::Poweroff) => L::DiskSnapshotDeletePoweroff,
        (R::DiskSnapshotDelete, S::Suspended) => L::DiskSnapshotDeleteSuspended,
        (R::DiskResize, S::Active) if running => L::DiskResize,
        (R::DiskResize, S::Poweroff) => L::DiskResizePoweroff,
        (R::DiskResize, S::Undeployed) => L::DiskResizeUndeployed,
        (R::DiskSaveas, S::Active) if running => L::HotplugSaveas,
        (R::DiskSaveas, S::Poweroff) => L::HotplugSaveasPoweroff,
        (R::DiskSaveas, S::Suspended) => L::HotplugSaveasSuspended,
        (R::DiskSaveas, S::Undeployed) => L::HotplugSaveasUndeployed,
        (R::DiskSaveas, S::Stopped) => L::HotplugSaveasStopped,
        (R::Resize, S::Active) if running => L::HotplugResize,
        // DispatchManager::exec / exec_cancel: a RUNNING VM, in HOTPLUG meanwhile.
        (R::Exec | R::ExecCancel, S::Active) if running => L::Hotplug,
        _ => return None,
    };
    go(
        active(lcm),
        Some(r.history()),
        &[Effect::Run(DriverOp::Reconfig(r))],
    )
}

fn monitor_missing(phase: Phase) -> Option<Transition> {
    is_active(phase, &[L::Running])
        .then(|| go(active(L::Unknown), Some(HistoryAction::Monitor), &[]))
        .flatten()
}

fn monitor_poweroff(phase: Phase) -> Option<Transition> {
    is_running_or_unknown(phase)
        .then(|| go(plain(S::Poweroff), Some(HistoryAction::Monitor), &[]))
        .flatten()
}

fn monitor_running(phase: Phase) -> Option<Transition> {
    (is_active(phase, &[L::Unknown]) || phase.0 == S::Poweroff)
        .then(|| go(active(L::Running), Some(HistoryAction::Monitor), &[]))
        .flatten()
}
