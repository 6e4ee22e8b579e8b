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
    /// What each put or delete replaced in `staged` (None: nothing was staged), oldest
    /// first, so that [`Tx::rollback_to`] can undo a step.
    journal: Vec<((ObjectKind, Oid), Option<Staged>)>,
}

/// A point in a transaction to come back to when a step inside it fails
/// ([`Tx::savepoint`], [`Tx::rollback_to`]).
#[derive(Debug, Clone)]
struct Savepoint {
    changes: usize,
    apply: usize,
    journal: usize,
    last_oids: HashMap<ObjectKind, Oid>,
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
            journal: Vec::new(),
        }
    }

    /// Marks the current point: a step that fails after it can be undone whole with
    /// [`Tx::rollback_to`] while the rest of the transaction goes on.
    fn savepoint(&self) -> Savepoint {
        Savepoint {
            changes: self.changes.len(),
            apply: self.apply.len(),
            journal: self.journal.len(),
            last_oids: self.last_oids.clone(),
        }
    }

    /// Undoes every put, delete, attribute and id handed out since `mark`.
    fn rollback_to(&mut self, mark: Savepoint) {
        self.changes.truncate(mark.changes);
        self.apply.truncate(mark.apply);
        while self.journal.len() > mark.journal {
            let Some((key, before)) = self.journal.pop() else {
                break;
            };
            match before {
                Some(staged) => self.staged.insert(key, staged),
                None => self.staged.remove(&key),
            };
        }
        self.last_oids = mark.last_oids;
    }

    /// Runs `step`; when it fails, undoes what it staged and returns its error.
    pub fn attempt<R>(&mut self, step: impl FnOnce(&mut Self) -> Result<R>) -> Result<R> {
        let mark = self.savepoint();
        let out = step(self);
        if out.is_err() {
            self.rollback_to(mark);
        }
        out
    }

    fn stage(&mut self, key: (ObjectKind, Oid), value: Staged) {
        let before = self.staged.insert(key, value);
        self.journal.push((key, before));
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
        self.stage(
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
        self.stage((T::KIND, id), None);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Zone;

    fn zone(id: Oid, name: &str) -> Zone {
        Zone {
            id,
            name: name.into(),
            state: nubo_types::states::ZoneState::Enabled,
            template: nubo_template::Template::default(),
            servers: Vec::new(),
        }
    }

    #[test]
    fn a_failed_step_leaves_nothing_staged() {
        let state = State::default();
        let mut tx = Tx::new(&state);
        tx.put(zone(1, "kept")).expect("put");
        let out: Result<()> = tx.attempt(|tx| {
            tx.put(zone(1, "changed"))?;
            tx.put(zone(2, "new"))?;
            tx.delete::<Zone>(1);
            let _ = tx.next_oid(ObjectKind::Zone);
            Err(Error::action("refused"))
        });
        assert!(out.is_err());
        assert_eq!(tx.get::<Zone>(1).expect("still staged").name, "kept");
        assert!(tx.get::<Zone>(2).is_err(), "the new object is gone");
        let ok = tx.attempt(|tx| tx.put(zone(3, "after")));
        assert!(ok.is_ok());
        let (changes, apply) = tx.finish();
        assert_eq!(changes.len(), 2, "the first put and the last: {changes:?}");
        assert_eq!(apply.len(), 2);
    }
}
