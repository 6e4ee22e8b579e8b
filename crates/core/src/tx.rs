//! The write path. An operation stages its changes in a [`Tx`] against a consistent view of
//! the state; [`crate::Core::write`] commits them to the store in one transaction and only
//! then applies them to memory. Writers are serialised, so no update is lost.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use nubo_store::{Change, Row};
use nubo_types::{Error, ObjectKind, Oid, Result};

use crate::model::PoolObject;
use crate::state::State;

type Apply = Box<dyn FnOnce(&mut State) + Send>;
type Staged = Option<Arc<dyn Any + Send + Sync>>;

/// Staged changes of one operation.
pub struct Tx<'a> {
    /// The state as it was when the operation started.
    pub state: &'a State,
    changes: Vec<Change>,
    apply: Vec<Apply>,
    last_oids: HashMap<ObjectKind, Oid>,
    /// Objects put (Some) or deleted (None) so far, so that later steps read them.
    staged: HashMap<(ObjectKind, Oid), Staged>,
}

impl std::fmt::Debug for Tx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tx")
            .field("changes", &self.changes.len())
            .finish()
    }
}

impl<'a> Tx<'a> {
    /// A transaction over `state`.
    pub fn new(state: &'a State) -> Self {
        Tx {
            state,
            changes: Vec::new(),
            apply: Vec::new(),
            last_oids: HashMap::new(),
            staged: HashMap::new(),
        }
    }

    /// The object `id` of kind `T` as this transaction sees it: staged puts and deletes
    /// first, then the state.
    pub fn get<T: PoolObject>(&self, id: Oid) -> Result<Arc<T>> {
        match self.staged.get(&(T::KIND, id)) {
            Some(Some(obj)) => obj
                .clone()
                .downcast::<T>()
                .map_err(|_| Error::internal("a staged object has the wrong type")),
            Some(None) => Err(Error::no_exists(T::KIND, id)),
            None => self.state.get::<T>(id).cloned(),
        }
    }

    /// Like [`Tx::get`], but an owned copy to change and put back.
    pub fn get_mut<T: PoolObject>(&self, id: Oid) -> Result<T> {
        self.get::<T>(id).map(|o| (*o).clone())
    }

    /// Stages an insert or replacement of `obj`.
    pub fn put<T: PoolObject>(&mut self, obj: T) -> Result<()> {
        let body = serde_json::to_string(&obj)
            .map_err(|e| Error::internal(format!("cannot encode {}: {e}", T::KIND.acl_name())))?;
        let id = obj.oid();
        let obj = Arc::new(obj);
        self.staged.insert(
            (T::KIND, id),
            Some(obj.clone() as Arc<dyn Any + Send + Sync>),
        );
        self.changes.push(Change::Put(Row {
            kind: T::KIND,
            oid: id,
            name: obj.name().to_string(),
            uid: obj.uid(),
            gid: obj.gid(),
            body,
        }));
        self.apply.push(Box::new(move |state: &mut State| {
            T::pool_mut(state).insert(id, obj);
        }));
        Ok(())
    }

    /// Stages the deletion of object `id` of kind `T`.
    pub fn delete<T: PoolObject>(&mut self, id: Oid) {
        self.staged.insert((T::KIND, id), None);
        self.changes.push(Change::Delete {
            kind: T::KIND,
            oid: id,
        });
        self.apply.push(Box::new(move |state: &mut State| {
            T::pool_mut(state).remove(&id);
        }));
    }

    /// Stages a system attribute (a JSON body kept outside the object tables).
    pub fn set_attribute(
        &mut self,
        name: &'static str,
        value: &impl serde::Serialize,
        apply: impl FnOnce(&mut State) + Send + 'static,
    ) -> Result<()> {
        let body = serde_json::to_string(value)
            .map_err(|e| Error::internal(format!("cannot encode {name}: {e}")))?;
        self.changes.push(Change::Attribute {
            name: name.to_string(),
            body,
        });
        self.apply.push(Box::new(apply));
        Ok(())
    }

    /// Hands out the next id of `kind`, honouring the reserved range of bootstrap objects.
    pub fn next_oid(&mut self, kind: ObjectKind) -> Oid {
        let last = self
            .last_oids
            .get(&kind)
            .or_else(|| self.state.last_oids.get(&kind))
            .copied()
            .unwrap_or(-1);
        let next = (last + 1).max(kind.first_user_oid());
        self.set_last_oid(kind, next);
        next
    }

    /// Records `oid` as the last id handed out for `kind` (used by bootstrap).
    pub fn set_last_oid(&mut self, kind: ObjectKind, oid: Oid) {
        self.last_oids.insert(kind, oid);
    }

    /// The staged store changes and the matching in-memory updates.
    pub(crate) fn finish(self) -> (Vec<Change>, Vec<Apply>) {
        let Tx {
            mut changes,
            mut apply,
            last_oids,
            ..
        } = self;
        for (kind, last_oid) in last_oids {
            changes.push(Change::LastOid { kind, last_oid });
            apply.push(Box::new(move |state: &mut State| {
                state.last_oids.insert(kind, last_oid);
            }));
        }
        (changes, apply)
    }
}
