//! Authorization as OpenNebula does it: the oneadmin group passes; otherwise the object's
//! permission bits (owner, group, other), then the ACL rules, may grant the operation.

use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::Caller;
use super::acl::{Target, acl_allows};
use crate::model::PoolObject;
use crate::state::State;

/// Checks that `caller` may do `op` on `obj`.
pub fn authorize<T: PoolObject>(state: &State, caller: &Caller, obj: &T, op: AuthOp) -> Result<()> {
    authorize_kind(
        state,
        caller,
        &Target {
            kind: T::KIND,
            oid: Some(obj.oid()),
            gid: obj.gid(),
            clusters: obj.clusters(),
        },
        obj.uid(),
        obj.perms(),
        op,
    )
}

/// Checks `op` on an object described by its ACL facts, owner and permissions.
pub fn authorize_kind(
    state: &State,
    caller: &Caller,
    target: &Target,
    uid: Oid,
    perms: nubo_types::Permissions,
    op: AuthOp,
) -> Result<()> {
    if caller.is_admin() {
        return Ok(());
    }
    let by_perms = (uid == caller.uid && perms.owner_allows(op))
        || (caller.in_group(target.gid) && perms.group_allows(op))
        || perms.other_allows(op);
    // A user may read and manage its own account, and read the groups it belongs to.
    let own_user = target.kind == ObjectKind::User
        && target.oid == Some(caller.uid)
        && matches!(op, AuthOp::Use | AuthOp::Manage);
    let own_group = target.kind == ObjectKind::Group
        && target.oid.is_some_and(|g| caller.in_group(g))
        && op == AuthOp::Use;
    if by_perms
        || own_user
        || own_group
        || group_admin_allows(state, caller, target, op)
        || acl_allows(state, caller, target, op)
    {
        return Ok(());
    }
    Err(Error::Authorization {
        uid: caller.uid,
        op: op.name().to_string(),
        object: match target.oid {
            Some(id) => format!("{} [{id}]", target.kind.acl_name()),
            None => target.kind.acl_name().to_string(),
        },
    })
}

/// Group administrators manage their group, its users (fully) and the objects owned in the
/// group (use and manage), and may create users in it.
fn group_admin_allows(state: &State, caller: &Caller, target: &Target, op: AuthOp) -> bool {
    let administers = |gid: Oid| {
        state
            .groups
            .get(&gid)
            .is_some_and(|g| g.admins.contains(&caller.uid) && caller.in_group(gid))
    };
    match target.kind {
        ObjectKind::User => administers(target.gid),
        ObjectKind::Group => {
            target.oid.is_some_and(administers) && matches!(op, AuthOp::Use | AuthOp::Manage)
        }
        ObjectKind::Host | ObjectKind::Cluster | ObjectKind::Zone | ObjectKind::Acl => false,
        _ => {
            target.oid.is_some()
                && administers(target.gid)
                && matches!(op, AuthOp::Use | AuthOp::Manage)
        }
    }
}

/// Checks that `caller` may create objects of `kind` (in the caller's group).
pub fn authorize_create(state: &State, caller: &Caller, kind: ObjectKind) -> Result<()> {
    authorize_kind(
        state,
        caller,
        &Target {
            kind,
            oid: None,
            gid: caller.gid,
            clusters: Vec::new(),
        },
        -1,
        nubo_types::Permissions::default(),
        AuthOp::Create,
    )
}

/// Checks that `caller` may create objects of `kind` in `cluster`, as oned's
/// `SharedAPI::allocate_authorization` does for the allocates that take a cluster
/// (networks, datastores, hosts; -1 there means the default cluster): CREATE on the kind
/// and ADMIN on the cluster. When both are refused the message names both, as oned's
/// `AuthRequest` joins them (`Not authorized to perform CREATE NET; Not authorized to
/// perform ADMIN CLUSTER [0]`).
pub fn authorize_create_in(
    state: &State,
    caller: &Caller,
    kind: ObjectKind,
    cluster: &crate::model::Cluster,
) -> Result<()> {
    let create = authorize_create(state, caller, kind);
    let admin = authorize(state, caller, cluster, AuthOp::Admin);
    match (create, admin) {
        (
            Err(Error::Authorization { uid, op, object }),
            Err(Error::Authorization {
                op: op2,
                object: object2,
                ..
            }),
        ) => Err(Error::Authorization {
            uid,
            op,
            object: format!("{object}; Not authorized to perform {op2} {object2}"),
        }),
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// Whether `caller` may do `op` on `obj` (no error built).
pub fn may<T: PoolObject>(state: &State, caller: &Caller, obj: &T, op: AuthOp) -> bool {
    authorize(state, caller, obj, op).is_ok()
}
