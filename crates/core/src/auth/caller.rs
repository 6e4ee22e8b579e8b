//! The authenticated caller of a request.

use std::collections::BTreeSet;

use nubo_types::{ONEADMIN_GID, ONEADMIN_UID, Oid};

/// An authenticated user, as one request sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub uid: Oid,
    /// Effective primary group.
    pub gid: Oid,
    /// User name.
    pub uname: String,
    /// Primary group name.
    pub gname: String,
    /// Groups whose rights the session carries (only the EGID for a group-scoped token).
    pub groups: BTreeSet<Oid>,
}

impl Caller {
    /// Whether the caller is oneadmin or in the oneadmin group: such callers pass every check.
    pub fn is_admin(&self) -> bool {
        self.uid == ONEADMIN_UID || self.groups.contains(&ONEADMIN_GID)
    }

    /// Whether the caller is in group `gid`.
    pub fn in_group(&self, gid: Oid) -> bool {
        self.groups.contains(&gid)
    }
}
