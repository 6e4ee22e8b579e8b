//! `DOCUMENT` and `DOCUMENT_POOL`.

use std::sync::Arc;

use nubo_core::model::Document;

use super::common::{lock, owner_head, permissions, pool, template};
use crate::xml::Xml;

fn write(x: &mut Xml, d: &Document) {
    x.open("DOCUMENT");
    owner_head(x, &d.meta);
    x.num("TYPE", d.doc_type);
    permissions(x, d.meta.perms);
    lock(x, d.meta.lock.as_ref());
    template(x, "TEMPLATE", &d.template);
    x.close("DOCUMENT");
}

/// One document.
pub fn document(d: &Document) -> String {
    let mut x = Xml::new();
    write(&mut x, d);
    x.finish()
}

/// The document pool.
pub fn document_pool(items: &[Arc<Document>]) -> String {
    pool("DOCUMENT_POOL", items, write)
}
