//! An ACL rule: who (user spec) may do what (rights) to which objects (resource spec), where
//! (zone spec). The 64-bit encodings are OpenNebula's.

use nubo_types::{ObjectKind, Oid};
use serde::{Deserialize, Serialize};

use super::PoolObject;
use crate::state::{Pool, State};

/// An ACL rule (`ACL` element).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRule {
    /// Rule id.
    pub id: Oid,
    /// User spec: id kind bits | id.
    pub user: u64,
    /// Resource spec: kind bits | id kind bits | id.
    pub resource: u64,
    /// Rights bits (USE, MANAGE, ADMIN, CREATE).
    pub rights: u64,
    /// Zone spec: id kind bits | id.
    pub zone: u64,
}

impl PoolObject for AclRule {
    const KIND: ObjectKind = ObjectKind::Acl;
    fn oid(&self) -> Oid {
        self.id
    }
    fn name(&self) -> &str {
        ""
    }
    fn uid(&self) -> Oid {
        -1
    }
    fn gid(&self) -> Oid {
        -1
    }
    fn pool(state: &State) -> &Pool<Self> {
        &state.acls
    }
    fn pool_mut(state: &mut State) -> &mut Pool<Self> {
        &mut state.acls
    }
}
