//! `one.system.*`: version and configuration.

use nubo_core::Core;

use super::common::{auth, xml};
use crate::params::{CallResult, Params};
use crate::xml::Xml;

/// The OpenNebula version Nubo answers as (opennebula-cli accepts only 7.0 and 7.4).
pub const VERSION: &str = "7.4.0";

/// Handles a system call; None if the verb is unknown.
pub async fn call(core: &Core, verb: &str, p: &Params) -> Option<CallResult> {
    Some(match verb {
        "version" => version(core, p),
        "config" => config(core, p),
        _ => return None,
    })
}

fn version(core: &Core, p: &Params) -> CallResult {
    auth(core, p)?;
    Ok(nubo_xmlrpc::Value::String(VERSION.into()))
}

/// The settings clients read, in XSD order. No secrets are part of it.
fn config(core: &Core, p: &Params) -> CallResult {
    auth(core, p)?;
    let restricted = &core.config().restricted;
    let mut x = Xml::new();
    x.open("OPENNEBULA_CONFIGURATION")
        .cdata("API_LIST_ORDER", "ASC")
        .cdata("DEFAULT_AUTH", "core")
        .cdata("DEFAULT_DEVICE_PREFIX", "vd")
        .cdata("DEFAULT_IMAGE_TYPE", "OS")
        .cdata("DEFAULT_UMASK", "177");
    for name in &restricted.image {
        x.cdata("IMAGE_RESTRICTED_ATTR", name);
    }
    x.cdata("MAC_PREFIX", "02:00")
        .num("MESSAGE_SIZE", crate::server::DEFAULT_BODY_LIMIT)
        .num("PORT", 2633)
        .num("SESSION_EXPIRATION_TIME", 900)
        .num("TIMEOUT", 15);
    for name in &restricted.vm {
        x.cdata("VM_RESTRICTED_ATTR", name);
    }
    for name in &restricted.vnet {
        x.cdata("VNET_RESTRICTED_ATTR", name);
    }
    x.close("OPENNEBULA_CONFIGURATION");
    xml(x.finish())
}
