//! Nubo's shared vocabulary: the kinds of objects the cloud holds, OpenNebula's numeric codes
//! for their states and types, permission bits, ACL constants and the public [`Error`] that
//! every front end maps onto its own wire form.

pub mod acl;
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
