//! A VM template: a stored VM definition that users instantiate.

use nubo_template::Template;
use nubo_types::ObjectKind;
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// A VM template (`VMTEMPLATE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmTemplate {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// Registration time (epoch seconds).
    pub regtime: i64,
    /// The VM definition.
    pub template: Template,
}

owned_object!(VmTemplate, ObjectKind::Template, templates);
