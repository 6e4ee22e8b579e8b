//! Verbs of VM templates beyond the generic ones: instantiation, the extended view, and the
//! recursive forms of delete, clone and chmod (which reach the template's images too).

use nubo_xmlrpc::Value;

use super::VmTemplate;
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, VmTemplate> {
    /// `template.instantiate(id, name, hold, extra, persistent)`: creates a VM (an empty name
    /// lets the server choose; `persistent` gives it private copies of the images). Returns
    /// the VM's id.
    pub fn instantiate(
        &self,
        id: i32,
        name: &str,
        hold: bool,
        extra: &str,
        persistent: bool,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "instantiate",
            vec![
                Value::Int(id),
                Value::from(name),
                Value::Bool(hold),
                Value::from(extra),
                Value::Bool(persistent),
            ],
        )
    }

    /// `template.info(id, extended)`: with `extended`, the disks and NICs are filled in from
    /// their images and networks.
    pub fn info_extended(&self, id: i32, extended: bool) -> Result<String, ClientError> {
        self.client().call_string(
            &Self::method("info"),
            vec![Value::Int(id), Value::Bool(extended)],
        )
    }

    /// `template.delete(id, recursive)`: with `recursive`, the template's images go too.
    pub fn delete_recursive(&self, id: i32, recursive: bool) -> Result<(), ClientError> {
        self.act("delete", id, vec![Value::Bool(recursive)])
    }

    /// `template.clone(id, name, recursive)`: with `recursive`, the images are cloned too.
    /// Returns the copy's id.
    pub fn clone_recursive(
        &self,
        id: i32,
        name: &str,
        recursive: bool,
    ) -> Result<i32, ClientError> {
        self.call_id(
            "clone",
            vec![Value::Int(id), Value::from(name), Value::Bool(recursive)],
        )
    }

    /// `template.chmod(id, …9 bits, recursive)`: with `recursive`, the images too.
    pub fn chmod_recursive(
        &self,
        id: i32,
        bits: [i32; 9],
        recursive: bool,
    ) -> Result<(), ClientError> {
        let mut params: Vec<Value> = bits.into_iter().map(Value::Int).collect();
        params.push(Value::Bool(recursive));
        self.act("chmod", id, params)
    }
}
