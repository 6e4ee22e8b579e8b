//! Restricted attributes: attributes that only callers in the oneadmin group may set,
//! because they reach past the cloud's model into the host (`RAW`, `EMULATOR`,
//! `CONTEXT/FILES`, a NIC's `BRIDGE`, …) or into accounting (`CPU_COST`, …). The lists are
//! OpenNebula's `VM_RESTRICTED_ATTR`, `IMAGE_RESTRICTED_ATTR` and `VNET_RESTRICTED_ATTR`
//! with their 7.4 defaults, plus `DISK/SOURCE` (a disk's file on the host), and can be
//! replaced in nubod's configuration.
//!
//! An entry is an attribute name (`RAW`) or a vector and one of its keys (`NIC/MAC`). A
//! template from a caller outside the oneadmin group may hold a restricted attribute only
//! with a value the object already had (`base`): an update that leaves it alone passes,
//! one that adds or changes it is refused with the authorization code, as in oned.

use nubo_template::{Template, Value};
use nubo_types::{Error, Result};

use super::Caller;

/// What a template describes, which decides the list that applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestrictedKind {
    /// VMs and VM templates (`VM_RESTRICTED_ATTR`).
    Vm,
    /// Images (`IMAGE_RESTRICTED_ATTR`).
    Image,
    /// Network reservations (`VNET_RESTRICTED_ATTR`).
    Vnet,
}

impl RestrictedKind {
    /// How OpenNebula names the template in the refusal.
    fn what(self) -> &'static str {
        match self {
            RestrictedKind::Vm => "VM Template",
            RestrictedKind::Image | RestrictedKind::Vnet => "Template",
        }
    }
}

/// The restricted attributes of each kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestrictedAttrs {
    /// `VM_RESTRICTED_ATTR`.
    pub vm: Vec<String>,
    /// `IMAGE_RESTRICTED_ATTR`.
    pub image: Vec<String>,
    /// `VNET_RESTRICTED_ATTR`.
    pub vnet: Vec<String>,
}

/// OpenNebula 7.4's `VM_RESTRICTED_ATTR`, and `DISK/SOURCE`.
const VM_DEFAULTS: &[&str] = &[
    "CONTEXT/FILES",
    "NIC/MAC",
    "NIC/VLAN_ID",
    "NIC/BRIDGE",
    "NIC/FILTER",
    "NIC/FILTER_IP_SPOOFING",
    "NIC/FILTER_MAC_SPOOFING",
    "NIC/INBOUND_AVG_BW",
    "NIC/INBOUND_PEAK_BW",
    "NIC/INBOUND_PEAK_KB",
    "NIC/OUTBOUND_AVG_BW",
    "NIC/OUTBOUND_PEAK_BW",
    "NIC/OUTBOUND_PEAK_KB",
    "NIC/OPENNEBULA_MANAGED",
    "NIC/VCENTER_INSTANCE_ID",
    "NIC/VCENTER_NET_REF",
    "NIC/VCENTER_PORTGROUP_TYPE",
    "NIC/EXTERNAL",
    "NIC_ALIAS/MAC",
    "NIC_ALIAS/VLAN_ID",
    "NIC_ALIAS/BRIDGE",
    "NIC_ALIAS/INBOUND_AVG_BW",
    "NIC_ALIAS/INBOUND_PEAK_BW",
    "NIC_ALIAS/INBOUND_PEAK_KB",
    "NIC_ALIAS/OUTBOUND_AVG_BW",
    "NIC_ALIAS/OUTBOUND_PEAK_BW",
    "NIC_ALIAS/OUTBOUND_PEAK_KB",
    "NIC_ALIAS/OPENNEBULA_MANAGED",
    "NIC_ALIAS/VCENTER_INSTANCE_ID",
    "NIC_ALIAS/VCENTER_NET_REF",
    "NIC_ALIAS/VCENTER_PORTGROUP_TYPE",
    "NIC_DEFAULT/MAC",
    "NIC_DEFAULT/VLAN_ID",
    "NIC_DEFAULT/BRIDGE",
    "NIC_DEFAULT/FILTER",
    "NIC_DEFAULT/EXTERNAL",
    "DISK/TOTAL_BYTES_SEC",
    "DISK/TOTAL_BYTES_SEC_MAX_LENGTH",
    "DISK/TOTAL_BYTES_SEC_MAX",
    "DISK/READ_BYTES_SEC",
    "DISK/READ_BYTES_SEC_MAX_LENGTH",
    "DISK/READ_BYTES_SEC_MAX",
    "DISK/WRITE_BYTES_SEC",
    "DISK/WRITE_BYTES_SEC_MAX_LENGTH",
    "DISK/WRITE_BYTES_SEC_MAX",
    "DISK/TOTAL_IOPS_SEC",
    "DISK/TOTAL_IOPS_SEC_MAX_LENGTH",
    "DISK/TOTAL_IOPS_SEC_MAX",
    "DISK/READ_IOPS_SEC",
    "DISK/READ_IOPS_SEC_MAX_LENGTH",
    "DISK/READ_IOPS_SEC_MAX",
    "DISK/WRITE_IOPS_SEC",
    "DISK/WRITE_IOPS_SEC_MAX_LENGTH",
    "DISK/WRITE_IOPS_SEC_MAX",
    "DISK/SIZE_IOPS_SEC",
    "DISK/OPENNEBULA_MANAGED",
    "DISK/VCENTER_DS_REF",
    "DISK/VCENTER_INSTANCE_ID",
    "DISK/ORIGINAL_SIZE",
    "DISK/SIZE_PREV",
    "DISK/SOURCE",
    "DEPLOY_ID",
    "CPU_COST",
    "MEMORY_COST",
    "DISK_COST",
    "PCI",
    "EMULATOR",
    "RAW",
    "USER_PRIORITY",
    "USER_INPUTS/CPU",
    "USER_INPUTS/MEMORY",
    "USER_INPUTS/VCPU",
    "VCENTER_VM_FOLDER",
    "VCENTER_ESX_HOST",
    "TOPOLOGY/PIN_POLICY",
    "TOPOLOGY/HUGEPAGE_SIZE",
];

/// OpenNebula 7.4's `IMAGE_RESTRICTED_ATTR`.
const IMAGE_DEFAULTS: &[&str] = &["SOURCE", "VCENTER_IMPORTED"];

/// OpenNebula 7.4's `VNET_RESTRICTED_ATTR`.
const VNET_DEFAULTS: &[&str] = &[
    "VN_MAD",
    "PHYDEV",
    "VLAN_ID",
    "CVLANS",
    "QINQ_TYPE",
    "BRIDGE",
    "CONF",
    "BRIDGE_CONF",
    "OVS_BRIDGE_CONF",
    "IP_LINK_CONF",
    "FILTER",
    "FILTER_IP_SPOOFING",
    "FILTER_MAC_SPOOFING",
    "AR/VN_MAD",
    "AR/PHYDEV",
    "AR/VLAN_ID",
    "AR/BRIDGE",
    "AR/FILTER",
    "AR/FILTER_IP_SPOOFING",
    "AR/FILTER_MAC_SPOOFING",
    "CLUSTER_IDS",
    "EXTERNAL",
];

fn owned(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

impl Default for RestrictedAttrs {
    fn default() -> Self {
        RestrictedAttrs {
            vm: owned(VM_DEFAULTS),
            image: owned(IMAGE_DEFAULTS),
            vnet: owned(VNET_DEFAULTS),
        }
    }
}

impl RestrictedAttrs {
    /// The list for `kind`.
    pub fn list(&self, kind: RestrictedKind) -> &[String] {
        match kind {
            RestrictedKind::Vm => &self.vm,
            RestrictedKind::Image => &self.image,
            RestrictedKind::Vnet => &self.vnet,
        }
    }

    /// Refuses `new` when the caller is outside the oneadmin group and it sets a restricted
    /// attribute of `kind` to a value that `base` (the object as it is; none for a new one)
    /// does not have.
    pub fn check(
        &self,
        caller: &Caller,
        kind: RestrictedKind,
        new: &Template,
        base: Option<&Template>,
    ) -> Result<()> {
        self.check_worded(caller, kind, kind.what(), new, base)
    }

    /// [`RestrictedAttrs::check`], the refusal naming the template `what` (oned says
    /// `User Template` for instantiate's extra template, `NIC` or `DISK` for an attached
    /// vector). As `Template::check_restricted` does, a vector entry (`CONTEXT/FILES`) is
    /// named by its key alone (`FILES`).
    pub fn check_worded(
        &self,
        caller: &Caller,
        kind: RestrictedKind,
        what: &str,
        new: &Template,
        base: Option<&Template>,
    ) -> Result<()> {
        match self.refused(caller, kind, new, base) {
            Some(name) => Err(Error::restricted(
                caller.uid,
                format_args!("{what} includes a restricted attribute {name}"),
            )),
            None => Ok(()),
        }
    }

    /// The restricted attribute of `kind` that `new` sets and `base` does not have, if the
    /// caller is outside the oneadmin group, named as oned names it: a vector entry
    /// (`CONTEXT/FILES`) by its key alone (`FILES`), as `Template::check_restricted` does.
    pub fn refused<'a>(
        &'a self,
        caller: &Caller,
        kind: RestrictedKind,
        new: &Template,
        base: Option<&Template>,
    ) -> Option<&'a str> {
        if caller.is_admin() {
            return None;
        }
        let entry = self.list(kind).iter().find(|e| sets(new, base, e))?;
        Some(
            entry
                .rsplit_once('/')
                .map_or(entry.as_str(), |(_, key)| key),
        )
    }

    /// For a caller outside the oneadmin group replacing a template: the restricted
    /// attributes (whole ones, not vector keys) that `base` has and `new` lacks are kept,
    /// as oned keeps them.
    pub fn keep(&self, caller: &Caller, kind: RestrictedKind, new: &mut Template, base: &Template) {
        if caller.is_admin() {
            return;
        }
        for name in self.list(kind).iter().filter(|e| !e.contains('/')) {
            if new.get_all(name).next().is_none() {
                for attr in base.get_all(name).cloned().collect::<Vec<_>>() {
                    new.push(attr);
                }
            }
        }
    }
}

/// Whether `new` sets restricted `entry` to something `base` does not have.
fn sets(new: &Template, base: Option<&Template>, entry: &str) -> bool {
    match entry.split_once('/') {
        None => new
            .get_all(entry)
            .any(|a| base.is_none_or(|b| !b.get_all(entry).any(|old| old.value == a.value))),
        Some((vector, key)) => new.vectors(vector).any(|pairs| {
            let Some(value) = value_of(pairs, key) else {
                return false;
            };
            base.is_none_or(|b| {
                !b.vectors(vector)
                    .any(|old| value_of(old, key) == Some(value))
            })
        }),
    }
}

fn value_of<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v.as_str())
}

/// A template holding one vector (a NIC or DISK being attached), for [`RestrictedAttrs::check`].
pub fn of_vector(name: &str, pairs: &[(String, String)]) -> Template {
    let mut t = Template::new();
    t.push(nubo_template::Attribute {
        name: name.to_string(),
        value: Value::Vector(pairs.to_vec()),
    });
    t
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

    fn admin() -> Caller {
        Caller {
            uid: 0,
            gid: 0,
            groups: [0].into_iter().collect(),
            uname: "oneadmin".into(),
            gname: "oneadmin".into(),
        }
    }

    fn t(text: &str) -> Template {
        Template::parse(text).expect("template")
    }

    #[test]
    fn users_may_not_add_or_change_restricted_attributes() {
        let r = RestrictedAttrs::default();
        let vm = RestrictedKind::Vm;
        for text in [
            "RAW=[TYPE=kvm, DATA=\"<x/>\"]",
            "EMULATOR=\"/bin/sh\"",
            "CONTEXT=[FILES=\"/etc/shadow\"]",
            "DISK=[SOURCE=\"/etc/shadow\"]",
            "NIC=[NETWORK_ID=0, BRIDGE=br0]",
            "NIC_ALIAS=[NETWORK_ID=0, MAC=\"02:00:00:00:00:01\"]",
            "CPU_COST=0",
        ] {
            let e = r.check(&user(), vm, &t(text), None).expect_err(text);
            assert!(matches!(e, Error::Restricted { .. }), "{e:?}");
            assert_eq!(e.code() as i32, 512);
            r.check(&admin(), vm, &t(text), None).expect("oneadmin may");
        }
        r.check(
            &user(),
            vm,
            &t("CPU=1\nMEMORY=64\nNIC=[NETWORK_ID=0]\nCONTEXT=[NETWORK=YES]"),
            None,
        )
        .expect("nothing restricted");
        let e = r
            .check(
                &user(),
                RestrictedKind::Image,
                &t("SOURCE=/etc/passwd"),
                None,
            )
            .expect_err("image SOURCE");
        assert!(e.to_string().contains("restricted attribute SOURCE"), "{e}");
    }

    #[test]
    fn values_the_object_already_has_may_stay() {
        let r = RestrictedAttrs::default();
        let base = t("RAW=[TYPE=kvm, DATA=\"<a/>\"]\nNIC=[NETWORK_ID=0, BRIDGE=br0]");
        let same = t("RAW=[TYPE=kvm, DATA=\"<a/>\"]\nNIC=[NETWORK_ID=1, BRIDGE=br0]");
        r.check(&user(), RestrictedKind::Vm, &same, Some(&base))
            .expect("unchanged");
        let changed = t("RAW=[TYPE=kvm, DATA=\"<b/>\"]");
        assert!(
            r.check(&user(), RestrictedKind::Vm, &changed, Some(&base))
                .is_err()
        );
        let other_bridge = t("NIC=[NETWORK_ID=1, BRIDGE=br1]");
        assert!(
            r.check(&user(), RestrictedKind::Vm, &other_bridge, Some(&base))
                .is_err()
        );
    }

    #[test]
    fn a_replacing_user_keeps_the_restricted_attributes() {
        let r = RestrictedAttrs::default();
        let base = t("RAW=[TYPE=kvm, DATA=\"<a/>\"]\nCPU_COST=2\nDESCRIPTION=x");
        let mut new = t("DESCRIPTION=y");
        r.keep(&user(), RestrictedKind::Vm, &mut new, &base);
        assert!(new.get("CPU_COST").is_some() && new.get_all("RAW").next().is_some());
        let mut by_admin = t("DESCRIPTION=y");
        r.keep(&admin(), RestrictedKind::Vm, &mut by_admin, &base);
        assert!(by_admin.get("CPU_COST").is_none(), "oneadmin may drop them");
    }
}
