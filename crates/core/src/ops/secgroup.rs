//! Security group operations: allocate, delete, update (rules are validated as OpenNebula's
//! `SecurityGroup::isValidRule` does), clone and commit (`one.secgroup.*`).

use std::collections::BTreeSet;
use std::net::IpAddr;

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::address_range::value;
use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::vnet::DEFAULT_SECGROUP;
use crate::Core;
use crate::auth::{Caller, authorize_create};
use crate::model::SecGroup;
use crate::tx::Tx;

const PROTOCOLS: [&str; 6] = ["TCP", "UDP", "ICMP", "ICMPV6", "IPSEC", "ALL"];

/// A rule's attribute naming another security group: the rule's peers are the addresses
/// of that group's VMs (a Nubo extension, as EC2's and OpenStack's group references).
pub const REMOTE_GROUP_ID: &str = "REMOTE_GROUP_ID";

/// The group a rule's peers belong to, if it names one.
pub fn remote_group(rule: &[(String, String)]) -> Option<Oid> {
    value(rule, REMOTE_GROUP_ID)?.parse().ok()
}

/// The groups the rules of `t` name.
fn named_groups(t: &Template) -> BTreeSet<Oid> {
    t.vectors("RULE").filter_map(remote_group).collect()
}

/// Whether group `sg` has a rule naming group `other`.
pub fn refers_to(sg: &SecGroup, other: Oid) -> bool {
    sg.template
        .vectors("RULE")
        .any(|r| remote_group(r) == Some(other))
}

fn alloc(e: Error) -> Error {
    Error::allocate(ObjectKind::SecGroup, e.to_string())
}

/// Whether `text` is a port list such as `22`, `1000:2000` or `22,80,1000:2000`.
fn valid_range(text: &str) -> bool {
    let port = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    text.split(',').all(|item| match item.split_once(':') {
        Some((a, b)) => port(a) && port(b),
        None => port(item),
    })
}

/// Checks one `RULE=[..]` vector.
pub fn check_rule(rule: &[(String, String)]) -> Result<()> {
    let get = |key: &str| {
        rule.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let proto = get("PROTOCOL").unwrap_or_default().to_ascii_uppercase();
    if !PROTOCOLS.contains(&proto.as_str()) {
        return Err(Error::api(
            "Wrong PROTOCOL in rule. Valid options: TCP, UDP, ICMP, ICMPV6, IPSEC, ALL.",
        ));
    }
    if let Some(range) = get("RANGE") {
        if proto != "TCP" && proto != "UDP" {
            return Err(Error::api(
                "RANGE is supported only for TCP and UDP protocols.",
            ));
        }
        if !valid_range(range) {
            return Err(Error::api("Invalid RANGE specification."));
        }
    }
    for (key, needs) in [("ICMP_TYPE", "ICMP"), ("ICMPV6_TYPE", "ICMPV6")] {
        if let Some(v) = get(key) {
            if proto != needs {
                return Err(Error::api(format!(
                    "{key} is supported only for {needs} protocol."
                )));
            }
            if v.parse::<u32>().is_err() {
                return Err(Error::api(format!("Wrong {key}, it must be integer")));
            }
        }
    }
    let rule_type = get("RULE_TYPE").unwrap_or_default().to_ascii_uppercase();
    if rule_type != "INBOUND" && rule_type != "OUTBOUND" {
        return Err(Error::api(
            "Wrong RULE_TYPE in rule. Valid options: INBOUND, OUTBOUND.",
        ));
    }
    if get(REMOTE_GROUP_ID).is_some() && (get("IP").is_some() || get("NETWORK_ID").is_some()) {
        return Err(Error::api(
            "A rule with REMOTE_GROUP_ID names no IP or NETWORK_ID.",
        ));
    }
    if let Some(group) = get(REMOTE_GROUP_ID)
        && group.parse::<Oid>().is_err()
    {
        return Err(Error::api("Wrong REMOTE_GROUP_ID."));
    }
    if let Some(ip) = get("IP") {
        // SIZE counts addresses: up to 2^32 - 1 from an IPv4 IP, 2^128 - 1 from an IPv6 one.
        let wrong_size = || Error::api("Wrong or empty SIZE.");
        let size = get("SIZE")
            .and_then(|s| s.parse::<u128>().ok())
            .ok_or_else(wrong_size)?;
        match ip.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) if u32::try_from(size).is_err() => return Err(wrong_size()),
            Ok(_) => {}
            Err(_) => return Err(Error::api("Wrong format for IP value.")),
        }
    } else if let Some(net) = get("NETWORK_ID")
        && net.parse::<Oid>().is_err()
    {
        return Err(Error::api("Wrong NETWORK_ID."));
    }
    Ok(())
}

/// Checks every `RULE` of a security group template.
pub fn check_rules(t: &Template) -> Result<()> {
    t.vectors("RULE").try_for_each(check_rule)
}

/// Checks that `caller` may use every group the rules of `template` name, but those
/// `already` named (by the rules the template replaces).
fn may_refer(
    state: &crate::state::State,
    caller: &Caller,
    template: &Template,
    already: &BTreeSet<Oid>,
) -> Result<()> {
    for other in named_groups(template).difference(already) {
        fetch_for::<SecGroup>(state, caller, *other, AuthOp::Use)?;
    }
    Ok(())
}

/// Stores a new security group `name` owned by `caller`.
fn store_new(tx: &mut Tx, caller: &Caller, name: String, template: Template) -> Result<Oid> {
    authorize_create(tx.state, caller, ObjectKind::SecGroup)?;
    check_name::<SecGroup>(tx.state, &name, caller.uid, None).map_err(alloc)?;
    let id = tx.next_oid(ObjectKind::SecGroup);
    tx.put(SecGroup {
        meta: new_meta(caller, id, name),
        updated_vms: BTreeSet::new(),
        outdated_vms: BTreeSet::new(),
        updating_vms: BTreeSet::new(),
        error_vms: BTreeSet::new(),
        template,
    })?;
    Ok(id)
}

impl Core {
    /// Creates a security group from a template (NAME and RULE vectors).
    pub async fn secgroup_allocate(&self, caller: &Caller, text: &str) -> Result<Oid> {
        let mut template = parse_template(text).map_err(alloc)?;
        let name = template
            .remove("NAME")
            .into_iter()
            .find_map(|a| a.value.as_single().map(|s| s.trim().to_string()))
            .filter(|s| !s.is_empty())
            .ok_or_else(|| alloc(Error::api("No NAME in template for Security Group.")))?;
        check_rules(&template).map_err(alloc)?;
        self.write(move |tx| {
            may_refer(tx.state, caller, &template, &BTreeSet::new())?;
            store_new(tx, caller, name, template)
        })
        .await
    }

    /// Deletes a security group no VM uses (never the default group 0).
    pub async fn secgroup_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let sg = fetch_for::<SecGroup>(tx.state, caller, id, AuthOp::Manage)?;
            if id == DEFAULT_SECGROUP {
                // SecurityGroupAPI::drop, in SharedAPI::delete_object's "Cannot delete
                // <object>. "
                return Err(Error::action(
                    "Cannot delete security group. The default security group (ID 0) cannot \
                     be deleted.",
                ));
            }
            if let Some(other) = tx
                .state
                .secgroups
                .values()
                .find(|o| o.meta.id != id && refers_to(o, id))
            {
                return Err(Error::action(format!(
                    "Cannot delete security group. The security group is named by the rules \
                     of security group {}",
                    other.meta.id
                )));
            }
            let vms = sg.updated_vms.len()
                + sg.outdated_vms.len()
                + sg.updating_vms.len()
                + sg.error_vms.len();
            if vms > 0 {
                return Err(Error::action(
                    "Cannot delete security group. The security group has VMs using it",
                ));
            }
            tx.delete::<SecGroup>(id);
            Ok(id)
        })
        .await
    }

    /// Replaces (append = 0) or merges into (append = 1) the template; the rules of the
    /// result must be valid.
    pub async fn secgroup_update(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: i32,
    ) -> Result<Oid> {
        if let Ok(named) = parse_template(text) {
            self.read(|state| {
                let before = named_groups(&state.get::<SecGroup>(id)?.template);
                may_refer(state, caller, &named, &before)
            })?;
        }
        // New rules reach the group's VMs at once, as after a commit.
        self.update_template_with::<SecGroup>(caller, id, text, append, |sg| {
            check_rules(&sg.template)?;
            super::secgroup_updates::mark_outdated(sg, false);
            Ok(())
        })
        .await?;
        self.wake_sg_updates();
        Ok(id)
    }

    /// Copies a security group under a new name, owned by the caller.
    pub async fn secgroup_clone(&self, caller: &Caller, id: Oid, name: &str) -> Result<Oid> {
        let name = name.trim().to_string();
        self.write(move |tx| {
            let source = fetch_for::<SecGroup>(tx.state, caller, id, AuthOp::Use)?;
            may_refer(tx.state, caller, &source.template, &BTreeSet::new())?;
            store_new(tx, caller, name, source.template.clone())
        })
        .await
    }

    /// Pushes the rules to the VMs using the group (with `outdated_only`, only to those
    /// not up to date or whose last update failed); the runtime rewrites their hosts'
    /// firewalls.
    pub async fn secgroup_commit(
        &self,
        caller: &Caller,
        id: Oid,
        outdated_only: bool,
    ) -> Result<Oid> {
        self.write(move |tx| {
            fetch_for::<SecGroup>(tx.state, caller, id, AuthOp::Manage)?;
            let mut sg = tx.get_mut::<SecGroup>(id)?;
            super::secgroup_updates::mark_outdated(&mut sg, outdated_only);
            tx.put(sg)?;
            Ok(id)
        })
        .await?;
        self.wake_sg_updates();
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn rules_are_checked() {
        assert!(check_rule(&rule(&[("PROTOCOL", "ALL"), ("RULE_TYPE", "inbound")])).is_ok());
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "TCP"),
                ("RULE_TYPE", "OUTBOUND"),
                ("RANGE", "22,1000:2000")
            ]))
            .is_ok()
        );
        assert!(check_rule(&rule(&[("PROTOCOL", "SCTP"), ("RULE_TYPE", "INBOUND")])).is_err());
        assert!(check_rule(&rule(&[("PROTOCOL", "TCP"), ("RULE_TYPE", "SIDEWAYS")])).is_err());
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "ICMP"),
                ("RULE_TYPE", "INBOUND"),
                ("RANGE", "22")
            ]))
            .is_err()
        );
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "TCP"),
                ("RULE_TYPE", "INBOUND"),
                ("RANGE", "22:")
            ]))
            .is_err()
        );
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "ALL"),
                ("RULE_TYPE", "INBOUND"),
                ("IP", "10.0.0.1")
            ]))
            .is_err()
        );
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "ALL"),
                ("RULE_TYPE", "INBOUND"),
                ("IP", "10.0.0.1"),
                ("SIZE", "4")
            ]))
            .is_ok()
        );
        assert!(
            check_rule(&rule(&[
                ("PROTOCOL", "ICMP"),
                ("RULE_TYPE", "INBOUND"),
                ("ICMP_TYPE", "x")
            ]))
            .is_err()
        );
    }

    #[test]
    fn sizes_fit_the_family_of_the_ip() {
        let sized = |ip: &str, size: &str| {
            check_rule(&rule(&[
                ("PROTOCOL", "ALL"),
                ("RULE_TYPE", "INBOUND"),
                ("IP", ip),
                ("SIZE", size),
            ]))
        };
        assert!(sized("2001:db8::", "18446744073709551616").is_ok());
        assert!(sized("::", &u128::MAX.to_string()).is_ok());
        assert!(sized("10.0.0.0", "4294967295").is_ok());
        assert!(sized("10.0.0.0", "4294967296").is_err());
        // SIZE is checked before IP, as OpenNebula does.
        let e = sized("nope", "x").expect_err("both wrong");
        assert!(e.to_string().contains("SIZE"), "{e}");
        assert!(
            sized("nope", "1")
                .expect_err("bad IP")
                .to_string()
                .contains("IP")
        );
    }
}
