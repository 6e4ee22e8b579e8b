//! Operations every kind shares: info, update, rename, chmod, chown, lock and unlock.

use std::sync::Arc;

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use crate::auth::{Caller, authorize};
use crate::model::{Lock, NameScope, Named, Owned, PoolObject, Templated};
use crate::state::State;
use crate::{Core, now};

/// Fails if `obj`'s lock blocks an operation needing `op`. OpenNebula 7.4 checks locks as
/// it authorizes (`AuthRequest::add_auth`): the oneadmin group is told `VM is locked. [5]`,
/// other users `Not authorized to perform MANAGE VM [5]`, both AUTHORIZATION failures.
pub fn check_lock<T: PoolObject>(obj: &T, caller: &Caller, op: AuthOp) -> Result<()> {
    let Some(lock) = obj.lock() else {
        return Ok(());
    };
    let blocked = match lock.level {
        2 => matches!(op, AuthOp::Manage | AuthOp::Admin),
        3 => op == AuthOp::Admin,
        _ => true,
    };
    if !blocked {
        return Ok(());
    }
    if caller.is_admin() {
        return Err(Error::Locked {
            uid: caller.uid,
            kind: T::KIND,
            id: obj.oid(),
        });
    }
    Err(Error::Authorization {
        uid: caller.uid,
        op: op.name().to_string(),
        object: format!("{} [{}]", T::KIND.acl_name(), obj.oid()),
    })
}

/// The word OpenNebula's pools use for a kind in `NAME is already taken by <word> <id>.`
/// (`ClusterPool::allocate`, `SecurityGroupPool::allocate`, ...): mostly the ACL name, a
/// few pools spell their own.
fn taken_by(kind: ObjectKind) -> &'static str {
    match kind {
        ObjectKind::SecGroup => "SecurityGroup",
        ObjectKind::VmGroup => "VMGroup",
        ObjectKind::VnTemplate => "VN TEMPLATE",
        ObjectKind::Zone => "Zone",
        ObjectKind::Vdc => "Vdc",
        ObjectKind::Hook => "Hook",
        ObjectKind::BackupJob => "BACKUP JOB",
        other => other.acl_name(),
    }
}

/// Authorizes `op` on object `id` and checks its lock; returns the object.
pub fn fetch_for<T: PoolObject>(
    state: &State,
    caller: &Caller,
    id: Oid,
    op: AuthOp,
) -> Result<Arc<T>> {
    let obj = state.get::<T>(id)?;
    authorize(state, caller, obj.as_ref(), op)?;
    check_lock(obj.as_ref(), caller, op)?;
    Ok(obj.clone())
}

/// Parses a template given over the API, mapping syntax errors to an API error.
pub fn parse_template(text: &str) -> Result<Template> {
    Template::parse(text).map_err(|e| Error::api(e.to_string()))
}

/// Checks a new name: not empty, no control characters, unique as the kind requires.
pub fn check_name<T: Named>(
    state: &State,
    name: &str,
    owner: Oid,
    except: Option<Oid>,
) -> Result<()> {
    if name.trim().is_empty() {
        return Err(Error::action("Invalid NAME, it cannot be empty"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        // PoolObjectSQL::name_is_valid names the first character it refuses.
        return Err(Error::action(format!(
            "Invalid NAME, char '{c}' is not allowed"
        )));
    }
    if name.len() > 128 {
        return Err(Error::action("Invalid NAME, max length is 128 chars"));
    }
    let clash = |o: &Arc<T>| {
        o.name() == name
            && Some(o.oid()) != except
            && match T::NAME_SCOPE {
                NameScope::Global => true,
                NameScope::PerOwner => o.uid() == owner,
                NameScope::Free => false,
            }
    };
    if let Some(other) = T::pool(state).values().find(|o| clash(o)) {
        if except.is_some() {
            // SharedAPI::rename's own wording.
            let kind = T::KIND.human_name();
            return Err(Error::action(format!(
                "{kind} cannot be renamed to {name} because it collides with {kind} {}",
                other.oid()
            )));
        }
        return Err(Error::action(format!(
            "NAME is already taken by {} {}.",
            taken_by(T::KIND),
            other.oid()
        )));
    }
    Ok(())
}

impl Core {
    /// The object `id`, if the caller may use it.
    pub fn info<T: PoolObject>(&self, caller: &Caller, id: Oid) -> Result<Arc<T>> {
        self.read(|state| {
            let obj = state.get::<T>(id)?;
            authorize(state, caller, obj.as_ref(), AuthOp::Use)?;
            Ok(obj.clone())
        })
    }

    /// Replaces (append = 0) or merges into (append = 1) the object's template.
    pub async fn update_template<T: Templated>(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: i32,
    ) -> Result<Oid> {
        self.update_template_with::<T>(caller, id, text, append, |_| Ok(()))
            .await
    }

    /// Like [`Core::update_template`], then lets the kind re-read or check its template
    /// (`after` may refuse the result, and then nothing changes).
    pub async fn update_template_with<T: Templated>(
        &self,
        caller: &Caller,
        id: Oid,
        text: &str,
        append: i32,
        after: impl FnOnce(&mut T) -> Result<()>,
    ) -> Result<Oid> {
        // SharedAPI::update's wording for both.
        let new = parse_template(text)
            .map_err(|e| Error::internal(format!("Cannot update template. {e}")))?;
        if !(0..=1).contains(&append) {
            return Err(Error::api("Wrong update type"));
        }
        let restricted = &self.config().restricted;
        self.write(|tx| {
            let mut obj = (*fetch_for::<T>(tx.state, caller, id, AuthOp::Manage)?).clone();
            let kind = obj.restricted_kind();
            if let Some(name) =
                kind.and_then(|k| restricted.refused(caller, k, &new, Some(obj.template())))
            {
                // SharedAPI::update on PoolObjectSQL::{replace,append}_template's refusal.
                return Err(Error::internal(if append == 1 {
                    format!(
                        "Cannot update template. User Template includes a restricted \
                         attribute {name}"
                    )
                } else {
                    format!("Cannot update template. Tried to change restricted attribute: {name}")
                }));
            }
            if append == 1 {
                obj.template_mut().merge(&new);
            } else {
                let mut new = new;
                if let Some(kind) = kind {
                    restricted.keep(caller, kind, &mut new, obj.template());
                }
                *obj.template_mut() = new;
            }
            after(&mut obj)?;
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }

    /// Checks that the caller may do `op` on object `id` (front ends ask before they act,
    /// so that a dry run answers what the real call would).
    pub fn authorize_op<T: PoolObject>(&self, caller: &Caller, id: Oid, op: AuthOp) -> Result<()> {
        self.read(|state| {
            let obj = state.get::<T>(id)?;
            authorize(state, caller, obj.as_ref(), op)
        })
    }

    /// Edits the object's template with `edit` in one write (the caller needs MANAGE):
    /// what `edit` changes is committed together, or nothing is when it fails.
    pub async fn edit_template<T: Templated, R: Send + 'static>(
        &self,
        caller: &Caller,
        id: Oid,
        edit: impl FnOnce(&mut Template) -> Result<R>,
    ) -> Result<R> {
        self.write(|tx| {
            let mut obj = (*fetch_for::<T>(tx.state, caller, id, AuthOp::Manage)?).clone();
            let out = edit(obj.template_mut())?;
            tx.put(obj)?;
            Ok(out)
        })
        .await
    }

    /// Renames the object.
    pub async fn rename<T: Named>(&self, caller: &Caller, id: Oid, name: &str) -> Result<Oid> {
        let name = name.to_string();
        self.write(move |tx| {
            let mut obj = (*fetch_for::<T>(tx.state, caller, id, AuthOp::Manage)?).clone();
            if obj.name() == name {
                // SharedAPI::rename: the same name is a success that changes nothing.
                return Ok(id);
            }
            check_name::<T>(tx.state, &name, obj.uid(), Some(id))?;
            obj.set_name(name);
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }

    /// Changes permission bits; -1 keeps a bit. Changing an ADMIN bit needs ADMIN.
    pub async fn chmod<T: Owned>(&self, caller: &Caller, id: Oid, bits: [i32; 9]) -> Result<Oid> {
        self.write(|tx| {
            // Setting an ADMIN bit to the value it has is no change and needs no ADMIN right.
            let current = tx.state.get::<T>(id)?.meta().perms.as_array();
            let needs_admin = [2, 5, 8]
                .iter()
                .any(|&i| bits[i] != -1 && (bits[i] == 1) != current[i]);
            let op = if needs_admin {
                AuthOp::Admin
            } else {
                AuthOp::Manage
            };
            let mut obj = (*fetch_for::<T>(tx.state, caller, id, op)?).clone();
            // SharedAPI::chmod answers a refused value INTERNAL.
            let perms = obj
                .meta()
                .perms
                .apply_chmod(bits)
                .map_err(Error::internal)?;
            obj.meta_mut().perms = perms;
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }

    /// Changes owner and/or group; -1 keeps each.
    pub async fn chown<T: Owned>(
        &self,
        caller: &Caller,
        id: Oid,
        uid: Oid,
        gid: Oid,
    ) -> Result<Oid> {
        self.write(|tx| {
            let state = tx.state;
            let mut obj = (*fetch_for::<T>(state, caller, id, AuthOp::Manage)?).clone();
            let uname = if uid >= 0 {
                let user = state.get::<crate::model::User>(uid)?;
                authorize(state, caller, user.as_ref(), AuthOp::Manage)?;
                Some(user.name.clone())
            } else if uid < -1 {
                return Err(Error::api(format!("Wrong user id {uid}")));
            } else {
                None
            };
            let gname = if gid >= 0 {
                let group = state.get::<crate::model::Group>(gid)?;
                authorize(state, caller, group.as_ref(), AuthOp::Use)?;
                Some(group.name.clone())
            } else if gid < -1 {
                return Err(Error::api(format!("Wrong group id {gid}")));
            } else {
                None
            };
            if T::KIND == ObjectKind::Image {
                let new_uid = if uid >= 0 { uid } else { obj.meta().uid };
                let new_gid = if gid >= 0 { gid } else { obj.meta().gid };
                super::image::move_image_quota(tx, id, new_uid, new_gid)?;
            }
            if T::KIND == ObjectKind::Vm {
                let new_uid = if uid >= 0 { uid } else { obj.meta().uid };
                let new_gid = if gid >= 0 { gid } else { obj.meta().gid };
                super::vm::move_quota(tx, id, new_uid, new_gid)?;
            }
            if let Some(name) = uname {
                obj.meta_mut().uid = uid;
                obj.meta_mut().uname = name;
            }
            if let Some(name) = gname {
                obj.meta_mut().gid = gid;
                obj.meta_mut().gname = name;
            }
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }

    /// Locks the object at `level` (1 USE, 2 MANAGE, 3 ADMIN, 4 ALL). With `test`, an
    /// object that is already locked is an error.
    pub async fn lock<T: Owned>(
        &self,
        caller: &Caller,
        id: Oid,
        level: i32,
        test: bool,
    ) -> Result<Oid> {
        let level = match level {
            1..=3 => level,
            4 => 1,
            _ => return Err(Error::action("Wrong lock level specified")),
        };
        self.write(|tx| {
            let obj = tx.state.get::<T>(id)?;
            authorize(tx.state, caller, obj.as_ref(), AuthOp::Manage)?;
            if test && let Some(lock) = obj.lock() {
                // PoolObjectSQL::test_lock_db answers the time the object was locked at.
                return Err(Error::action(lock.time.to_string()));
            }
            let mut obj = (**obj).clone();
            obj.meta_mut().lock = Some(Lock {
                level,
                owner: caller.uid,
                time: now(),
                req_id: 0,
            });
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }

    /// Unlocks the object. Only the locker or an administrator may.
    pub async fn unlock<T: Owned>(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            let obj = tx.state.get::<T>(id)?;
            authorize(tx.state, caller, obj.as_ref(), AuthOp::Manage)?;
            if let Some(lock) = obj.lock()
                && lock.owner != caller.uid
                && !caller.is_admin()
            {
                return Err(Error::action(
                    "Cannot unlock: Lock is owned by another user",
                ));
            }
            let mut obj = (**obj).clone();
            obj.meta_mut().lock = None;
            tx.put(obj)?;
            Ok(id)
        })
        .await
    }
}
