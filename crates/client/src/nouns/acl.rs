//! ACL rules: `one.acl.addrule`, `delrule` and `info`. Rules are written in their text form
//! (`@1 VM+IMAGE/* CREATE *`) and sent as the four hex specs OpenNebula takes.

use nubo_xmlrpc::Value;

use crate::{Client, ClientError};

/// Calls on ACL rules.
#[derive(Debug, Clone, Copy)]
pub struct Acl<'c> {
    client: &'c Client,
}

impl<'c> Acl<'c> {
    /// Calls on ACL rules through `client`.
    pub fn new(client: &'c Client) -> Self {
        Acl { client }
    }

    /// `acl.addrule` with the four specs. Returns the rule's id.
    pub fn add(
        &self,
        user: u64,
        resource: u64,
        rights: u64,
        zone: u64,
    ) -> Result<i32, ClientError> {
        let hex = |spec: u64| Value::String(format!("{spec:x}"));
        self.client.call_id(
            "one.acl.addrule",
            vec![hex(user), hex(resource), hex(rights), hex(zone)],
        )
    }

    /// `acl.addrule` from the text form `USER RESOURCE RIGHTS [ZONE]` (zone `#0` when
    /// omitted); a rule that does not parse is refused before any call.
    pub fn add_text(&self, rule: &str) -> Result<i32, ClientError> {
        let (user, resource, rights, zone) =
            nubo_types::acl::parse_rule(rule).map_err(ClientError::AclRule)?;
        self.add(user, resource, rights, zone)
    }

    /// `acl.delrule(id)`.
    pub fn delete(&self, id: i32) -> Result<(), ClientError> {
        self.client
            .call("one.acl.delrule", vec![Value::Int(id)])
            .map(drop)
    }

    /// `acl.info()`: every rule, as `ACL_POOL` XML.
    pub fn info(&self) -> Result<String, ClientError> {
        self.client.call_string("one.acl.info", vec![])
    }
}
