//! A generic document: an owned template with a type number, used by OneFlow and others.

use nubo_template::Template;
use nubo_types::ObjectKind;
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// A document (`DOCUMENT` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// Application-defined type.
    pub doc_type: i32,
    /// Body.
    pub template: Template,
}

owned_object!(Document, ObjectKind::Document, documents);
