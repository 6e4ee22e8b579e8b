//! Quota limits set from templates (`DATASTORE=[ID=1,IMAGES=5]`, `VM=[CPU=4]`, ...), and
//! charging usage against user, group and default limits. Limits and usage are exact
//! [`Amount`]s: a CPU quota of 0.3 takes exactly three VMs of 0.1, and a charge that would
//! overflow is refused, never wrapped.

use nubo_template::Template;
use nubo_types::{Error, Oid, Result};

use crate::model::{Amount, NotAnAmount, QuotaKind, Quotas};

/// Parses a quota template; syntax errors are ACTION errors, as oned reports them.
pub fn parse_quota_template(text: &str) -> Result<nubo_template::Template> {
    nubo_template::Template::parse(text).map_err(|e| Error::action(e.to_string()))
}

/// Applies the limits of a quota template onto `quotas`.
pub fn apply_quota_template(quotas: &mut Quotas, template: &Template) -> Result<()> {
    for kind in QuotaKind::ALL {
        for vector in template.vectors(kind.name()) {
            let lookup = |key: &str| {
                vector
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| v.trim())
            };
            let id = if kind.has_id() {
                let text = lookup("ID")
                    .ok_or_else(|| Error::api(format!("{} quota needs an ID", kind.name())))?;
                text.parse::<Oid>().map_err(|_| {
                    Error::api(format!("Invalid ID \"{text}\" in {} quota", kind.name()))
                })?
            } else {
                -1
            };
            let entry = quotas.entry_mut(kind, id);
            for field in kind.limits() {
                if let Some(text) = lookup(field) {
                    let value = Amount::parse_limit(field, text).map_err(|e| {
                        Error::api(format!("Invalid limit in {} quota: {e}", kind.name()))
                    })?;
                    entry.limits.insert((*field).to_string(), value);
                }
            }
        }
    }
    Ok(())
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
    let default_entry = defaults.entry(kind, id).cloned().unwrap_or_default();
    let entry = quotas.entry_mut(kind, id);
    for (field, delta) in amounts {
        let delta = delta
            .amount()
            .map_err(|e| Error::api(format!("Invalid {field} amount for the quota: {e}")))?;
        let used = entry.used_amount(field).checked_add(delta).ok_or_else(|| {
            Error::api(format!(
                "{owner} quota usage of {field} in {} [{id}] would overflow",
                kind.name()
            ))
        })?;
        let mut limit = entry.limit_amount(field);
        if limit == Amount::DEFAULT_LIMIT {
            limit = default_entry.limit_amount(field);
        }
        if delta > Amount::ZERO && limit.is_limit() && used > limit {
            return Err(Error::Quota {
                message: format!(
                    "{owner} quota exceeded: limit of {} reached for {field} in {} [{id}].",
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
    use crate::model::{Group, User};
    use nubo_types::{ONEADMIN_GID, ONEADMIN_UID};
    if uid != ONEADMIN_UID
        && let Ok(user) = tx.get::<User>(uid)
    {
        let mut user = (*user).clone();
        let defaults = &tx.state.default_user_quotas;
        charge(
            &mut user.quotas,
            defaults,
            kind,
            id,
            amounts,
            &format!("User [{uid}]"),
        )?;
        tx.put(user)?;
    }
    if gid != ONEADMIN_GID
        && let Ok(group) = tx.get::<Group>(gid)
    {
        let mut group = (*group).clone();
        let defaults = &tx.state.default_group_quotas;
        charge(
            &mut group.quotas,
            defaults,
            kind,
            id,
            amounts,
            &format!("Group [{gid}]"),
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
}
