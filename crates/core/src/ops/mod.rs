//! Every operation of the cloud, one module per kind of object, plus the generic ones.

pub mod acl;
pub mod address_range;
pub mod cluster;
pub mod datastore;
pub mod document;
pub mod ec2_keys;
pub mod generic;
pub mod group;
pub mod host;
pub mod host_access;
mod host_monitoring;
pub mod image;
pub mod image_download;
pub mod image_files;
pub mod owner;
pub mod pool;
pub mod quota;
pub mod secgroup;
pub(crate) mod secgroup_updates;
pub mod user;
pub mod vm;
pub mod vm_template;
mod vm_template_images;
pub mod vmgroup;
pub mod vnet;
pub mod vntemplate;
pub mod zone;
