//! Nubo's shared vocabulary: the kinds of objects the cloud holds, OpenNebula's numeric codes
//! for their states and types, permission bits, ACL constants and the public [`Error`] that
//! every front end maps onto its own wire form.

mod error;
mod kind;
mod permissions;
pub mod states;

pub use error::{Error, ErrorCode, Result};
pub use kind::ObjectKind;
pub use permissions::{AuthOp, Permissions};

/// An object id as OpenNebula's wire sees it (a signed 32-bit integer; -1 means "none").
pub type Oid = i32;

/// The oneadmin user's id.
pub const ONEADMIN_UID: Oid = 0;
/// The serveradmin user's id.
pub const SERVERADMIN_UID: Oid = 1;
/// The oneadmin group's id.
pub const ONEADMIN_GID: Oid = 0;
/// The users group's id.
pub const USERS_GID: Oid = 1;

/// ACL bit masks, exactly as OpenNebula's `AclRule` defines them.
pub mod acl {
    /// The id part of a user or resource spec: an individual id.
    pub const INDIVIDUAL_ID: u64 = 0x0000_0001_0000_0000;
    /// The id part: a group id (`@gid`).
    pub const GROUP_ID: u64 = 0x0000_0002_0000_0000;
    /// The id part: everyone / every object (`*`).
    pub const ALL_ID: u64 = 0x0000_0004_0000_0000;
    /// The id part: a cluster id (`%cid`).
    pub const CLUSTER_ID: u64 = 0x0000_0008_0000_0000;
    /// Mask of the four id-kind bits.
    pub const ID_KIND_MASK: u64 = 0x0000_000F_0000_0000;
    /// Mask of the 32-bit id value.
    pub const ID_VALUE_MASK: u64 = 0x0000_0000_FFFF_FFFF;
    /// Mask of the resource-kind bits.
    pub const RESOURCE_MASK: u64 = 0xFFFF_FFF0_0000_0000;

    /// Right: USE.
    pub const USE: u64 = 0x1;
    /// Right: MANAGE.
    pub const MANAGE: u64 = 0x2;
    /// Right: ADMIN.
    pub const ADMIN: u64 = 0x4;
    /// Right: CREATE.
    pub const CREATE: u64 = 0x8;
}
