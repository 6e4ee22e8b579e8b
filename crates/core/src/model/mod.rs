//! The objects the cloud holds, as the core keeps them in memory and the store keeps them on
//! disk (serialised as JSON bodies). Each type mirrors its OpenNebula XML element, so the
//! XML-RPC front end can render it field by field.

mod acl_rule;
mod address_range;
mod cluster;
mod datastore;
mod document;
mod group;
mod host;
mod image;
mod leases;
mod quota;
mod secgroup;
mod sizes;
mod traits;
mod user;
mod vm;
mod vm_template;
mod vmgroup;
mod vnet;
mod vntemplate;
mod zone;

pub use acl_rule::AclRule;
pub use address_range::{AddressRange, ArType, Lease, LeaseOwner, format_mac, parse_mac};
pub use cluster::Cluster;
pub use datastore::Datastore;
pub use document::Document;
pub use group::{Group, VlanRule};
pub use host::{Host, HostShare, UsageOverflow};
pub use image::{Image, ImageSnapshot};
pub use leases::{LeaseRun, Leases};
pub use quota::{QuotaEntry, QuotaKind, Quotas, format_quota_value};
pub use secgroup::SecGroup;
pub use sizes::{
    Amount, Cpu, MAX_HOST_CPU, MAX_HOST_MEMORY_KB, MAX_MEMORY_MB, MAX_VCPU, NotAnAmount, SizeError,
    parse_memory_mb, parse_vcpu,
};
pub use traits::{NameScope, Named, Templated};
pub use user::{Ec2Key, LoginToken, User};
pub use vm::{DiskSnapshots, History, PendingChange, Vm, VmOrigin};
pub use vm_template::VmTemplate;
pub use vmgroup::{RolePolicy, VmGroup, VmGroupRole, split_names};
pub use vnet::Vnet;
pub use vntemplate::VnTemplate;
pub use zone::{Zone, ZoneServer};

use nubo_types::{ObjectKind, Oid, Permissions};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::state::{Pool, State};

/// Ownership, permissions and lock shared by every owned object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Object id.
    pub id: Oid,
    /// Object name.
    pub name: String,
    /// Owner user id.
    pub uid: Oid,
    /// Owner group id.
    pub gid: Oid,
    /// Owner user name.
    pub uname: String,
    /// Owner group name.
    pub gname: String,
    /// Permission bits.
    pub perms: Permissions,
    /// The lock, while the object is locked.
    pub lock: Option<Lock>,
}

impl Meta {
    /// Ownership by oneadmin (user 0, group 0), unlocked: the objects the cloud is born with.
    pub fn of_oneadmin(id: Oid, name: impl Into<String>, perms: Permissions) -> Meta {
        Meta {
            id,
            name: name.into(),
            uid: 0,
            gid: 0,
            uname: "oneadmin".into(),
            gname: "oneadmin".into(),
            perms,
            lock: None,
        }
    }
}

/// An object lock (`LOCK` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// Level: 1 USE, 2 MANAGE, 3 ADMIN, 4 ALL.
    pub level: i32,
    /// The user who locked it.
    pub owner: Oid,
    /// When, in epoch seconds.
    pub time: i64,
    /// The request id (always 0 here).
    pub req_id: i32,
}

/// What every pool object tells the generic machinery (auth, filters, persistence).
pub trait PoolObject: Clone + Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The object's kind.
    const KIND: ObjectKind;
    /// The object id.
    fn oid(&self) -> Oid;
    /// The object name.
    fn name(&self) -> &str;
    /// Owner uid (-1 when the kind has no owner).
    fn uid(&self) -> Oid;
    /// Owner gid (-1 when the kind has no owner).
    fn gid(&self) -> Oid;
    /// Permission bits (none for kinds without permissions).
    fn perms(&self) -> Permissions {
        Permissions::default()
    }
    /// The lock, if the kind supports locks and the object is locked.
    fn lock(&self) -> Option<&Lock> {
        None
    }
    /// Clusters the object belongs to (for `%cid` ACL rules).
    fn clusters(&self) -> Vec<Oid> {
        Vec::new()
    }
    /// This kind's pool in the state.
    fn pool(state: &State) -> &Pool<Self>;
    /// This kind's pool in the state, mutably.
    fn pool_mut(state: &mut State) -> &mut Pool<Self>;
}

/// Implements [`PoolObject`] for a type with a `meta: Meta` field.
macro_rules! owned_object {
    ($ty:ty, $kind:expr, $pool:ident) => {
        $crate::model::owned_object!($ty, $kind, $pool, |_o| Vec::new());
    };
    ($ty:ty, $kind:expr, $pool:ident, clusters) => {
        $crate::model::owned_object!($ty, $kind, $pool, |o| o.clusters.iter().copied().collect());
    };
    ($ty:ty, $kind:expr, $pool:ident, $clusters:expr) => {
        impl $crate::model::PoolObject for $ty {
            const KIND: nubo_types::ObjectKind = $kind;
            fn oid(&self) -> nubo_types::Oid {
                self.meta.id
            }
            fn name(&self) -> &str {
                &self.meta.name
            }
            fn uid(&self) -> nubo_types::Oid {
                self.meta.uid
            }
            fn gid(&self) -> nubo_types::Oid {
                self.meta.gid
            }
            fn perms(&self) -> nubo_types::Permissions {
                self.meta.perms
            }
            fn lock(&self) -> Option<&$crate::model::Lock> {
                self.meta.lock.as_ref()
            }
            fn clusters(&self) -> Vec<nubo_types::Oid> {
                let f: fn(&Self) -> Vec<nubo_types::Oid> = $clusters;
                f(self)
            }
            fn pool(state: &$crate::state::State) -> &$crate::state::Pool<Self> {
                &state.$pool
            }
            fn pool_mut(state: &mut $crate::state::State) -> &mut $crate::state::Pool<Self> {
                &mut state.$pool
            }
        }
    };
}
pub(crate) use owned_object;

/// Access to the `meta` of owned objects, for the generic chmod/chown/rename/lock operations.
pub trait Owned: PoolObject {
    /// The shared metadata.
    fn meta(&self) -> &Meta;
    /// The shared metadata, mutably.
    fn meta_mut(&mut self) -> &mut Meta;
}

macro_rules! owned_meta {
    ($($ty:ty),+) => {$(
        impl $crate::model::Owned for $ty {
            fn meta(&self) -> &$crate::model::Meta { &self.meta }
            fn meta_mut(&mut self) -> &mut $crate::model::Meta { &mut self.meta }
        }
    )+};
}
owned_meta!(
    Datastore, Document, Image, SecGroup, Vm, VmTemplate, Vnet, VnTemplate
);
