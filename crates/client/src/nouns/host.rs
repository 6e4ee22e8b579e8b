//! Verbs of hosts and datastores beyond the generic ones: creation and host status.

use nubo_xmlrpc::Value;

use super::{Datastore, Host};
use crate::ClientError;
use crate::resource::Resource;

/// The state `host.status` puts a host in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    /// Monitored and used for new VMs (0).
    Enabled,
    /// Monitored, but no new VMs (1).
    Disabled,
    /// Neither monitored nor used (2).
    Offline,
}

impl Resource<'_, Host> {
    /// `host.allocate(name, im_mad, vm_mad, cluster)`: cluster -1 means the default cluster.
    /// Returns the new host's id.
    pub fn allocate(
        &self,
        name: &str,
        im_mad: &str,
        vm_mad: &str,
        cluster: i32,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "allocate",
            vec![
                Value::from(name),
                Value::from(im_mad),
                Value::from(vm_mad),
                Value::Int(cluster),
            ],
        )
    }

    /// `host.status(id, status)`.
    pub fn status(&self, id: i32, status: HostStatus) -> Result<(), ClientError> {
        let code = match status {
            HostStatus::Enabled => 0,
            HostStatus::Disabled => 1,
            HostStatus::Offline => 2,
        };
        self.act("status", id, vec![Value::Int(code)])
    }
}

impl Resource<'_, Datastore> {
    /// `datastore.allocate(tmpl, cluster)`: cluster -1 means the default cluster. Returns the
    /// new datastore's id.
    pub fn allocate(&self, template: &str, cluster: i32) -> Result<i32, ClientError> {
        self.call_id("allocate", vec![Value::from(template), Value::Int(cluster)])
    }
}
