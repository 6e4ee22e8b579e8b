//! Quota limits set from templates (`DATASTORE=[ID=1,IMAGES=5]`, `VM=[CPU=4]`, ...), and
//! charging usage against user, group and default limits. Limits and usage are exact
//! [`Amount`]s: a CPU quota of 0.3 takes exactly three VMs of 0.1, and a charge that would
//! overflow is refused, never wrapped.

use std::collections::BTreeMap;

use nubo_template::Template;
use nubo_types::states::{LcmState, VmState};
use nubo_types::{Error, Oid, Result};

use crate::model::{Amount, NotAnAmount, QuotaKind, Quotas, Vm};

/// Parses a quota template; syntax errors are ACTION errors, as oned reports them.
pub fn parse_quota_template(text: &str) -> Result<nubo_template::Template> {
    nubo_template::Template::parse(text).map_err(|e| Error::action(e.to_string()))
}

/// Applies the limits of a quota template onto `quotas` (`user.quota`, `group.quota`).
pub fn apply_quota_template(quotas: &mut Quotas, template: &Template) -> Result<()> {
    for kind in QuotaKind::ALL {
        for vector in template.vectors(kind.name()) {
            // As oned's Quota::set: every limit of the entry is set, a metric left out
            // is -1 (the default quota); an entry left with only defaults and no usage
            // is dropped.
            let (id, limits) = parse_quota_vector(kind, vector, QuotaSet::Account)?;
            let entry = quotas.entry_mut(kind, id);
            entry.limits = limits;
            let unused = entry.used.values().all(|v| *v == Amount::ZERO);
            if unused
                && entry.limits.values().all(|v| *v == Amount::DEFAULT_LIMIT)
                && let Some(entries) = quotas.entries.get_mut(&kind)
            {
                entries.remove(&id);
            }
        }
    }
    Ok(())
}

/// Applies a default quota template (`one.user.defaultquotaupdate`,
/// `one.group.defaultquotaupdate`) onto `defaults`, as OpenNebula 7.4 sets default quotas:
/// each vector replaces every limit of its entry, a metric left out is -2 (unlimited), -1
/// (the default of a default) is refused with OpenNebula's message, and an entry whose
/// limits are all unlimited is dropped.
pub fn apply_default_quota_template(defaults: &mut Quotas, template: &Template) -> Result<()> {
    let vm_vectors = template.vectors(QuotaKind::Vm.name()).count();
    if vm_vectors > 1 {
        return Err(Error::action("Only one default VM quota can be defined"));
    }
    if let Some(vector) = template.vectors(QuotaKind::Vm.name()).next()
        && vector
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("CLUSTER_IDS"))
    {
        return Err(Error::action(
            "CLUSTER_IDS attribute is not allowed for default VM quota",
        ));
    }
    for kind in QuotaKind::ALL {
        for vector in template.vectors(kind.name()) {
            let (id, limits) = parse_quota_vector(kind, vector, QuotaSet::Defaults)?;
            if limits.values().all(|v| *v == Amount::UNLIMITED) {
                if let Some(entries) = defaults.entries.get_mut(&kind) {
                    entries.remove(&id);
                }
            } else {
                defaults.entry_mut(kind, id).limits = limits;
            }
        }
    }
    Ok(())
}

/// Which limits a quota vector sets, as oned's `Quota::is_default` tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum QuotaSet {
    /// A user's or group's own limits: a metric left out is -1 (the default quota); -1
    /// and -2 (unlimited) are the only negatives allowed.
    Account,
    /// Default quotas: a metric left out is -2; -2 is the only negative allowed.
    Defaults,
}

/// The ID and every limit of one quota vector (`DATASTORE=[ID=1,SIZE=10]`). As oned's
/// `Quota::set`, a missing or malformed ID and a limit that is not a number or a negative
/// other than the allowed ones are all refused with the same ACTION error, `Negative
/// limits or bad format in quota DATASTORE = [ ID=1,SIZE=-5 ]`.
fn parse_quota_vector(
    kind: QuotaKind,
    vector: &[(String, String)],
    set: QuotaSet,
) -> Result<(Oid, BTreeMap<String, Amount>)> {
    let refused = || Error::action(negative_limits(kind, vector));
    let lookup = |key: &str| {
        vector
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
    };
    let id = if kind.has_id() {
        lookup("ID")
            .and_then(|text| text.parse::<Oid>().ok())
            .ok_or_else(refused)?
    } else {
        -1
    };
    let missing = match set {
        QuotaSet::Account => Amount::DEFAULT_LIMIT,
        QuotaSet::Defaults => Amount::UNLIMITED,
    };
    let mut limits = BTreeMap::new();
    for field in kind.limits() {
        // an empty value is a metric left out, as oned's vector_value_str reads it
        let value = match lookup(field).filter(|text| !text.is_empty()) {
            None => missing,
            Some(text) => Amount::parse_limit(field, text).map_err(|_| refused())?,
        };
        if set == QuotaSet::Defaults && value == Amount::DEFAULT_LIMIT {
            return Err(refused());
        }
        limits.insert((*field).to_string(), value);
    }
    Ok((id, limits))
}

/// OpenNebula's refusal of a quota vector: `Negative limits or bad format in quota VM =
/// [ CPU=-1,VMS=2 ]` (the vector's pairs by name, as oned writes a vector).
fn negative_limits(kind: QuotaKind, vector: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, &str)> = vector
        .iter()
        .map(|(k, v)| (k.to_ascii_uppercase(), v.trim()))
        .collect();
    pairs.sort();
    let text = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "Negative limits or bad format in quota {} = [ {text} ]",
        kind.name()
    )
}

/// A quota amount given as an [`Amount`] or as a whole count or size in a float (`1.0`,
/// `-1.0`, `2048.0`).
pub trait QuotaDelta: Copy {
    /// The exact amount, unless a float is not one.
    fn amount(self) -> std::result::Result<Amount, NotAnAmount>;
}

impl QuotaDelta for Amount {
    fn amount(self) -> std::result::Result<Amount, NotAnAmount> {
        Ok(self)
    }
}

impl QuotaDelta for f64 {
    fn amount(self) -> std::result::Result<Amount, NotAnAmount> {
        Amount::try_from(self)
    }
}

/// Whether a VM in this phase holds its running quota (RUNNING_VMS, RUNNING_CPU,
/// RUNNING_MEMORY), as OpenNebula 7.4 counts it (`VirtualMachine::is_running_quota`): from
/// allocation while PENDING, HOLD or CLONING, and while ACTIVE, except in the changes
/// made to a VM that is powered off, suspended, stopped or undeployed. A VM that is
/// STOPPED, SUSPENDED, POWEROFF, UNDEPLOYED or DONE does not hold it.
pub fn holds_running_quota(state: VmState, lcm: LcmState) -> bool {
    match state {
        VmState::Pending | VmState::Hold | VmState::Cloning | VmState::CloningFailure => true,
        VmState::Active => !matches!(
            lcm,
            LcmState::HotplugSaveasPoweroff
                | LcmState::HotplugSaveasSuspended
                | LcmState::DiskSnapshotPoweroff
                | LcmState::DiskSnapshotRevertPoweroff
                | LcmState::DiskSnapshotDeletePoweroff
                | LcmState::DiskSnapshotSuspended
                | LcmState::DiskSnapshotDeleteSuspended
                | LcmState::DiskResizePoweroff
                | LcmState::DiskResizeUndeployed
                | LcmState::HotplugNicPoweroff
                | LcmState::HotplugSaveasUndeployed
                | LcmState::HotplugSaveasStopped
                | LcmState::HotplugPrologPoweroff
                | LcmState::HotplugEpilogPoweroff
        ),
        _ => false,
    }
}

/// The running quota amounts of a VM: RUNNING_VMS, RUNNING_CPU, RUNNING_MEMORY.
pub(crate) fn running_amounts(vm: &Vm) -> [(&'static str, Amount); 3] {
    [
        ("RUNNING_VMS", Amount::ONE),
        ("RUNNING_CPU", vm.cpu.amount()),
        ("RUNNING_MEMORY", Amount::saturating_units(vm.memory_mb)),
    ]
}

impl crate::Core {
    /// Counts the running quota usage (RUNNING_VMS, RUNNING_CPU, RUNNING_MEMORY) of every
    /// user and group again from their VMs, as [`holds_running_quota`] counts it, and
    /// stores what differs. Run at start, so a database written by a version that
    /// counted running VMs only once placed (or any drift) is set right.
    pub(crate) async fn recount_running_quotas(&self) -> Result<()> {
        use nubo_types::{ONEADMIN_GID, ONEADMIN_UID};
        self.write(|tx| {
            let fields = ["RUNNING_VMS", "RUNNING_CPU", "RUNNING_MEMORY"];
            let mut users: BTreeMap<Oid, [Amount; 3]> = BTreeMap::new();
            let mut groups: BTreeMap<Oid, [Amount; 3]> = BTreeMap::new();
            for vm in tx.state.vms.values() {
                if !holds_running_quota(vm.state, vm.lcm_state) {
                    continue;
                }
                let amounts = running_amounts(vm);
                for (owner, into) in [(vm.meta.uid, &mut users), (vm.meta.gid, &mut groups)] {
                    let sum = into.entry(owner).or_insert([Amount::ZERO; 3]);
                    for (slot, (_, v)) in sum.iter_mut().zip(amounts) {
                        *slot = slot.checked_add(v).unwrap_or(*slot);
                    }
                }
            }
            let used = |q: &Quotas| {
                let e = q.entry(QuotaKind::Vm, -1);
                fields.map(|f| e.map_or(Amount::ZERO, |e| e.used_amount(f)))
            };
            let set = |q: &mut Quotas, want: [Amount; 3]| {
                let entry = q.entry_mut(QuotaKind::Vm, -1);
                for (f, v) in fields.iter().zip(want) {
                    entry.used.insert((*f).to_string(), v);
                }
            };
            let user_ids: Vec<Oid> = tx.state.users.keys().copied().collect();
            for uid in user_ids.into_iter().filter(|u| *u != ONEADMIN_UID) {
                let want = users.get(&uid).copied().unwrap_or([Amount::ZERO; 3]);
                let user = tx.get::<crate::model::User>(uid)?;
                if used(&user.quotas) != want {
                    let mut user = (*user).clone();
                    set(&mut user.quotas, want);
                    tx.put(user)?;
                }
            }
            let group_ids: Vec<Oid> = tx.state.groups.keys().copied().collect();
            for gid in group_ids.into_iter().filter(|g| *g != ONEADMIN_GID) {
                let want = groups.get(&gid).copied().unwrap_or([Amount::ZERO; 3]);
                let group = tx.get::<crate::model::Group>(gid)?;
                if used(&group.quotas) != want {
                    let mut group = (*group).clone();
                    set(&mut group.quotas, want);
                    tx.put(group)?;
                }
            }
            Ok(())
        })
        .await
    }
}

/// Charges `amounts` (field, delta) to `quotas`[`kind`][`id`], checking limits unless the
/// delta is a release. `defaults` supplies limits of -1. Fails with a message naming the
/// exceeded limit, or saying the usage would overflow; a release never takes usage below
/// zero.
pub fn charge<D: QuotaDelta>(
    quotas: &mut Quotas,
    defaults: &Quotas,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, D)],
    owner: &str,
) -> Result<()> {
    charge_as(quotas, defaults, kind, id, amounts, owner, true)
}

/// [`charge`], checking the limits only with `check` (OpenNebula adds usage unchecked
/// where the VM's life cycle takes it back, as in a terminate from POWEROFF).
fn charge_as<D: QuotaDelta>(
    quotas: &mut Quotas,
    defaults: &Quotas,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, D)],
    owner: &str,
    check: bool,
) -> Result<()> {
    let default_entry = defaults.entry(kind, id).cloned().unwrap_or_default();
    let entry = quotas.entry_mut(kind, id);
    for (field, delta) in amounts {
        let delta = delta
            .amount()
            .map_err(|e| Error::api(format!("Invalid {field} amount for the quota: {e}")))?;
        let used = entry.used_amount(field).checked_add(delta).ok_or_else(|| {
            // (no oned counterpart: named by the owner alone)
            let whose = owner.rsplit(" : ").next().unwrap_or(owner);
            Error::api(format!(
                "{whose} quota usage of {field} in {} [{id}] would overflow",
                kind.name()
            ))
        })?;
        let mut limit = entry.limit_amount(field);
        if limit == Amount::DEFAULT_LIMIT {
            limit = default_entry.limit_amount(field);
        }
        if check && delta > Amount::ZERO && limit.is_limit() && used > limit {
            // oned's words: Quota::check_quota, prefixed with the owner by
            // SharedAPI::user/group_quota_authorization and with the caller by
            // Request::failure_message (AUTHORIZATION: "User [N] : <reason>.").
            let with_id = if kind.has_id() {
                format!(" with ID: {id}")
            } else {
                String::new()
            };
            return Err(Error::Quota {
                message: format!(
                    "{owner} limit of {} reached for {field} quota in {}{with_id}.",
                    crate::model::format_quota_value(limit),
                    kind.name()
                ),
            });
        }
        entry
            .used
            .insert((*field).to_string(), used.max(Amount::ZERO));
    }
    Ok(())
}

/// Charges `amounts` to both owners of an object: user `uid` and group `gid`, reading
/// them as `tx` sees them. oneadmin and the oneadmin group are not accounted, as in
/// OpenNebula. Negative amounts release.
pub fn charge_owners<D: QuotaDelta>(
    tx: &mut crate::tx::Tx,
    uid: Oid,
    gid: Oid,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, D)],
) -> Result<()> {
    charge_owners_as(tx, (uid, gid), kind, id, amounts, true)
}

/// [`charge_owners`] without checking the limits: for usage the life cycle adds back on
/// its own (a VM found running again, a terminate from POWEROFF), which OpenNebula never
/// refuses. An overflow is still refused.
pub fn add_owners<D: QuotaDelta>(
    tx: &mut crate::tx::Tx,
    uid: Oid,
    gid: Oid,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, D)],
) -> Result<()> {
    charge_owners_as(tx, (uid, gid), kind, id, amounts, false)
}

fn charge_owners_as<D: QuotaDelta>(
    tx: &mut crate::tx::Tx,
    (uid, gid): (Oid, Oid),
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, D)],
    check: bool,
) -> Result<()> {
    use crate::model::{Group, User};
    use nubo_types::{ONEADMIN_GID, ONEADMIN_UID};
    if uid != ONEADMIN_UID
        && let Ok(user) = tx.get::<User>(uid)
    {
        let mut user = (*user).clone();
        let defaults = &tx.state.default_user_quotas;
        charge_as(
            &mut user.quotas,
            defaults,
            kind,
            id,
            amounts,
            &format!("User [{uid}] : user [{uid}]"),
            check,
        )?;
        tx.put(user)?;
    }
    if gid != ONEADMIN_GID
        && let Ok(group) = tx.get::<Group>(gid)
    {
        let mut group = (*group).clone();
        let defaults = &tx.state.default_group_quotas;
        charge_as(
            &mut group.quotas,
            defaults,
            kind,
            id,
            amounts,
            &format!("User [{uid}] : group [{gid}]"),
            check,
        )?;
        tx.put(group)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_set_and_enforced() {
        let mut q = Quotas::default();
        let t = Template::parse("DATASTORE=[ID=1, IMAGES=1, SIZE=100]").expect("template");
        apply_quota_template(&mut q, &t).expect("apply");
        let d = Quotas::default();
        charge(
            &mut q,
            &d,
            QuotaKind::Datastore,
            1,
            &[("IMAGES", 1.0), ("SIZE", 50.0)],
            "User",
        )
        .expect("first image fits");
        let err = charge(
            &mut q,
            &d,
            QuotaKind::Datastore,
            1,
            &[("IMAGES", 1.0)],
            "User",
        );
        assert!(err.is_err());
        charge(
            &mut q,
            &d,
            QuotaKind::Datastore,
            1,
            &[("IMAGES", -1.0), ("SIZE", -50.0)],
            "User",
        )
        .expect("release");
        assert_eq!(
            q.entry(QuotaKind::Datastore, 1).map(|e| e.used("IMAGES")),
            Some(0.0)
        );
        assert!(
            apply_quota_template(&mut q, &Template::parse("VM=[CPU=abc]").expect("t")).is_err()
        );
        assert!(
            apply_quota_template(&mut q, &Template::parse("NETWORK=[LEASES=3]").expect("t"))
                .is_err()
        );
    }

    #[test]
    fn bad_limits_are_oneds_action_error() {
        let refused = |apply: fn(&mut Quotas, &Template) -> Result<()>, text: &str| {
            let mut q = Quotas::default();
            let err =
                apply(&mut q, &Template::parse(text).expect("template")).expect_err("refused");
            assert_eq!(err.code(), nubo_types::ErrorCode::Action, "{text}: {err}");
            assert!(
                q.entries.values().all(|e| e.is_empty()),
                "{text}: nothing set"
            );
            err.to_string()
        };
        for apply in [apply_quota_template, apply_default_quota_template] {
            assert!(
                refused(apply, "VM=[VMS=-5, CPU=2]")
                    .contains("Negative limits or bad format in quota VM = [ CPU=2,VMS=-5 ]")
            );
            assert!(refused(apply, "VM=[CPU=abc]").contains("quota VM = [ CPU=abc ]"));
            assert!(refused(apply, "DATASTORE=[SIZE=3]").contains("quota DATASTORE = [ SIZE=3 ]"));
            assert!(
                refused(apply, "IMAGE=[ID=x, RVMS=1]").contains("quota IMAGE = [ ID=x,RVMS=1 ]")
            );
        }
        // -1 and -2 are valid for an account's own quotas, -1 is not for default quotas
        let mut q = Quotas::default();
        apply_quota_template(&mut q, &Template::parse("VM=[VMS=-1, CPU=-2]").expect("t"))
            .expect("-1 and -2 are allowed");
        assert!(refused(apply_default_quota_template, "VM=[VMS=-1]").contains("VMS=-1"));
    }
}
