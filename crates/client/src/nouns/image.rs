//! Verbs of images beyond the generic ones: registration, cloning, persistence and type.

use nubo_xmlrpc::Value;

use super::Image;
use crate::ClientError;
use crate::resource::Resource;

impl Resource<'_, Image> {
    /// `image.allocate(tmpl, ds)`: registers an image in datastore `ds`. Returns its id.
    pub fn allocate(&self, template: &str, datastore: i32) -> Result<i32, ClientError> {
        self.call_id(
            "allocate",
            vec![Value::from(template), Value::Int(datastore)],
        )
    }

    /// `image.clone(id, name, ds)`: copies an image (ds -1: into the same datastore).
    /// Returns the copy's id.
    pub fn clone_to(&self, id: i32, name: &str, datastore: i32) -> Result<i32, ClientError> {
        self.call_id(
            "clone",
            vec![Value::Int(id), Value::from(name), Value::Int(datastore)],
        )
    }

    /// `image.persistent(id, persistent)`.
    pub fn persistent(&self, id: i32, persistent: bool) -> Result<(), ClientError> {
        self.act("persistent", id, vec![Value::Bool(persistent)])
    }

    /// `image.chtype(id, type)`: type is a name such as `OS` or `DATABLOCK`.
    pub fn chtype(&self, id: i32, image_type: &str) -> Result<(), ClientError> {
        self.act("chtype", id, vec![Value::from(image_type)])
    }
}
