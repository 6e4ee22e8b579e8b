//! Verbs of clusters and zones beyond the generic ones: creation and membership.

use nubo_xmlrpc::Value;

use super::Cluster;
use crate::ClientError;
use crate::resource::Resource;

/// What a cluster holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// A host.
    Host,
    /// A datastore.
    Datastore,
    /// A virtual network.
    Vnet,
}

impl Member {
    /// The suffix of the method names (`addhost`, `deldatastore`).
    fn suffix(self) -> &'static str {
        match self {
            Member::Host => "host",
            Member::Datastore => "datastore",
            Member::Vnet => "vnet",
        }
    }
}

impl Resource<'_, Cluster> {
    /// `cluster.allocate(name)`. Returns the new cluster's id.
    pub fn allocate(&self, name: &str) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(name)])
    }

    /// `cluster.add<member>(cid, oid)`: moves the object into the cluster.
    pub fn add(&self, cid: i32, member: Member, oid: i32) -> Result<(), ClientError> {
        self.act(
            &format!("add{}", member.suffix()),
            cid,
            vec![Value::Int(oid)],
        )
    }

    /// `cluster.del<member>(cid, oid)`: takes the object out of the cluster.
    pub fn del(&self, cid: i32, member: Member, oid: i32) -> Result<(), ClientError> {
        self.act(
            &format!("del{}", member.suffix()),
            cid,
            vec![Value::Int(oid)],
        )
    }
}
