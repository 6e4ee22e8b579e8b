//! The kinds of objects the cloud holds, with their OpenNebula names, ACL bits and tables.

use serde::{Deserialize, Serialize};

/// A kind of pool object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ObjectKind {
    /// A virtual machine.
    Vm,
    /// A hypervisor host.
    Host,
    /// A virtual network.
    Vnet,
    /// A disk image.
    Image,
    /// A user.
    User,
    /// A VM template.
    Template,
    /// A group.
    Group,
    /// A datastore.
    Datastore,
    /// A cluster.
    Cluster,
    /// A generic document.
    Document,
    /// A zone.
    Zone,
    /// A security group.
    SecGroup,
    /// A virtual data center.
    Vdc,
    /// A virtual router.
    VRouter,
    /// A marketplace.
    Market,
    /// A marketplace app.
    MarketApp,
    /// A VM group.
    VmGroup,
    /// A virtual network template.
    VnTemplate,
    /// A hook.
    Hook,
    /// A backup job.
    BackupJob,
    /// An ACL rule.
    Acl,
}

impl ObjectKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ObjectKind; 21] = [
        ObjectKind::Vm,
        ObjectKind::Host,
        ObjectKind::Vnet,
        ObjectKind::Image,
        ObjectKind::User,
        ObjectKind::Template,
        ObjectKind::Group,
        ObjectKind::Datastore,
        ObjectKind::Cluster,
        ObjectKind::Document,
        ObjectKind::Zone,
        ObjectKind::SecGroup,
        ObjectKind::Vdc,
        ObjectKind::VRouter,
        ObjectKind::Market,
        ObjectKind::MarketApp,
        ObjectKind::VmGroup,
        ObjectKind::VnTemplate,
        ObjectKind::Hook,
        ObjectKind::BackupJob,
        ObjectKind::Acl,
    ];

    /// OpenNebula's upper-case name (`VM`, `NET`, ...), as used in ACL strings and messages.
    pub fn acl_name(self) -> &'static str {
        match self {
            ObjectKind::Vm => "VM",
            ObjectKind::Host => "HOST",
            ObjectKind::Vnet => "NET",
            ObjectKind::Image => "IMAGE",
            ObjectKind::User => "USER",
            ObjectKind::Template => "TEMPLATE",
            ObjectKind::Group => "GROUP",
            ObjectKind::Datastore => "DATASTORE",
            ObjectKind::Cluster => "CLUSTER",
            ObjectKind::Document => "DOCUMENT",
            ObjectKind::Zone => "ZONE",
            ObjectKind::SecGroup => "SECGROUP",
            ObjectKind::Vdc => "VDC",
            ObjectKind::VRouter => "VROUTER",
            ObjectKind::Market => "MARKETPLACE",
            ObjectKind::MarketApp => "MARKETPLACEAPP",
            ObjectKind::VmGroup => "VMGROUP",
            ObjectKind::VnTemplate => "VNTEMPLATE",
            ObjectKind::Hook => "HOOK",
            ObjectKind::BackupJob => "BACKUPJOB",
            ObjectKind::Acl => "ACL",
        }
    }

    /// The ACL resource bit of this kind (0 for ACL rules, which ACLs do not cover).
    pub fn acl_bit(self) -> u64 {
        match self {
            ObjectKind::Vm => 0x0000_0010_0000_0000,
            ObjectKind::Host => 0x0000_0020_0000_0000,
            ObjectKind::Vnet => 0x0000_0040_0000_0000,
            ObjectKind::Image => 0x0000_0080_0000_0000,
            ObjectKind::User => 0x0000_0100_0000_0000,
            ObjectKind::Template => 0x0000_0200_0000_0000,
            ObjectKind::Group => 0x0000_0400_0000_0000,
            ObjectKind::Datastore => 0x0000_1000_0000_0000,
            ObjectKind::Cluster => 0x0000_2000_0000_0000,
            ObjectKind::Document => 0x0000_4000_0000_0000,
            ObjectKind::Zone => 0x0000_8000_0000_0000,
            ObjectKind::SecGroup => 0x0001_0000_0000_0000,
            ObjectKind::Vdc => 0x0002_0000_0000_0000,
            ObjectKind::VRouter => 0x0004_0000_0000_0000,
            ObjectKind::Market => 0x0008_0000_0000_0000,
            ObjectKind::MarketApp => 0x0010_0000_0000_0000,
            ObjectKind::VmGroup => 0x0020_0000_0000_0000,
            ObjectKind::VnTemplate => 0x0040_0000_0000_0000,
            ObjectKind::Hook => 0x0080_0000_0000_0000,
            ObjectKind::BackupJob => 0x0100_0000_0000_0000,
            ObjectKind::Acl => 0,
        }
    }

    /// The kind whose ACL name is `name` (case-insensitive), if any.
    pub fn from_acl_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|k| k.acl_bit() != 0 && k.acl_name().eq_ignore_ascii_case(name))
    }

    /// The name used in error messages, e.g. `virtual machine`.
    pub fn human_name(self) -> &'static str {
        match self {
            ObjectKind::Vm => "virtual machine",
            ObjectKind::Host => "host",
            ObjectKind::Vnet => "virtual network",
            ObjectKind::Image => "image",
            ObjectKind::User => "user",
            ObjectKind::Template => "virtual machine template",
            ObjectKind::Group => "group",
            ObjectKind::Datastore => "datastore",
            ObjectKind::Cluster => "cluster",
            ObjectKind::Document => "document",
            ObjectKind::Zone => "zone",
            ObjectKind::SecGroup => "security group",
            ObjectKind::Vdc => "VDC",
            ObjectKind::VRouter => "virtual router",
            ObjectKind::Market => "marketplace",
            ObjectKind::MarketApp => "marketplaceapp",
            ObjectKind::VmGroup => "vm group",
            ObjectKind::VnTemplate => "virtual network template",
            ObjectKind::Hook => "hook",
            ObjectKind::BackupJob => "backup job",
            ObjectKind::Acl => "ACL",
        }
    }

    /// The store table holding objects of this kind (OpenNebula's table names).
    pub fn table(self) -> &'static str {
        match self {
            ObjectKind::Vm => "vm_pool",
            ObjectKind::Host => "host_pool",
            ObjectKind::Vnet => "network_pool",
            ObjectKind::Image => "image_pool",
            ObjectKind::User => "user_pool",
            ObjectKind::Template => "template_pool",
            ObjectKind::Group => "group_pool",
            ObjectKind::Datastore => "datastore_pool",
            ObjectKind::Cluster => "cluster_pool",
            ObjectKind::Document => "document_pool",
            ObjectKind::Zone => "zone_pool",
            ObjectKind::SecGroup => "secgroup_pool",
            ObjectKind::Vdc => "vdc_pool",
            ObjectKind::VRouter => "vrouter_pool",
            ObjectKind::Market => "marketplace_pool",
            ObjectKind::MarketApp => "marketplaceapp_pool",
            ObjectKind::VmGroup => "vmgroup_pool",
            ObjectKind::VnTemplate => "vn_template_pool",
            ObjectKind::Hook => "hook_pool",
            ObjectKind::BackupJob => "backupjob_pool",
            ObjectKind::Acl => "acl_pool",
        }
    }

    /// The first id given to objects that users create; lower ids are reserved for the
    /// bootstrap objects, as in OpenNebula (groups, clusters, datastores, zones and VDCs
    /// start user objects at 100).
    pub fn first_user_oid(self) -> i32 {
        match self {
            ObjectKind::Group
            | ObjectKind::Cluster
            | ObjectKind::Datastore
            | ObjectKind::Zone
            | ObjectKind::Vdc => 100,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bits_are_distinct() {
        let mut seen = 0u64;
        for kind in ObjectKind::ALL {
            if kind == ObjectKind::Acl {
                continue;
            }
            assert_eq!(ObjectKind::from_acl_name(kind.acl_name()), Some(kind));
            assert_eq!(seen & kind.acl_bit(), 0, "{kind:?} bit reused");
            seen |= kind.acl_bit();
        }
        assert_eq!(ObjectKind::from_acl_name("net"), Some(ObjectKind::Vnet));
        assert_eq!(ObjectKind::from_acl_name("ACL"), None);
    }
}
