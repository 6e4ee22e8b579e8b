//! Verbs of virtual networks, their templates and security groups beyond the generic ones:
//! address ranges, leases, reservations, instantiation and rule commits.

use nubo_xmlrpc::Value;

use super::{SecGroup, VnTemplate, Vnet};
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, Vnet> {
    /// `vn.allocate(tmpl, cluster)`: cluster -1 means the default cluster. Returns the id.
    pub fn allocate(&self, template: &str, cluster: i32) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(template), Value::Int(cluster)])
    }

    /// `vn.add_ar(id, "AR=[…]")`.
    pub fn add_ar(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("add_ar", id, vec![Value::from(template)])
    }

    /// `vn.rm_ar(id, ar)`.
    pub fn rm_ar(&self, id: i32, ar: i32) -> Result<(), ClientError> {
        self.act("rm_ar", id, vec![Value::Int(ar)])
    }

    /// `vn.update_ar(id, "AR=[AR_ID=…, …]")`.
    pub fn update_ar(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("update_ar", id, vec![Value::from(template)])
    }

    /// `vn.free_ar(id, ar)`: releases every lease of the range.
    pub fn free_ar(&self, id: i32, ar: i32) -> Result<(), ClientError> {
        self.act("free_ar", id, vec![Value::Int(ar)])
    }

    /// `vn.hold(id, "LEASES=[IP=…]")`: keeps an address from being leased.
    pub fn hold(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("hold", id, vec![Value::from(template)])
    }

    /// `vn.release(id, "LEASES=[IP=…]")`: gives a held address back.
    pub fn release(&self, id: i32, template: &str) -> Result<(), ClientError> {
        self.act("release", id, vec![Value::from(template)])
    }

    /// `vn.reserve(id, "SIZE=…, NAME=…")`: reserves addresses into a new or existing
    /// network. Returns that network's id.
    pub fn reserve(&self, id: i32, template: &str) -> Result<i32, ClientError> {
        self.call_id("reserve", vec![Value::Int(id), Value::from(template)])
    }
}

impl Resource<'_, VnTemplate> {
    /// `vntemplate.instantiate(id, name, extra)`: creates a network. Returns its id.
    pub fn instantiate(&self, id: i32, name: &str, extra: &str) -> Result<i32, ClientError> {
        self.call_id(
            "instantiate",
            vec![Value::Int(id), Value::from(name), Value::from(extra)],
        )
    }
}

impl Resource<'_, SecGroup> {
    /// `secgroup.commit(id, outdated_only)`: pushes the rules to the VMs using the group.
    pub fn commit(&self, id: i32, outdated_only: bool) -> Result<(), ClientError> {
        self.act("commit", id, vec![Value::Bool(outdated_only)])
    }
}
