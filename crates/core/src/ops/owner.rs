//! Ownership of new objects: the caller owns them, in the caller's group, with the
//! permissions left by the umask (OpenNebula's default 177 gives 600).

use nubo_types::{Oid, Permissions};

use crate::auth::Caller;
use crate::model::Meta;

/// The default umask.
pub const DEFAULT_UMASK: u32 = 0o177;

/// Metadata for a new object `id` named `name`, owned by `caller`.
pub fn new_meta(caller: &Caller, id: Oid, name: impl Into<String>) -> Meta {
    Meta {
        id,
        name: name.into(),
        uid: caller.uid,
        gid: caller.gid,
        uname: caller.uname.clone(),
        gname: caller.gname.clone(),
        perms: Permissions::from_umask(DEFAULT_UMASK),
        lock: None,
    }
}
