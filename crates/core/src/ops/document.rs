//! Document operations: allocate, delete, clone, and the pool listing filtered by type.
//! Documents are owned templates with an application-defined type number (OneFlow keeps
//! its services in them); their names need not be unique.

use std::sync::Arc;

use nubo_template::Template;
use nubo_types::{AuthOp, Error, ObjectKind, Oid, Result};

use super::generic::{check_name, fetch_for, parse_template};
use super::owner::new_meta;
use super::pool::list;
use crate::auth::{Caller, authorize_create};
use crate::model::Document;
use crate::tx::Tx;
use crate::{Core, PoolFilter};

/// Longest document name.
const MAX_NAME_LEN: usize = 128;

fn alloc(message: impl Into<String>) -> Error {
    Error::allocate(ObjectKind::Document, message)
}

/// Stages a new document owned by `caller`; `name` None means `document-<id>`.
fn stage_new(
    tx: &mut Tx,
    caller: &Caller,
    name: Option<String>,
    doc_type: i32,
    template: Template,
) -> Result<Oid> {
    authorize_create(tx.state, caller, ObjectKind::Document)?;
    let id = tx.next_oid(ObjectKind::Document);
    let name = name.unwrap_or_else(|| format!("document-{id}"));
    if name.len() > MAX_NAME_LEN {
        return Err(alloc("NAME is too long; max length is 128 chars."));
    }
    check_name::<Document>(tx.state, &name, caller.uid, None).map_err(|e| alloc(e.to_string()))?;
    tx.put(Document {
        meta: new_meta(caller, id, name),
        doc_type,
        template,
    })?;
    Ok(id)
}

/// Keeps the objects of `items` that `filter`'s id range or page selects.
fn page<T: crate::model::PoolObject>(
    items: impl Iterator<Item = Arc<T>>,
    filter: PoolFilter,
) -> Vec<Arc<T>> {
    if filter.end < -1 {
        let offset = usize::try_from(filter.start.max(0)).unwrap_or(0);
        let limit = usize::try_from(filter.end.unsigned_abs()).unwrap_or(usize::MAX);
        return items.skip(offset).take(limit).collect();
    }
    items
        .filter(|o| {
            let id = o.oid();
            (filter.start < 0 || id >= filter.start) && (filter.end < 0 || id <= filter.end)
        })
        .collect()
}

impl Core {
    /// Creates a document of type `doc_type` from a template (NAME optional).
    pub async fn document_allocate(
        &self,
        caller: &Caller,
        text: &str,
        doc_type: i32,
    ) -> Result<Oid> {
        let mut template = parse_template(text).map_err(|e| Error::internal(e.to_string()))?;
        let name = template
            .remove("NAME")
            .into_iter()
            .find_map(|a| a.value.as_single().map(|v| v.trim().to_string()))
            .filter(|n| !n.is_empty());
        self.write(move |tx| stage_new(tx, caller, name, doc_type, template))
            .await
    }

    /// Deletes a document.
    pub async fn document_delete(&self, caller: &Caller, id: Oid) -> Result<Oid> {
        self.write(|tx| {
            fetch_for::<Document>(tx.state, caller, id, AuthOp::Manage)?;
            tx.delete::<Document>(id);
            Ok(id)
        })
        .await
    }

    /// Copies document `id` (template and type) as a new document `name` owned by the caller.
    pub async fn document_clone(&self, caller: &Caller, id: Oid, name: &str) -> Result<Oid> {
        let name = name.to_string();
        self.write(move |tx| {
            let src = fetch_for::<Document>(tx.state, caller, id, AuthOp::Use)?;
            stage_new(tx, caller, Some(name), src.doc_type, src.template.clone())
        })
        .await
    }

    /// The documents `filter` selects for the caller; `doc_type` -1 means any type.
    pub fn document_pool(
        &self,
        caller: &Caller,
        filter: PoolFilter,
        doc_type: i32,
    ) -> Result<Vec<Arc<Document>>> {
        let filter = filter.validate()?;
        let everything = PoolFilter {
            start: -1,
            end: -1,
            ..filter
        };
        self.read(|state| {
            let of_type = list::<Document>(state, caller, everything)
                .into_iter()
                .filter(|d| doc_type == -1 || d.doc_type == doc_type);
            Ok(page(of_type, filter))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Meta;

    fn doc(id: Oid) -> Arc<Document> {
        Arc::new(Document {
            meta: Meta::of_oneadmin(id, format!("d{id}"), Default::default()),
            doc_type: 0,
            template: Template::new(),
        })
    }

    #[test]
    fn pages_and_ranges() {
        let ids = |v: Vec<Arc<Document>>| v.iter().map(|d| d.meta.id).collect::<Vec<_>>();
        let all = || (0..10).map(doc);
        let f = |start, end| PoolFilter {
            filter: -2,
            start,
            end,
        };
        assert_eq!(ids(page(all(), f(-1, -1))).len(), 10);
        assert_eq!(ids(page(all(), f(3, 5))), vec![3, 4, 5]);
        assert_eq!(ids(page(all(), f(8, -1))), vec![8, 9]);
        assert_eq!(ids(page(all(), f(2, -3))), vec![2, 3, 4]);
    }
}
