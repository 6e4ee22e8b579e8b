//! Method handlers, one module per object kind: each authenticates, reads its parameters,
//! calls the core and renders the answer. No business rules live here.

pub mod acl;
pub mod cluster;
pub mod common;
pub mod datastore;
pub mod document;
pub mod group;
pub mod host;
pub mod image;
pub mod methods;
pub mod secgroup;
pub mod system;
pub mod user;
pub mod vm;
mod vm_changes;
pub mod vmgroup;
pub mod vnet;
pub mod vntemplate;
pub mod zone;

use nubo_core::Core;
use nubo_xmlrpc::fault;

use crate::params::{CallError, CallResult, Params};

/// Routes `one.<object>.<verb>` to its handler, if the method is in [`methods::METHODS`].
pub async fn dispatch(core: &Core, method: &str, p: &Params) -> CallResult {
    let unknown = || {
        Err(CallError::Fault(
            fault::NO_METHOD,
            format!("Unknown method: {method}"),
        ))
    };
    if !methods::is_served(method) {
        return unknown();
    }
    let Some(rest) = method.strip_prefix("one.") else {
        return unknown();
    };
    let (object, verb) = rest.split_once('.').unwrap_or((rest, ""));
    let outcome = match object {
        "user" | "userpool" | "userquota" => user::call(core, object, verb, p).await,
        "group" | "grouppool" | "groupquota" => group::call(core, object, verb, p).await,
        "acl" => acl::call(core, verb, p).await,
        "host" | "hostpool" => host::call(core, object, verb, p).await,
        "cluster" | "clusterpool" => cluster::call(core, object, verb, p).await,
        "datastore" | "datastorepool" => datastore::call(core, object, verb, p).await,
        "zone" | "zonepool" => zone::call(core, object, verb, p).await,
        "vn" | "vnpool" => vnet::call(core, object, verb, p).await,
        "vntemplate" | "vntemplatepool" => vntemplate::call(core, object, verb, p).await,
        "secgroup" | "secgrouppool" => secgroup::call(core, object, verb, p).await,
        "image" | "imagepool" => image::call(core, object, verb, p).await,
        "document" | "documentpool" => document::call(core, object, verb, p).await,
        "vmgroup" | "vmgrouppool" => vmgroup::call(core, object, verb, p).await,
        "vm" if verb.starts_with("vmgroup") => vmgroup::call(core, object, verb, p).await,
        "vm" | "vmpool" | "template" | "templatepool" => vm::call(core, object, verb, p).await,
        "system" => system::call(core, verb, p).await,
        _ => None,
    };
    outcome.unwrap_or_else(unknown)
}
