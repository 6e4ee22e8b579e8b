//! A virtual network template: a stored vnet definition that users instantiate.

use nubo_template::Template;
use nubo_types::ObjectKind;
use serde::{Deserialize, Serialize};

use super::{Meta, owned_object};

/// A virtual network template (`VNTEMPLATE` element).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VnTemplate {
    /// Id, name, owner, permissions, lock.
    pub meta: Meta,
    /// Registration time (epoch seconds).
    pub regtime: i64,
    /// The network definition.
    pub template: Template,
}

owned_object!(VnTemplate, ObjectKind::VnTemplate, vntemplates);
