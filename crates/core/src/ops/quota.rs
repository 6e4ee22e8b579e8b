//! Quota limits set from templates (`DATASTORE=[ID=1,IMAGES=5]`, `VM=[CPU=4]`, ...), and
//! charging usage against user, group and default limits.

use nubo_template::Template;
use nubo_types::{Error, Oid, Result};

use crate::model::{QuotaKind, Quotas};

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
                    let value: f64 = text.parse().map_err(|_| {
                        Error::api(format!(
                            "Invalid {field} \"{text}\" in {} quota",
                            kind.name()
                        ))
                    })?;
                    if !value.is_finite() || value < -2.0 {
                        return Err(Error::api(format!(
                            "Negative limit {field}={text} in {} quota (-1 default, -2 unlimited)",
                            kind.name()
                        )));
                    }
                    entry.limits.insert((*field).to_string(), value);
                }
            }
        }
    }
    Ok(())
}

/// Charges `amounts` (field, delta) to `quotas`[`kind`][`id`], checking limits unless the
/// delta is a release. `defaults` supplies limits of -1. Fails with a message naming the
/// exceeded limit.
pub fn charge(
    quotas: &mut Quotas,
    defaults: &Quotas,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, f64)],
    owner: &str,
) -> Result<()> {
    let default_entry = defaults.entry(kind, id).cloned().unwrap_or_default();
    let entry = quotas.entry_mut(kind, id);
    for (field, delta) in amounts {
        let used = entry.used(field) + delta;
        let mut limit = entry.limit(field);
        if limit == -1.0 {
            limit = default_entry.limit(field);
        }
        if *delta > 0.0 && limit >= 0.0 && used > limit {
            return Err(Error::Quota {
                message: format!(
                    "{owner} quota exceeded: limit of {} reached for {field} in {} [{id}].",
                    crate::model::format_quota_value(limit),
                    kind.name()
                ),
            });
        }
        entry.used.insert((*field).to_string(), used.max(0.0));
    }
    Ok(())
}

/// Charges `amounts` to both owners of an object: user `uid` and group `gid`, reading
/// them as `tx` sees them. oneadmin and the oneadmin group are not accounted, as in
/// OpenNebula. Negative amounts release.
pub fn charge_owners(
    tx: &mut crate::tx::Tx,
    uid: Oid,
    gid: Oid,
    kind: QuotaKind,
    id: Oid,
    amounts: &[(&str, f64)],
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
