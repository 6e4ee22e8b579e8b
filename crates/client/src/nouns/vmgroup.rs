//! Verbs of VM groups beyond the generic ones: their roles.

use nubo_xmlrpc::Value;

use super::VmGroup;
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, VmGroup> {
    /// `vmgroup.roleadd(id, "ROLE=[NAME=…, POLICY=…]")`.
    pub fn role_add(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("roleadd", id, vec![Value::from(template)])
    }

    /// `vmgroup.roledelete(id, role)`.
    pub fn role_delete(&self, id: i32, role: i32) -> Result<(), ClientError> {
        self.act("roledelete", id, vec![Value::Int(role)])
    }

    /// `vmgroup.roleupdate(id, role, "ROLE=[…]")`.
    pub fn role_update(&self, id: i32, role: i32, template: &str) -> Result<(), ClientError> {
        self.act(
            "roleupdate",
            id,
            vec![Value::Int(role), Value::from(template)],
        )
    }
}
