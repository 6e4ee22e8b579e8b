//! Verbs of generic documents: documents carry an application-defined type, which both
//! creation and listing take.

use nubo_xmlrpc::Value;

use super::Document;
use crate::ClientError;
use crate::resource::{Filter, Resource};
use crate::xml::Element;

impl Resource<'_, Document> {
    /// `document.allocate(tmpl, type)`. Returns the new document's id.
    pub fn allocate(&self, template: &str, doc_type: i32) -> Result<i32, ClientError> {
        self.call_id(
            "allocate",
            vec![Value::from(template), Value::Int(doc_type)],
        )
    }

    /// `documentpool.info(filter, -1, -1, type)`: the documents of one type, as XML.
    pub fn pool_info_of_type(&self, filter: Filter, doc_type: i32) -> Result<String, ClientError> {
        self.pool_call(vec![
            Value::Int(filter.code()),
            Value::Int(-1),
            Value::Int(-1),
            Value::Int(doc_type),
        ])
    }

    /// The documents of one type, read into an [`Element`] tree.
    pub fn pool_tree_of_type(&self, filter: Filter, doc_type: i32) -> Result<Element, ClientError> {
        Ok(Element::parse(&self.pool_info_of_type(filter, doc_type)?)?)
    }
}
