//! The object kinds, as one table: each marker type's wire names, the capabilities it has
//! (which of the generic verbs of [`Resource`] apply), and a shortcut on [`Client`].
//! Verbs only one kind has live in the kind's own module.

mod acl;
mod cluster;
mod document;
mod host;
mod image;
mod template;
mod user;
mod vm;
mod vm_devices;
mod vmgroup;
mod vnet;

pub use acl::Acl;
pub use cluster::Member;
pub use host::HostStatus;
pub use vm::{MigrateMode, RecoverOp, StateFilter, VmAction};

use crate::Client;
use crate::resource::{
    Clonable, Enableable, HasQuota, Kind, Listable, Lockable, Noun, Owned, PoolShape, Renamable,
    Resource, TemplateAllocate,
};

/// Declares a marker type, its [`Kind`], its capabilities and its [`Client`] shortcut.
macro_rules! nouns {
    ($(
        $(#[$doc:meta])*
        $ty:ident, $shortcut:ident: $name:literal, $method:literal, $pool:literal,
            $element:literal, $pool_element:literal, $shape:ident; [$($cap:ident),*]
    )+) => {
        $(
            $(#[$doc])*
            #[derive(Debug, Clone, Copy)]
            pub struct $ty;

            impl Noun for $ty {
                const KIND: Kind = Kind {
                    name: $name,
                    method: $method,
                    pool_method: $pool,
                    element: $element,
                    pool_element: $pool_element,
                    pool: PoolShape::$shape,
                };
            }

            $(impl $cap for $ty {})*
        )+

        impl Client {
            $(
                #[doc = concat!("Calls on ", $name, " objects (`one.", $method, ".*`).")]
                pub fn $shortcut(&self) -> Resource<'_, $ty> {
                    Resource::new(self)
                }
            )+
        }
    };
}

nouns! {
    /// Users (`USER`).
    User, user: "user", "user", "userpool", "USER", "USER_POOL", Whole;
        [Listable, Enableable, HasQuota]
    /// Groups (`GROUP`).
    Group, group: "group", "group", "grouppool", "GROUP", "GROUP_POOL", Whole;
        [Listable, HasQuota]
    /// Hosts (`HOST`).
    Host, host: "host", "host", "hostpool", "HOST", "HOST_POOL", Whole;
        [Listable, Renamable]
    /// Clusters (`CLUSTER`).
    Cluster, cluster: "cluster", "cluster", "clusterpool", "CLUSTER", "CLUSTER_POOL", Whole;
        [Listable, Renamable]
    /// Datastores (`DATASTORE`).
    Datastore, datastore: "datastore", "datastore", "datastorepool", "DATASTORE",
        "DATASTORE_POOL", Whole; [Listable, Renamable, Owned, Enableable]
    /// Images (`IMAGE`).
    Image, image: "image", "image", "imagepool", "IMAGE", "IMAGE_POOL", Filtered;
        [Listable, Renamable, Owned, Lockable, Enableable]
    /// Virtual networks (`VNET`).
    Vnet, vnet: "virtual network", "vn", "vnpool", "VNET", "VNET_POOL", Filtered;
        [Listable, Renamable, Owned, Lockable]
    /// Virtual network templates (`VNTEMPLATE`).
    VnTemplate, vntemplate: "network template", "vntemplate", "vntemplatepool", "VNTEMPLATE",
        "VNTEMPLATE_POOL", Filtered;
        [Listable, Renamable, Owned, Lockable, TemplateAllocate, Clonable]
    /// Security groups (`SECURITY_GROUP`).
    SecGroup, secgroup: "security group", "secgroup", "secgrouppool", "SECURITY_GROUP",
        "SECURITY_GROUP_POOL", Filtered;
        [Listable, Renamable, Owned, TemplateAllocate, Clonable]
    /// Generic documents (`DOCUMENT`); their pool is listed per document type.
    Document, document: "document", "document", "documentpool", "DOCUMENT", "DOCUMENT_POOL",
        Typed; [Renamable, Owned, Lockable, Clonable]
    /// Virtual machines (`VM`); their pool is also filtered by state.
    Vm, vm: "virtual machine", "vm", "vmpool", "VM", "VM_POOL", Stated;
        [Listable, Renamable, Owned, Lockable]
    /// VM templates (`VMTEMPLATE`).
    VmTemplate, template: "template", "template", "templatepool", "VMTEMPLATE",
        "VMTEMPLATE_POOL", Filtered;
        [Listable, Renamable, Owned, Lockable, TemplateAllocate, Clonable]
    /// VM groups (`VM_GROUP`): roles of VMs with affinity rules.
    VmGroup, vmgroup: "VM group", "vmgroup", "vmgrouppool", "VM_GROUP", "VM_GROUP_POOL",
        Filtered; [Listable, Renamable, Owned, Lockable, TemplateAllocate]
    /// Zones (`ZONE`).
    Zone, zone: "zone", "zone", "zonepool", "ZONE", "ZONE_POOL", Whole;
        [Listable, Renamable, TemplateAllocate, Enableable]
}

impl Client {
    /// ACL rules (`one.acl.*`).
    pub fn acl(&self) -> Acl<'_> {
        Acl::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_follow_the_table() {
        assert_eq!(Resource::<'_, Vnet>::method("info"), "one.vn.info");
        assert_eq!(
            Resource::<'_, SecGroup>::method("clone"),
            "one.secgroup.clone"
        );
        assert_eq!(<Document as Noun>::KIND.pool, PoolShape::Typed);
        assert_eq!(<User as Noun>::KIND.pool_element, "USER_POOL");
        assert_eq!(
            Resource::<'_, VmTemplate>::method("info"),
            "one.template.info"
        );
        assert_eq!(<VmGroup as Noun>::KIND.element, "VM_GROUP");
    }
}
