//! Every operation of the cloud, one module per kind of object, plus the generic ones.

pub mod acl;
pub mod cluster;
pub mod datastore;
pub mod generic;
pub mod group;
pub mod host;
pub mod owner;
pub mod pool;
pub mod quota;
pub mod user;
pub mod zone;
