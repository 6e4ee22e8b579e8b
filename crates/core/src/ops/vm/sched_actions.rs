//! Scheduled actions of a VM (`SCHED_ACTION` vectors of its template): `vm.schedadd`,
//! `vm.schedupdate`, `vm.scheddelete`, the ids given at allocate, and running the ones that
//! are due (the runtime's timer calls [`Core::run_due_sched_actions`]).
//!
//! `TIME` is an epoch or `+seconds` after the VM's start. `REPEAT` 0 weekly (`DAYS` 0–6,
//! Sunday 0), 1 monthly (`DAYS` 1–31), 2 yearly (`DAYS` 0–365), 3 every `DAYS` hours;
//! `END_TYPE` 0 never, 1 after `END_VALUE` times, 2 until the epoch `END_VALUE`. `DONE` is
//! the time it last ran (-1 never), `MESSAGE` says why it failed.

use nubo_template::{Attribute, Template, Value};
use nubo_types::states::VmState;
use nubo_types::{AuthOp, Error, Oid, Result};

use super::resources::{get, set};
use crate::Core;
use crate::auth::Caller;
use crate::calendar::{civil, days_from_civil};
use crate::model::Vm;
use crate::now;
use crate::ops::generic::{fetch_for, parse_template};
use crate::tx::Tx;

type Pairs = Vec<(String, String)>;

/// Actions a SCHED_ACTION may name.
const ACTIONS: [&str; 20] = [
    "terminate",
    "terminate-hard",
    "undeploy",
    "undeploy-hard",
    "hold",
    "release",
    "stop",
    "suspend",
    "resume",
    "reboot",
    "reboot-hard",
    "poweroff",
    "poweroff-hard",
    "resched",
    "unresched",
    "snapshot-create",
    "snapshot-revert",
    "snapshot-delete",
    "disk-snapshot-create",
    "disk-snapshot-delete",
];

fn int(p: &[(String, String)], key: &str) -> Option<i64> {
    get(p, key).and_then(|v| v.parse().ok())
}

/// Checks and completes a SCHED_ACTION vector (`id`, `vm` for the new ID and PARENT_ID).
fn normalize(p: &mut Pairs, id: i64, vm: Oid) -> Result<()> {
    let bad = |m: String| Error::action(m);
    let action = get(p, "ACTION")
        .ok_or_else(|| bad("SCHED_ACTION needs an ACTION".into()))?
        .to_ascii_lowercase();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(bad(format!("\"{action}\" is not a valid scheduled action")));
    }
    set(p, "ACTION", action);
    let time = get(p, "TIME").ok_or_else(|| bad("SCHED_ACTION needs a TIME".into()))?;
    if time
        .strip_prefix('+')
        .unwrap_or(time)
        .parse::<i64>()
        .is_err()
    {
        return Err(bad(format!(
            "Invalid TIME \"{time}\": an epoch or +seconds"
        )));
    }
    let repeat = int(p, "REPEAT").unwrap_or(-1);
    if !(-1..=3).contains(&repeat) {
        return Err(bad(format!(
            "Invalid REPEAT {repeat} (0 weekly, 1 monthly, 2 yearly, 3 hourly)"
        )));
    }
    if repeat >= 0 && next_run(p, 0, 0, repeat).is_none() {
        return Err(bad("A repeating SCHED_ACTION needs DAYS that come".into()));
    }
    let end_type = int(p, "END_TYPE").unwrap_or(-1);
    if !(-1..=2).contains(&end_type) {
        return Err(bad(format!("Invalid END_TYPE {end_type}")));
    }
    let field = |k: &str, default: &str| get(p, k).unwrap_or(default).to_string();
    // The fields in the order of shared.xsd's SCHED_ACTION.
    let ordered: Pairs = [
        ("ID", id.to_string()),
        ("PARENT_ID", vm.to_string()),
        ("TYPE", "VM".to_string()),
        ("ACTION", field("ACTION", "")),
        ("ARGS", field("ARGS", "")),
        ("TIME", field("TIME", "")),
        ("REPEAT", repeat.to_string()),
        ("DAYS", field("DAYS", "")),
        ("END_TYPE", end_type.to_string()),
        ("END_VALUE", int(p, "END_VALUE").unwrap_or(-1).to_string()),
        ("DONE", int(p, "DONE").unwrap_or(-1).to_string()),
        ("MESSAGE", field("MESSAGE", "")),
        ("WARNING", int(p, "WARNING").unwrap_or(0).to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    *p = ordered;
    Ok(())
}

/// Gives ids to the SCHED_ACTIONs of a new VM and checks them.
pub(crate) fn number(t: &mut Template, vm: Oid) -> Result<()> {
    let mut next = 0;
    for attr in t.attrs.iter_mut().filter(|a| a.name == "SCHED_ACTION") {
        if let Value::Vector(p) = &mut attr.value {
            normalize(p, next, vm)?;
            next += 1;
        }
    }
    Ok(())
}

/// When the action is due (epoch), given the VM's start time; `None` past the end of
/// `i64` (a relative TIME of `+9223372036854775807` on a started VM).
fn due_at(p: &[(String, String)], stime: i64) -> Option<i64> {
    let time = get(p, "TIME")?;
    match time.strip_prefix('+') {
        Some(rel) => rel.parse::<i64>().ok().and_then(|r| stime.checked_add(r)),
        None => time.parse().ok(),
    }
}

/// The first run of a repeating action after `ran_at`, on its schedule from `due` (None:
/// not repeating, or no day of DAYS ever comes).
fn next_run(p: &[(String, String)], due: i64, ran_at: i64, repeat: i64) -> Option<i64> {
    let days: Vec<i64> = get(p, "DAYS")?
        .split(',')
        .filter_map(|d| d.trim().parse().ok())
        .collect();
    // Checked: DAYS and TIME come from users, and a run past the end of `i64` never comes.
    let step = match repeat {
        3 => days.first().filter(|h| **h > 0)?.checked_mul(3600)?,
        0..=2 => 86_400,
        _ => return None,
    };
    (1..=10_000)
        .map_while(|n| step.checked_mul(n).and_then(|s| due.checked_add(s)))
        .find(|t| {
            *t > ran_at
                && match repeat {
                    0 => days.contains(&((t / 86_400) + 4).rem_euclid(7)), // 1970-01-01: Thursday
                    1 => days.contains(&civil_day_of_month(t / 86_400)),
                    2 => days.contains(&day_of_year(t / 86_400)),
                    _ => true,
                }
        })
}

/// Day of the month (1–31) of a day number since the epoch.
fn civil_day_of_month(days: i64) -> i64 {
    let (_, _, d) = civil(days);
    d
}

/// Day of the year (0–365) of a day number since the epoch.
fn day_of_year(days: i64) -> i64 {
    let (y, _, _) = civil(days);
    days - days_from_civil(y, 1, 1)
}

fn find(vm: &Vm, sa: i64) -> Option<usize> {
    vm.template.attrs.iter().position(|a| {
        a.name == "SCHED_ACTION"
            && a.value
                .as_vector()
                .is_some_and(|p| int(p, "ID") == Some(sa))
    })
}

fn parse_one(text: &str) -> Result<Pairs> {
    let t = parse_template(text)?;
    t.attrs
        .into_iter()
        .find_map(|a| match a {
            Attribute {
                name,
                value: Value::Vector(p),
            } if name == "SCHED_ACTION" => Some(p),
            _ => None,
        })
        .ok_or_else(|| Error::action("The template must hold a SCHED_ACTION vector"))
}

/// What a due action is: (VM, action id, action name, arguments).
type Due = (Oid, i64, String, String);

impl Core {
    /// A caller acting for user `uid` (in group `gid`) with that user's groups, for work
    /// the core does on a user's behalf (scheduled actions).
    pub(crate) fn internal_caller(&self, uid: Oid, gid: Oid) -> Result<Caller> {
        self.read(|s| {
            let user = s.get::<crate::model::User>(uid)?;
            let gname = s
                .groups
                .get(&gid)
                .map(|g| g.name.clone())
                .unwrap_or_default();
            Ok(Caller {
                uid,
                gid,
                uname: user.name.clone(),
                gname,
                groups: user.groups.clone(),
            })
        })
    }

    async fn edit_sched(
        &self,
        caller: &Caller,
        id: Oid,
        f: impl FnOnce(&mut Vm) -> Result<i64> + Send,
    ) -> Result<i64> {
        let out = self
            .write(|tx: &mut Tx| {
                let mut vm = (*fetch_for::<Vm>(tx.state, caller, id, AuthOp::Manage)?).clone();
                if vm.state == VmState::Done {
                    return Err(Error::action(format!("VM {id} is DONE")));
                }
                let out = f(&mut vm)?;
                tx.put(vm)?;
                Ok(out)
            })
            .await?;
        self.wake_timer();
        Ok(out)
    }

    /// `vm.schedadd`: adds a scheduled action; returns its id.
    pub async fn vm_sched_add(&self, caller: &Caller, id: Oid, text: &str) -> Result<i64> {
        let mut p = parse_one(text)?;
        self.edit_sched(caller, id, move |vm| {
            let next = vm
                .template
                .vectors("SCHED_ACTION")
                .filter_map(|p| int(p, "ID"))
                .max()
                .map_or(0, |m| m + 1);
            p.retain(|(k, _)| k != "DONE" && k != "ID");
            normalize(&mut p, next, vm.meta.id)?;
            super::changes::push_system(vm, Attribute::vector("SCHED_ACTION", p));
            Ok(next)
        })
        .await
    }

    /// `vm.schedupdate`: changes a scheduled action.
    pub async fn vm_sched_update(
        &self,
        caller: &Caller,
        id: Oid,
        sa: i64,
        text: &str,
    ) -> Result<i64> {
        let new = parse_one(text)?;
        self.edit_sched(caller, id, move |vm| {
            let at = find(vm, sa).ok_or_else(|| no_action(id, sa))?;
            let mut p = vm.template.attrs[at]
                .value
                .as_vector()
                .unwrap_or_default()
                .to_vec();
            for (k, v) in new {
                if k != "ID" && k != "PARENT_ID" {
                    set(&mut p, &k, v);
                }
            }
            if new_time_resets(&p) {
                set(&mut p, "DONE", "-1");
            }
            normalize(&mut p, sa, vm.meta.id)?;
            vm.template.attrs[at].value = Value::Vector(p);
            Ok(sa)
        })
        .await
    }

    /// `vm.scheddelete`.
    pub async fn vm_sched_delete(&self, caller: &Caller, id: Oid, sa: i64) -> Result<i64> {
        self.edit_sched(caller, id, move |vm| {
            let at = find(vm, sa).ok_or_else(|| no_action(id, sa))?;
            vm.template.attrs.remove(at);
            Ok(sa)
        })
        .await
    }

    /// Runs every scheduled action that is due, as the VM's owner; records DONE (and the
    /// next TIME of a repeating one) or the MESSAGE of a failure. Returns the time of the
    /// next action due, if any.
    pub(crate) async fn run_due_sched_actions(&self) -> Option<i64> {
        let t = now();
        let (due, next): (Vec<Due>, Option<i64>) = self
            .read(|s| {
                let mut due = Vec::new();
                let mut next: Option<i64> = None;
                for vm in s.vms.values().filter(|v| v.state != VmState::Done) {
                    for p in vm.template.vectors("SCHED_ACTION") {
                        if int(p, "DONE").unwrap_or(-1) >= 0 && int(p, "REPEAT").unwrap_or(-1) < 0 {
                            continue;
                        }
                        let Some(at) = due_at(p, vm.stime) else {
                            continue;
                        };
                        let last = int(p, "DONE").unwrap_or(-1);
                        if at <= t && last < at {
                            due.push((
                                vm.meta.id,
                                int(p, "ID").unwrap_or(-1),
                                get(p, "ACTION").unwrap_or_default().to_string(),
                                get(p, "ARGS").unwrap_or_default().to_string(),
                            ));
                        } else if last < at {
                            next = Some(next.map_or(at, |n: i64| n.min(at)));
                        }
                    }
                }
                Ok((due, next))
            })
            .unwrap_or_default();
        for (vm_id, sa, action, args) in due {
            let outcome = self.run_sched_action(vm_id, &action, &args).await;
            let _ = self.record_sched_outcome(vm_id, sa, t, outcome.err()).await;
        }
        next
    }

    async fn run_sched_action(&self, vm_id: Oid, action: &str, args: &str) -> Result<()> {
        let owner = self.read(|s| {
            let vm = s.get::<Vm>(vm_id)?;
            Ok((vm.meta.uid, vm.meta.gid))
        })?;
        let caller = self.internal_caller(owner.0, owner.1)?;
        let arg = |i: usize| args.split(',').nth(i).map(str::trim).unwrap_or_default();
        let num = |i: usize| {
            arg(i)
                .parse::<i32>()
                .map_err(|_| Error::action(format!("Invalid ARGS \"{args}\" for {action}")))
        };
        match action {
            "snapshot-create" => self
                .vm_snapshot_create(&caller, vm_id, arg(0))
                .await
                .map(drop),
            "snapshot-revert" => self
                .vm_snapshot_change(&caller, vm_id, num(0)?, false)
                .await
                .map(drop),
            "snapshot-delete" => self
                .vm_snapshot_change(&caller, vm_id, num(0)?, true)
                .await
                .map(drop),
            "disk-snapshot-create" => self
                .vm_disk_snapshot_create(&caller, vm_id, num(0)?, arg(1))
                .await
                .map(drop),
            "disk-snapshot-delete" => self
                .vm_disk_snapshot_change(&caller, vm_id, num(0)?, num(1)?, true)
                .await
                .map(drop),
            other => self.vm_action(&caller, other, vm_id).await.map(drop),
        }
    }

    async fn record_sched_outcome(
        &self,
        vm_id: Oid,
        sa: i64,
        ran_at: i64,
        error: Option<Error>,
    ) -> Result<()> {
        self.write(move |tx| {
            let Ok(vm) = tx.get::<Vm>(vm_id) else {
                return Ok(());
            };
            let mut vm = (*vm).clone();
            let Some(at) = find(&vm, sa) else {
                return Ok(());
            };
            let Some(Value::Vector(p)) = vm.template.attrs.get_mut(at).map(|a| &mut a.value) else {
                return Ok(());
            };
            set(p, "DONE", ran_at.to_string());
            set(
                p,
                "MESSAGE",
                error.map(|e| e.to_string()).unwrap_or_default(),
            );
            let repeat = int(p, "REPEAT").unwrap_or(-1);
            if repeat >= 0 {
                let runs = int(p, "END_VALUE").unwrap_or(0);
                let end_type = int(p, "END_TYPE").unwrap_or(-1);
                let due = due_at(p, vm.stime).unwrap_or(ran_at);
                let next = next_run(p, due, ran_at, repeat);
                let finished = match (end_type, next) {
                    (_, None) => true,
                    (1, _) => runs <= 1,
                    (2, Some(n)) => n > runs,
                    _ => false,
                };
                if end_type == 1 && runs > 0 {
                    set(p, "END_VALUE", (runs - 1).to_string());
                }
                if let (false, Some(n)) = (finished, next) {
                    set(p, "TIME", n.to_string());
                }
            }
            tx.put(vm)?;
            Ok(())
        })
        .await
    }
}

fn new_time_resets(p: &[(String, String)]) -> bool {
    due_at(p, 0).is_some_and(|t| int(p, "DONE").is_some_and(|d| d < t))
}

fn no_action(vm: Oid, sa: i64) -> Error {
    Error::action(format!("VM {vm} has no scheduled action {sa}"))
}

#[cfg(test)]
#[path = "sched_actions_fuzz.rs"]
mod fuzz;

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Pairs {
        parse_one(&format!("SCHED_ACTION=[{text}]")).expect("vector")
    }

    #[test]
    fn actions_are_checked_and_completed() {
        let mut p = pairs("ACTION=Poweroff, TIME=\"+60\"");
        normalize(&mut p, 3, 7).expect("valid");
        assert_eq!(get(&p, "ACTION"), Some("poweroff"));
        assert_eq!(int(&p, "ID"), Some(3));
        assert_eq!(int(&p, "PARENT_ID"), Some(7));
        assert_eq!(int(&p, "DONE"), Some(-1));
        assert_eq!(due_at(&p, 1000), Some(1060));
        for bad in [
            "ACTION=explode, TIME=1",
            "TIME=1",
            "ACTION=hold",
            "ACTION=hold, TIME=soon",
        ] {
            assert!(normalize(&mut pairs(bad), 0, 0).is_err(), "{bad}");
        }
    }

    #[test]
    fn repeats_find_the_next_day() {
        // 2026-12-01 (a Tuesday) 12:00 UTC.
        let t = 1_796_126_400;
        assert_eq!(civil(t / 86_400), (2026, 12, 1));
        let weekly = pairs("ACTION=hold, TIME=1, DAYS=\"4\"");
        assert_eq!(next_run(&weekly, t, t, 0), Some(t + 2 * 86_400)); // Thursday
        let monthly = pairs("ACTION=hold, TIME=1, DAYS=\"15\"");
        assert_eq!(next_run(&monthly, t, t + 5, 1), Some(t + 14 * 86_400));
        let hourly = pairs("ACTION=hold, TIME=1, DAYS=\"2\"");
        assert_eq!(next_run(&hourly, t, t + 3, 3), Some(t + 7200));
        // Runs missed while nubod was down are not all replayed: the next one is ahead.
        assert_eq!(next_run(&hourly, t, t + 5 * 3600, 3), Some(t + 6 * 3600));
    }
}
