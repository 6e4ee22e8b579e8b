//! A virtual network's address ranges and held addresses, as OpenNebula's `one.vn.add_ar`,
//! `rm_ar`, `free_ar`, `update_ar`, `hold` and `release`: the range logic itself is in
//! [`super::address_range`]; this module finds the network, authorizes, applies oned's
//! restricted-attribute rules for ranges, and stores the result.

use nubo_template::Template;
use nubo_types::{AuthOp, Error, Oid, Result};

use super::address_range::{self as ars, AddrQuery, value};
use super::generic::parse_template;
use super::vnet::{first_vector, new_range, no_range, ready_vnet};
use super::vnet_reservation::return_to_parent;
use crate::Core;
use crate::auth::{Caller, RestrictedKind};
use crate::model::{AddressRange, Vnet};
use crate::tx::Tx;

/// Whether `key` of an `AR` vector is restricted: oned matches both a plain entry of
/// `VNET_RESTRICTED_ATTR` (`VN_MAD`) and an `AR/` one (`AR/VN_MAD`).
fn ar_restricted(list: &[String], key: &str) -> bool {
    list.iter().any(|e| {
        e.eq_ignore_ascii_case(key)
            || (e.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("AR/"))
                && e.get(3..).is_some_and(|k| k.eq_ignore_ascii_case(key)))
    })
}

/// The `AR/` entries of the list, without their prefix: what an update keeps as it is.
fn ar_only(list: &[String]) -> impl Iterator<Item = &str> {
    list.iter().filter_map(|e| {
        e.get(..3)
            .filter(|p| p.eq_ignore_ascii_case("AR/"))
            .and_then(|_| e.get(3..))
    })
}

/// oned's refusal, `User [N] : AR includes a restricted attribute KEY.`
fn restricted_error(caller: &Caller, key: &str) -> Error {
    Error::restricted(
        caller.uid,
        format!(
            "AR includes a restricted attribute {}",
            key.to_ascii_uppercase()
        ),
    )
}

/// oned's `update_attributes` for a caller outside the oneadmin group: a restricted
/// attribute the update changes is refused; the `AR/` ones are then taken from the range
/// as it is, whatever the update says.
fn keep_restricted(
    caller: &Caller,
    list: &[String],
    ar: &AddressRange,
    pairs: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    for (key, val) in pairs {
        if ar_restricted(list, key) && ar.attr(key) != Some(val.as_str()) {
            return Err(restricted_error(caller, key));
        }
    }
    let mut kept: Vec<(String, String)> = pairs
        .iter()
        .filter(|(k, _)| !ar_only(list).any(|r| r.eq_ignore_ascii_case(k)))
        .cloned()
        .collect();
    for name in ar_only(list) {
        if let Some(v) = ar.attr(name) {
            kept.push((name.to_ascii_uppercase(), v.to_string()));
        }
    }
    Ok(kept)
}

/// The `LEASES=[..]` of a hold/release (or top-level MAC/IP/IP6/AR_ID attributes).
fn lease_pairs(text: &str) -> Result<Vec<(String, String)>> {
    let t = parse_template(text)?;
    let pairs = first_vector(&t, "LEASES").unwrap_or_else(|| {
        ["MAC", "IP", "IP6", "AR_ID"]
            .iter()
            .filter_map(|k| t.get(k).map(|v| ((*k).to_string(), v.to_string())))
            .collect()
    });
    if pairs.is_empty() {
        return Err(Error::api("Empty lease description."));
    }
    Ok(pairs)
}

/// The address and range of a hold or release.
fn lease_request(pairs: &[(String, String)]) -> Result<(AddrQuery, Option<Oid>)> {
    let query =
        AddrQuery::from_pairs(pairs)?.ok_or_else(|| Error::api("Missing MAC, IP or IP6."))?;
    let ar_id = value(pairs, "AR_ID")
        .map(|s| {
            s.parse::<Oid>()
                .map_err(|_| Error::api(format!("Wrong AR_ID \"{s}\"")))
        })
        .transpose()?;
    Ok((query, ar_id))
}

/// How many of MAC, IP and IP6 a lease description sets.
fn addresses_given(pairs: &[(String, String)]) -> usize {
    ["MAC", "IP", "IP6"]
        .iter()
        .filter(|k| value(pairs, k).is_some())
        .count()
}

/// oned raises the authorization of range changes to ADMIN for networks not instantiated
/// from a vnet template.
fn ranges_op(tx: &Tx, id: Oid) -> Result<AuthOp> {
    Ok(if tx.state.get::<Vnet>(id)?.template_id == -1 {
        AuthOp::Admin
    } else {
        AuthOp::Manage
    })
}

impl Core {
    /// Adds an address range (`AR=[..]`), keeping every attribute it is given.
    pub async fn vnet_add_ar(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template = parse_template(text)?;
        let pairs = first_vector(&template, "AR")
            .ok_or_else(|| Error::api("Wrong AR definition. AR vector attribute is missing."))?;
        let restricted = self.config().restricted.list(RestrictedKind::Vnet).to_vec();
        self.write(move |tx| {
            let op = ranges_op(tx, id)?;
            let mut vnet = ready_vnet(tx, caller, id, op, "add_ar")?;
            if !caller.is_admin() {
                check_new_ranges(caller, &restricted, &template)?;
            }
            let ar = new_range(&vnet.ars, &vnet.template, &pairs).map_err(as_action)?;
            vnet.ars.push(ar);
            tx.put(vnet)?;
            Ok(id)
        })
        .await
    }

    /// Removes an address range; one with leases in use only with `force`.
    pub async fn vnet_rm_ar(
        &self,
        caller: &Caller,
        id: Oid,
        ar_id: Oid,
        force: bool,
    ) -> Result<Oid> {
        self.write(|tx| {
            let op = ranges_op(tx, id)?;
            remove_ar(tx, caller, id, ar_id, force, op)
        })
        .await
    }

    /// Frees an address range (typically of a reservation, giving its addresses back to the
    /// parent network): OpenNebula's `free_ar`, a `rm_ar` without force that needs MANAGE.
    pub async fn vnet_free_ar(&self, caller: &Caller, id: Oid, ar_id: Oid) -> Result<Oid> {
        self.write(|tx| remove_ar(tx, caller, id, ar_id, false, AuthOp::Manage))
            .await
    }

    /// Updates an address range (`AR=[AR_ID=..,..]`) as [`ars::update_range`] says; a caller
    /// outside the oneadmin group may not change its restricted attributes.
    pub async fn vnet_update_ar(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let template = parse_template(text)?;
        let pairs = first_vector(&template, "AR")
            .ok_or_else(|| Error::api("Wrong AR definition. AR vector attribute is missing."))?;
        let ar_id = value(&pairs, "AR_ID")
            .and_then(|s| s.parse::<Oid>().ok())
            .ok_or_else(|| {
                Error::api("Wrong AR definition. AR_ID attribute is missing or wrong.")
            })?;
        let restricted = self.config().restricted.list(RestrictedKind::Vnet).to_vec();
        self.write(move |tx| {
            let mut vnet = ready_vnet(tx, caller, id, AuthOp::Manage, "update_ar")?;
            let pos = vnet
                .ars
                .iter()
                .position(|a| a.id == ar_id)
                .ok_or_else(|| no_range(ar_id))?;
            let pairs = if caller.is_admin() {
                pairs
            } else {
                keep_restricted(caller, &restricted, &vnet.ars[pos], &pairs)?
            };
            let updated = ars::update_range(&vnet.ars[pos], &pairs)?;
            ars::check_overlap(&vnet.ars, &updated)?;
            vnet.ars[pos] = updated;
            tx.put(vnet)?;
            Ok(id)
        })
        .await
    }

    /// Puts an address on hold (`LEASES=[IP=..]`, or MAC / IP6, optionally AR_ID).
    pub async fn vnet_hold(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let (query, ar_id) = lease_request(&lease_pairs(text)?)?;
        self.write(move |tx| {
            let mut vnet = ready_vnet(tx, caller, id, AuthOp::Manage, "hold")?;
            ars::hold(&mut vnet.ars, query, ar_id)?;
            tx.put(vnet)?;
            Ok(id)
        })
        .await
    }

    /// Releases an address on hold. As oned's `free_leases`, once the description names
    /// exactly one MAC, IP or IP6 the call succeeds: an address that is not on hold (or not
    /// of the network, or not even well formed) is left as it is.
    pub async fn vnet_release(&self, caller: &Caller, id: Oid, text: &str) -> Result<Oid> {
        let pairs = lease_pairs(text)?;
        match addresses_given(&pairs) {
            0 => return Err(Error::api("Missing MAC, IP or IP6.")),
            1 => {}
            _ => return Err(Error::api("Only one attribute MAC, IP or IP6 can be set.")),
        }
        let request = lease_request(&pairs).ok();
        self.write(move |tx| {
            let mut vnet = ready_vnet(tx, caller, id, AuthOp::Manage, "release")?;
            if let Some((query, ar_id)) = request
                && ars::release(&mut vnet.ars, query, ar_id)
            {
                tx.put(vnet)?;
            }
            Ok(id)
        })
        .await
    }
}

/// oned's `ar_restricted_authorization`: a range given by a caller outside the oneadmin
/// group may hold no restricted attribute.
fn check_new_ranges(caller: &Caller, list: &[String], template: &Template) -> Result<()> {
    for pairs in template.vectors("AR") {
        if let Some((key, _)) = pairs.iter().find(|(k, _)| ar_restricted(list, k)) {
            return Err(restricted_error(caller, key));
        }
    }
    Ok(())
}

/// `rm_ar` / `free_ar`: removes range `ar_id` of network `id`.
fn remove_ar(
    tx: &mut Tx,
    caller: &Caller,
    id: Oid,
    ar_id: Oid,
    force: bool,
    op: AuthOp,
) -> Result<Oid> {
    let mut vnet = ready_vnet(tx, caller, id, op, "rm_ar")?;
    let pos = vnet
        .ars
        .iter()
        .position(|a| a.id == ar_id)
        .ok_or_else(|| no_range(ar_id))?;
    if !force && vnet.ars[pos].used_leases() > 0 {
        return Err(Error::action("Address Range has leases in use"));
    }
    let removed = vnet.ars.remove(pos);
    if vnet.parent_network_id != -1 && removed.parent_network_ar_id.is_some() {
        return_to_parent(tx, &vnet, std::slice::from_ref(&removed))?;
    }
    tx.put(vnet)?;
    Ok(id)
}

/// oned reports a bad address range given to an existing network as an ACTION error.
fn as_action(e: Error) -> Error {
    match e {
        Error::Api { message } => Error::Action { message },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> Caller {
        Caller {
            uid: 5,
            gid: 1,
            groups: [1].into_iter().collect(),
            uname: "bob".into(),
            gname: "users".into(),
        }
    }

    fn list() -> Vec<String> {
        ["VN_MAD", "CVLANS", "AR/BRIDGE", "AR/VN_MAD"]
            .map(String::from)
            .to_vec()
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn plain_and_ar_entries_restrict_range_keys() {
        let l = list();
        assert!(ar_restricted(&l, "bridge"));
        assert!(
            ar_restricted(&l, "CVLANS"),
            "a plain entry applies inside AR"
        );
        assert!(!ar_restricted(&l, "GATEWAY"));
        assert_eq!(ar_only(&l).collect::<Vec<_>>(), vec!["BRIDGE", "VN_MAD"]);
    }

    #[test]
    fn users_keep_the_restricted_values_of_a_range() {
        let l = list();
        let ar = ars::parse_ar(
            &pairs(&[
                ("TYPE", "IP4"),
                ("IP", "10.0.0.1"),
                ("SIZE", "2"),
                ("BRIDGE", "br0"),
            ]),
            0,
            0,
        )
        .expect("range");
        let err = keep_restricted(
            &user(),
            &l,
            &ar,
            &pairs(&[("AR_ID", "0"), ("BRIDGE", "evil")]),
        )
        .expect_err("changes BRIDGE");
        assert!(
            err.to_string() == "User [5] : AR includes a restricted attribute BRIDGE.",
            "{err}"
        );
        let kept = keep_restricted(
            &user(),
            &l,
            &ar,
            &pairs(&[("AR_ID", "0"), ("DNS", "1.1.1.1")]),
        )
        .expect("BRIDGE left out");
        let new = ars::update_range(&ar, &kept).expect("update");
        assert_eq!(new.attr("BRIDGE"), Some("br0"), "kept from the range");
        assert_eq!(new.attr("DNS"), Some("1.1.1.1"));
    }
}
