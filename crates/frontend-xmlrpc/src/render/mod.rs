//! Objects rendered as OpenNebula's XML: elements in XSD order, numbers as numbers, user
//! strings in CDATA, templates sorted by attribute name.

mod acl;
mod cluster;
mod common;
mod datastore;
mod document;
mod group;
mod host;
mod image;
mod monitoring;
mod quota;
mod secgroup;
mod user;
mod vm;
mod vmgroup;
mod vnet;
mod vntemplate;
mod zone;

pub use acl::acl_pool;
pub use cluster::{cluster, cluster_pool};
pub use common::pool;
pub use datastore::{datastore, datastore_pool};
pub use document::{document, document_pool};
pub use group::{group, group_pool, group_quota_defaults};
pub use host::{host, host_pool};
pub use image::{image, image_pool};
pub use monitoring::{accounting, host_monitoring, showback, vm_console, vm_monitoring};
pub use secgroup::{secgroup, secgroup_pool};
pub use user::{ec2_key_new, ec2_keys, user, user_pool, user_quota_defaults};
pub use vm::{vm, vm_monitored, vm_pool, vm_pool_extended, vm_template, vm_template_pool};
pub use vmgroup::{vmgroup, vmgroup_pool};
pub use vnet::{vnet, vnet_pool};
pub use vntemplate::{vntemplate, vntemplate_pool};
pub use zone::{raft_status, zone, zone_pool};
